/**
 * DR1's primary spectrum of each TARGETID (desispec `zcatalog.find_primary_spectra`, as iron's zall
 * catalogs ran it): among the rows of one TARGETID, a row with ZWARN == 0 beats one without, then the larger
 * TSNR2_LRG wins; the first is primary, and NSPEC is the number of rows. DESI leaves ties to the order of its
 * input; here they are broken by the rows' order as given, which the caller makes SURVEY, PROGRAM (both by
 * their code units), HEALPIX, then the row in its file: the order of DR1's zall inputs (zpix files sorted by
 * name, each in healpix order).
 *
 * Two departures from desispec's code, both where it has no meaning to keep: a missing or NaN TSNR2_LRG
 * ranks after every number (desispec sorts by 1/TSNR2_LRG, whose NaN numpy sorts last too), and values are
 * compared themselves, not their inverses (1/x sorts a negative TSNR2 first and can make two close values
 * equal; TSNR2 is never negative in DESI's files). A missing ZWARN counts as not 0.
 *
 * Three flavours, as in DR1: ZCAT_ over every row, MAIN_ over the rows of survey main, SV_ over sv1, sv2 and
 * sv3 (not cmx or special). A row outside a flavour has NSPEC 0 and PRIMARY false there.
 */

/** The ranking inputs, one entry per row, in tie-break order. */
export interface RankRows {
  targetid: BigInt64Array;
  /** 1 where ZWARN == 0 (a missing ZWARN is 0 here). */
  zwarnZero: Uint8Array;
  /** TSNR2_LRG; NaN where it is missing. */
  tsnr2Lrg: Float64Array;
}

export interface PrimaryFlags {
  nspec: Int16Array;
  /** 1 for the primary row of its TARGETID, 0 otherwise. */
  primary: Uint8Array;
}

/** The most rows one TARGETID may have: NSPEC is int16, as in DESI's catalogs. */
export const MAX_NSPEC = 32767;

/** Whether row a ranks before row b of the same TARGETID. */
function compareRank(rows: RankRows, a: number, b: number): number {
  const za = rows.zwarnZero[a];
  const zb = rows.zwarnZero[b];
  if (za !== zb) return zb - za;
  const ta = rows.tsnr2Lrg[a];
  const tb = rows.tsnr2Lrg[b];
  const na = Number.isNaN(ta);
  const nb = Number.isNaN(tb);
  if (na !== nb) return na ? 1 : -1;
  if (!na && ta !== tb) return ta > tb ? -1 : 1;
  return a - b;
}

/**
 * NSPEC and PRIMARY of the rows where `include` is 1 (every row when it is not given), ranked among the
 * included rows of the same TARGETID. Throws RangeError when a TARGETID has more than MAX_NSPEC rows.
 */
export function findPrimary(rows: RankRows, include?: Uint8Array): PrimaryFlags {
  const n = rows.targetid.length;
  if (rows.zwarnZero.length !== n || rows.tsnr2Lrg.length !== n || (include && include.length !== n))
    throw new RangeError('findPrimary: the columns have different lengths');
  const nspec = new Int16Array(n);
  const primary = new Uint8Array(n);
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (!include || include[i] === 1) order.push(i);
  const ids = rows.targetid;
  order.sort((a, b) => (ids[a] !== ids[b] ? (ids[a] < ids[b] ? -1 : 1) : compareRank(rows, a, b)));
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && ids[order[end]] === ids[order[start]]) end++;
    const count = end - start;
    if (count > MAX_NSPEC) throw new RangeError(`TARGETID ${ids[order[start]]} has ${count} spectra, more than NSPEC (int16) can count`);
    primary[order[start]] = 1;
    for (let k = start; k < end; k++) nspec[order[k]] = count;
    start = end;
  }
  return { nspec, primary };
}

/** The three flavours' names and which surveys' rows each ranks. */
export const FLAVOURS = [
  { prefix: 'ZCAT', includes: (_survey: string) => true },
  { prefix: 'MAIN', includes: (survey: string) => survey === 'main' },
  { prefix: 'SV', includes: (survey: string) => survey === 'sv1' || survey === 'sv2' || survey === 'sv3' },
] as const;

export type FlavourPrefix = (typeof FLAVOURS)[number]['prefix'];

/** Every flavour's flags for rows whose surveys are `survey` (one per row). */
export function primaryFlags(rows: RankRows, survey: readonly string[]): Map<FlavourPrefix, PrimaryFlags> {
  const out = new Map<FlavourPrefix, PrimaryFlags>();
  for (const f of FLAVOURS) {
    const include = Uint8Array.from(survey, (s) => (f.includes(s) ? 1 : 0));
    out.set(f.prefix, findPrimary(rows, include));
  }
  return out;
}
