/**
 * DESI's path and file-name rules, in one place: the healpix tree `{survey}/{program}/{pixgroup}/{healpix}/`
 * with pixgroup = floor(healpix / 100) (nside 64, nested: pixels 0..49,151), the tile's files
 * `coadd-{survey}-{program}-{healpix}.fits` and `redrock-…`, parsing a key or path of the tree back into its
 * parts, the dataset's output path, and the `--tiles` syntax. Local and S3 discovery both read the tree
 * through these rules. (src/synth keeps its own copy of the directory rule on purpose: it is the
 * independent oracle the tests compare discovery with.)
 */

import {
  cumulativeDir,
  cumulativeFileName,
  cumulativeKey,
  cumulativeOutputPath,
  cumulativeSpecText,
  matchesCumulativeSpec,
  type CumulativeId,
  type CumulativeSpec,
} from './cumulative.js';

export const HEALPIX_NSIDE = 64;
export const HEALPIX_PIXELS = 12 * HEALPIX_NSIDE * HEALPIX_NSIDE; // 49,152
/** The largest healpix number of nside 64. */
export const MAX_HEALPIX = HEALPIX_PIXELS - 1;
export const SURVEYS = ['cmx', 'sv1', 'sv2', 'sv3', 'main', 'special'] as const;
export const PROGRAMS = ['dark', 'bright', 'backup', 'other'] as const;

/**
 * One tile's identity: survey, program and healpix number. A unit of the tile layout (`--layout tiles`,
 * cumulative.ts) carries `cumulative` (TILEID, PETAL, LASTNIGHT) and is keyed and stored by it alone: its
 * survey and program come from its coadd's header once read ('' before), its `healpix` is -1.
 */
export interface TileId {
  survey: string;
  program: string;
  healpix: number;
  cumulative?: CumulativeId;
}

/** The layouts of DESI's coadds that a dataset can be made from (part of its identity). */
export type Layout = 'healpix' | 'tiles';
export const LAYOUTS: readonly Layout[] = ['healpix', 'tiles'];

/** "23040" or "80605/3 thru 20210517": the tile as the run log names it ("Tile …:"). */
export function tileLabel(t: TileId): string {
  return t.cumulative ? `${t.cumulative.tileid}/${t.cumulative.petal} thru ${t.cumulative.lastnight}` : String(t.healpix);
}

/** The two files of a tile that the converter reads. */
export type TileFileKind = 'coadd' | 'redrock';

/** Whether `n` is a healpix number of nside 64 (an integer in 0..49,151). */
export function isHealpix(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n < HEALPIX_PIXELS;
}

export function pixgroup(healpix: number): number {
  return Math.floor(healpix / 100);
}

/** Pixgroups of nside 64: floor(healpix / 100) for healpix in 0..49,151, so 0..491. */
export const PIXGROUPS = pixgroup(MAX_HEALPIX) + 1;

/** "main/dark/23040": the tile's key in the journal and in messages. */
export function tileKey(t: TileId): string {
  if (t.cumulative) return cumulativeKey(t.cumulative);
  return `${t.survey}/${t.program}/${t.healpix}`;
}

/** `{survey}/{program}/{pixgroup}`: the folder of one pixgroup, relative to the tree's root. */
export function pixgroupDir(survey: string, program: string, group: number): string {
  return `${survey}/${program}/${group}`;
}

/** Relative directory of a tile in DESI's healpix tree. */
export function tileDir(t: TileId): string {
  if (t.cumulative) return cumulativeDir(t.cumulative);
  return `${pixgroupDir(t.survey, t.program, pixgroup(t.healpix))}/${t.healpix}`;
}

/** `{kind}-{survey}-{program}-{healpix}.fits`: the name of one of the tile's files. */
export function tileFileName(kind: TileFileKind, t: TileId): string {
  if (t.cumulative) return cumulativeFileName(kind, t.cumulative);
  return `${kind}-${t.survey}-${t.program}-${t.healpix}.fits`;
}

export function coaddName(t: TileId): string {
  return tileFileName('coadd', t);
}

export function redrockName(t: TileId): string {
  return tileFileName('redrock', t);
}

/**
 * The tile's Parquet file, relative to --out: survey, program and pixgroup as folders, so a dataset of
 * thousands of tiles stays listable, and DuckDB reads it all with `read_parquet('OUT/** /*.parquet')`.
 */
