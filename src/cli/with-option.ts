/**
 * `--with NAME[,NAME...]` (repeatable): optional column groups a dataset adds to any selection. `resolution`
 * adds the spectra's resolution matrices; `qso_qn`, `qso_mgii` and `emline` add the afterburners' columns
 * (desi/afterburner-columns.ts). The groups change the schema, so they are part of the dataset's identity.
 */

/** Every name --with takes, in the order the parsed afterburners are given back. */
export const WITH_NAMES = ['resolution', 'qso_qn', 'qso_mgii', 'emline'] as const;

export interface WithOption {
  /** --with resolution: B/R/Z_RESOLUTION of the selected rows. */
  resolution: boolean;
  /** The afterburner files whose columns are added (qso_qn, qso_mgii, emline), each once, in WITH_NAMES order. */
  afterburners: string[];
}

/**
 * Parses the values of --with (each a comma list; the option may be repeated). Names are case-insensitive;
 * a name given twice counts once; an empty or unknown name is a usage error (a plain Error) naming the valid ones.
 */
export function parseWith(values: readonly string[]): WithOption {
  const names = new Set<string>();
  for (const value of values) {
    for (const raw of value.split(',')) {
      const name = raw.trim().toLowerCase();
      if (!(WITH_NAMES as readonly string[]).includes(name)) {
        const what = name === '' ? 'an empty name' : JSON.stringify(raw.trim());
        throw new Error(`--with: ${what} is not a column group; valid values: ${WITH_NAMES.join(', ')} (comma-separated, or --with repeated)`);
      }
      names.add(name);
    }
  }
  return { resolution: names.has('resolution'), afterburners: WITH_NAMES.filter((n) => n !== 'resolution' && names.has(n)) };
}
