/**
 * Which REDSHIFTS rows a run keeps. The default is the seed's cut, good quasars: SPECTYPE == 'QSO' and
 * ZWARN == 0. `--spectype` widens the classes (or `any`), `--keep-zwarn` drops the ZWARN cut and
 * `--min-deltachi2 X` adds DELTACHI2 > X (the DESI tutorials' extra cut).
 */
export interface Selection {
  /** Upper-case SPECTYPE values to keep, or 'any'. */
  spectypes: string[] | 'any';
  /** Keep only ZWARN == 0. */
  zwarnZero: boolean;
  /** Keep only DELTACHI2 > this, when set. */
  minDeltaChi2?: number;
}

export const DEFAULT_SELECTION: Selection = { spectypes: ['QSO'], zwarnZero: true };

/** Builds a Selection from CLI values; throws a usage error (plain Error) on nonsense. */
export function parseSelection(opts: { spectype?: string; keepZwarn?: boolean; minDeltachi2?: number }): Selection {
  let spectypes: string[] | 'any' = ['QSO'];
  if (opts.spectype !== undefined) {
    const raw = opts.spectype.trim();
    if (raw.toLowerCase() === 'any') spectypes = 'any';
    else {
      spectypes = [
        ...new Set(
          raw
            .split(',')
            .map((s) => s.trim().toUpperCase())
            .filter((s) => s.length > 0),
        ),
      ].sort();
      if (spectypes.length === 0) throw new Error(`--spectype ${JSON.stringify(opts.spectype)} names no class`);
      for (const s of spectypes) if (!/^[A-Z0-9_]{1,20}$/.test(s)) throw new Error(`--spectype: ${JSON.stringify(s)} is not a SPECTYPE value`);
    }
  }
  const sel: Selection = { spectypes, zwarnZero: !opts.keepZwarn };
  if (opts.minDeltachi2 !== undefined) {
    if (!Number.isFinite(opts.minDeltachi2)) throw new Error(`--min-deltachi2 must be a finite number`);
    sel.minDeltaChi2 = opts.minDeltachi2;
  }
  return sel;
}

/** A canonical, human-readable text of the selection: journaled, written to the footer, compared on resume. */
export function selectionText(sel: Selection): string {
  const parts: string[] = [];
  if (sel.spectypes !== 'any') {
    parts.push(sel.spectypes.length === 1 ? `SPECTYPE == '${sel.spectypes[0]}'` : `SPECTYPE in (${sel.spectypes.map((s) => `'${s}'`).join(', ')})`);
  }
  if (sel.zwarnZero) parts.push('ZWARN == 0');
  if (sel.minDeltaChi2 !== undefined) parts.push(`DELTACHI2 > ${sel.minDeltaChi2}`);
  return parts.length === 0 ? 'all rows' : parts.join(' and ');
}

/** The REDSHIFTS columns a selection needs to be evaluated. */
export function selectionColumns(sel: Selection): string[] {
  const cols = ['TARGETID'];
  if (sel.spectypes !== 'any') cols.push('SPECTYPE');
  if (sel.zwarnZero) cols.push('ZWARN');
  if (sel.minDeltaChi2 !== undefined) cols.push('DELTACHI2');
  return cols;
}