export function outputPath(t: TileId): string {
  if (t.cumulative) return cumulativeOutputPath(t.cumulative);
  return `${pixgroupDir(t.survey, t.program, pixgroup(t.healpix))}/${t.survey}-${t.program}-${t.healpix}.parquet`;
}

/**
 * Whether a pixgroup or healpix folder name is the canonical decimal of its number (`String(Number(name))`):
 * no leading zeros, no sign, no blanks, no exponent. Only such folders hold tiles, so `97/09766` beside
 * `97/9766` cannot make a second tile 9766.
 */
export function isCanonicalNumber(name: string): boolean {
  return NUMERIC.test(name) && String(Number(name)) === name;
}

/**
 * Reads a pixgroup or healpix folder name (`what` says which) as its number, or says why it is not one:
 * `"abc" is not a healpix number`, or `not the canonical pixel number 9766` for `09766`, `+9766`, `9766 `.
 * Local and S3 discovery both read folder names here, so both skip and report the same names.
 */
export function folderNumber(name: string, what: 'pixgroup' | 'healpix'): number | { problem: string } {
  if (isCanonicalNumber(name)) return Number(name);
  const n = Number(name);
  if (name.trim() !== '' && Number.isSafeInteger(n) && n >= 0)
    return { problem: `${JSON.stringify(name)} is not the canonical ${what === 'healpix' ? 'pixel' : 'pixgroup'} number ${n}` };
  return { problem: `${JSON.stringify(name)} is not a ${what} number` };
}

/** Whether healpix directory `healpix` belongs in pixgroup folder `group` (and is a pixel of nside 64). */
export function healpixInPixgroup(healpix: number, group: number): boolean {
  return healpix < HEALPIX_PIXELS && pixgroup(healpix) === group;
}

/** The problem of a healpix directory found in the wrong pixgroup folder (or past the last pixel). */
export function notInPixgroup(group: number | string): string {
  return `not a healpix directory of pixgroup ${group} (nside 64)`;
}

/** A key of a DESI tile directory, relative to `{prefix}/{survey}/{program}/{pixgroup}/`. */
export type TileObjectKey =
  { kind: TileFileKind; healpix: number; file: string } | { kind: 'other'; healpix: number; file: string } | { kind: 'problem'; problem: string };

const NUMERIC = /^\d+$/;
const TILE_FILE = /^(coadd|redrock)-.*\.fits$/;

/**
 * What a file of tile `t`'s directory is: its coadd, its redrock, another file of the directory (emline,
 * qso_mgii, … and anything in subfolders: `file` may hold '/'), or a problem: a coadd-/redrock- file named
 * for another tile.
 */
export function tileFileKind(t: TileId, file: string): TileFileKind | 'other' | { problem: string } {
  if (file === coaddName(t)) return 'coadd';
  if (file === redrockName(t)) return 'redrock';
  if (TILE_FILE.test(file)) return { problem: `${file} is not named for tile ${tileKey(t)}` };
  return 'other';
}

/**
 * Maps the part of an object key below a pixgroup folder (`{healpix}/{file}`) to a tile: the coadd or
 * redrock file of pixel `healpix`, another file of the tile directory (ignored), or a problem worth
 * reporting (a pixel folder that is not the canonical decimal of a number, or not in the pixgroup, a file
 * lying directly in the pixgroup folder, a coadd-/redrock- file named for another tile).
 */
export function parseTileObjectKey(survey: string, program: string, group: number, rest: string): TileObjectKey {
  const slash = rest.indexOf('/');
  if (slash < 0) return { kind: 'problem', problem: `not inside a healpix directory of pixgroup ${group}` };
  const pix = rest.slice(0, slash);
  const file = rest.slice(slash + 1);
  const healpix = folderNumber(pix, 'healpix');
  if (typeof healpix === 'object') return { kind: 'problem', problem: healpix.problem };
  if (!healpixInPixgroup(healpix, group)) return { kind: 'problem', problem: notInPixgroup(group) };
  const kind = tileFileKind({ survey, program, healpix }, file);
  if (typeof kind === 'object') return { kind: 'problem', problem: kind.problem };
  return { kind, healpix, file };
}

/** A path of the healpix tree read back into its parts. */
export type TilePath =
  { kind: TileFileKind | 'other'; survey: string; program: string; pixgroup: number; healpix: number; file: string } | { kind: 'problem'; problem: string };

