/**
 * A DESI healpix tile: one HEALPix pixel (nside 64, nested) of one survey and program, stored as a coadd and
 * a redrock file in `{survey}/{program}/{pixgroup}/{pixnum}/`, pixgroup = floor(pixnum / 100).
 */
export const HEALPIX_NSIDE = 64;
export const HEALPIX_PIXELS = 12 * HEALPIX_NSIDE * HEALPIX_NSIDE; // 49,152
export const SURVEYS = ['cmx', 'sv1', 'sv2', 'sv3', 'main', 'special'] as const;
export const PROGRAMS = ['dark', 'bright', 'backup', 'other'] as const;

/** One stored file of a tile, as discovered: where it is and what the storage says about it. */
export interface ObjectRef {
  /** Path of a local file, or the key of an object relative to the source root. */
  path: string;
  size: number;
  mtimeMs?: number;
  etag?: string;
}

export interface TileRef {
  survey: string;
  program: string;
  healpix: number;
  coadd?: ObjectRef;
  redrock?: ObjectRef;
}

/** The sizes of the tile's coadd and redrock files: what the seed's log calls the tile's FITS size. */
export function tileFitsBytes(t: TileRef): number {
  return (t.coadd?.size ?? 0) + (t.redrock?.size ?? 0);
}

/** "main/dark/23040": the tile's key in the journal and in messages. */
export function tileKey(t: { survey: string; program: string; healpix: number }): string {
  return `${t.survey}/${t.program}/${t.healpix}`;
}

export function pixgroup(healpix: number): number {
  return Math.floor(healpix / 100);
}

/** Relative directory of a tile in DESI's healpix tree. */
export function tileDir(t: { survey: string; program: string; healpix: number }): string {
  return `${t.survey}/${t.program}/${pixgroup(t.healpix)}/${t.healpix}`;
}

export function coaddName(t: { survey: string; program: string; healpix: number }): string {
  return `coadd-${t.survey}-${t.program}-${t.healpix}.fits`;
}

export function redrockName(t: { survey: string; program: string; healpix: number }): string {
  return `redrock-${t.survey}-${t.program}-${t.healpix}.fits`;
}

/**
 * The tile's Parquet file, relative to --out: survey, program and pixgroup as folders, so a dataset of
 * thousands of tiles stays listable, and DuckDB reads it all with `read_parquet('OUT/** /*.parquet')`.
 */
export function outputPath(t: { survey: string; program: string; healpix: number }): string {
  return `${t.survey}/${t.program}/${pixgroup(t.healpix)}/${t.survey}-${t.program}-${t.healpix}.parquet`;
}

/** Parses "main/dark/23040" or "23040" (with default survey/program) into a tile id; undefined if invalid. */
export function parseTileSpec(spec: string): { survey?: string; program?: string; healpix: number } | undefined {
  const parts = spec.trim().split('/');
  const pix = Number(parts[parts.length - 1]);
  if (!Number.isInteger(pix) || pix < 0 || pix >= HEALPIX_PIXELS) return undefined;
  if (parts.length === 1) return { healpix: pix };
  if (parts.length === 3 && parts[0] && parts[1]) return { survey: parts[0], program: parts[1], healpix: pix };
  return undefined;
}
