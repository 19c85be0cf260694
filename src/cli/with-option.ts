/**
 * `--with LIST`: optional column groups a dataset is made with (comma list, the option may be repeated).
 * `resolution` adds B/R/Z_RESOLUTION (the coadd's resolution-matrix diagonals); `qso_qn`, `qso_mgii` and
 * `emline` name afterburner columns. Like --columns, what --with adds is part of the dataset's schema.
 */

/** The names --with accepts, in the order they are shown. */
export const WITH_NAMES = ['resolution', 'qso_qn', 'qso_mgii', 'emline'] as const;

export type WithName = (typeof WITH_NAMES)[number];

/** What --with asked for. */
export interface WithChoice {
  /** B_RESOLUTION, R_RESOLUTION, Z_RESOLUTION columns. */
  resolution: boolean;
  /** Afterburner column groups (qso_qn, qso_mgii, emline), each once, in WITH_NAMES order. */
  afterburners: string[];
}

/**
 * Parses --with: one value or the values of a repeated option, each a comma list (blanks trimmed, case kept:
 * the names are lower case). An empty or unknown name is a usage error (a plain Error) naming the valid
 * values; a name given twice counts once. Undefined (no --with) is the empty choice.
 */
export function parseWithOption(v: string | readonly string[] | undefined): WithChoice {
  const values = v === undefined ? [] : typeof v === 'string' ? [v] : v;
  const names = new Set<WithName>();
  for (const value of values) {
    for (const raw of value.split(',')) {
      const name = raw.trim();
      if (!(WITH_NAMES as readonly string[]).includes(name)) {
        const what = name === '' ? 'an empty name' : JSON.stringify(name);
        throw new Error(`--with ${JSON.stringify(value)}: ${what} is not a column group; use a comma list of ${WITH_NAMES.join(', ')}`);
      }
      names.add(name as WithName);
    }
  }
  return { resolution: names.has('resolution'), afterburners: WITH_NAMES.filter((n) => n !== 'resolution' && names.has(n)) };
}

/** The choice as one --with value (canonical order), or undefined when it is empty: for a forwarded command line. */
export function withOptionValue(w: WithChoice): string | undefined {
  const names = [...(w.resolution ? ['resolution'] : []), ...w.afterburners];
  return names.length > 0 ? names.join(',') : undefined;
}

/** The yargs definition of --with, shared by convert, plan and preflight. */
export const WITH_OPTION = {
  type: 'string',
  // Repeatable: every --with adds its names (an array option, so the repeated-option check lets it through).
  array: true,
  nargs: 1,
  describe: `extra column groups, comma list, repeatable: ${WITH_NAMES.join(', ')} (resolution: B/R/Z_RESOLUTION, about 3/4 of a coadd's bytes); part of the dataset`,
  coerce: (v: string | string[]) => parseWithOption(v),
} as const;