/**
 * Reads a '/'-separated path relative to the tree's root (`{survey}/{program}/{pixgroup}/{healpix}/{file}`,
 * an S3 key below the prefix, say) back into survey, program, pixgroup, healpix and what the file is, with
 * the rules and messages of discovery. Survey and program are any non-empty folder names (discovery lists
 * the ones asked for); paths with fewer than three folders are problems.
 */
export function parseTilePath(path: string): TilePath {
  const segs = path.split('/');
  if (segs.length < 4 || segs[0] === '' || segs[1] === '') return { kind: 'problem', problem: 'not inside a {survey}/{program}/{pixgroup}/ folder' };
  const [survey, program, g] = segs;
  const group = folderNumber(g, 'pixgroup');
  if (typeof group === 'object') return { kind: 'problem', problem: group.problem };
  const parsed = parseTileObjectKey(survey, program, group, segs.slice(3).join('/'));
  if (parsed.kind === 'problem') return parsed;
  return { kind: parsed.kind, survey, program, pixgroup: group, healpix: parsed.healpix, file: parsed.file };
}

/** A `--tiles` value: a healpix number of any survey and program asked for, or one survey/program/healpix. */
export type TileSpec =
  | { survey?: undefined; program?: undefined; healpix: number; cumulative?: undefined }
  | { survey: string; program: string; healpix: number; cumulative?: undefined }
  | { survey?: undefined; program?: undefined; healpix?: undefined; cumulative: CumulativeSpec };

/** Survey and program names: the rule of --survey and --program (folders of the output, nothing that climbs). */
const NAME = /^[a-z0-9][a-z0-9_-]*$/;
/** A healpix number written the way tileKey writes it: no sign, no leading zeros, no exponent. */
const HEALPIX_TEXT = /^(?:0|[1-9]\d*)$/;

/**
 * Parses "23040" or "main/dark/23040" (surrounding blanks ignored); undefined if it is neither. The number
 * must be written as tileKey writes it (decimal, no leading zeros) and be a healpix of nside 64; survey and
 * program must be names --survey and --program accept.
 */
export function parseTileSpec(spec: string): TileSpec | undefined {
  const parts = spec.trim().split('/');
  const pix = parts[parts.length - 1];
  if (!HEALPIX_TEXT.test(pix) || !isHealpix(Number(pix))) return undefined;
  const healpix = Number(pix);
  if (parts.length === 1) return { healpix };
  if (parts.length === 3 && NAME.test(parts[0]) && NAME.test(parts[1])) return { survey: parts[0], program: parts[1], healpix };
  return undefined;
}

/**
 * The one parser of `--tiles` values (already split at commas). Throws an Error naming the first value
 * that is not a healpix number or survey/program/healpix. A spec given twice (`23040,23040`, ` 23040`) is
 * kept once, at its first place.
 */
export function parseTileSpecs(values: readonly string[]): TileSpec[] {
  const specs = new Map<string, TileSpec>();
  for (const v of values) {
    const spec = parseTileSpec(v);
    if (!spec) throw new Error(`--tiles: ${JSON.stringify(v)} is not a healpix number (0–${MAX_HEALPIX}) or survey/program/healpix`);
    const key = spec.survey === undefined ? String(spec.healpix) : tileKey(spec);
    if (!specs.has(key)) specs.set(key, spec);
  }
  return [...specs.values()];
}

/** Whether the tile is the one the spec names (a bare healpix number matches it in every survey and program). */
export function matchesTileSpec(tile: TileId, spec: TileSpec): boolean {
  if (spec.cumulative !== undefined || tile.cumulative !== undefined)
    return spec.cumulative !== undefined && tile.cumulative !== undefined && matchesCumulativeSpec(tile.cumulative, spec.cumulative);
  if (tile.healpix !== spec.healpix) return false;
  return spec.survey === undefined || (tile.survey === spec.survey && tile.program === spec.program);
}

/** A `--tiles` value as the user writes it: "23040", "main/dark/23040", or the tile layout's "80605/3". */
export function tileSpecText(s: TileSpec): string {
  if (s.cumulative !== undefined) return cumulativeSpecText(s.cumulative);
  return s.survey !== undefined ? `${s.survey}/${s.program}/${s.healpix}` : String(s.healpix);
}
