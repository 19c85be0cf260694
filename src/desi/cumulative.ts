/**
 * DESI's tile-based cumulative coadds, the other layout (`--layout tiles`): the tree
 * `{TILEID}/{LASTNIGHT}/coadd-{PETAL}-{TILEID}-thru{LASTNIGHT}.fits` (and `redrock-…` beside it) under
 * `tiles/cumulative/`. A unit of work is one petal of one tile at the tile's latest LASTNIGHT folder: a
 * cumulative coadd through night N holds every exposure up to N, so an older LASTNIGHT folder is superseded.
 * This module holds the path, name, key and `--tiles` rules of that layout; layout.ts dispatches to it.
 */

/** One petal of one cumulative tile, and the night its coadd runs through. */
export interface CumulativeId {
  tileid: number;
  petal: number;
  /** YYYYMMDD of the LASTNIGHT folder the unit's files come from. */
  lastnight: number;
}

/** DESI's focal plane has ten petals, 0..9. */
export const PETALS = 10;

/** The journal key's first segment; survey names never take it (names.ts checks them against DESI's set). */
export const CUMULATIVE_KEY = 'cumulative';

const CANONICAL = /^(?:0|[1-9]\d*)$/;
const NIGHT = /^(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$/;
const FILE = /^(coadd|redrock)-(\d+)-(\d+)-thru(\d+)\.fits$/;
/** Files beside the coadd that DESI writes with the same name pattern (afterburners and others). */
const SAME_PATTERN = /^[a-z_]+-\d+-\d+-thru\d+\.fits$/;

/** Whether `name` is the canonical decimal of a TILEID (a non-negative safe integer, no leading zeros). */
export function isTileidText(name: string): boolean {
  return CANONICAL.test(name) && Number.isSafeInteger(Number(name));
}

/** Whether `name` is a LASTNIGHT folder name: eight digits YYYYMMDD of a plausible night (2019 on). */
export function isNightText(name: string): boolean {
  const m = NIGHT.exec(name);
  return m !== null && Number(m[1]) >= 2019;
}

/** `{TILEID}/{LASTNIGHT}`: the folder of a unit's files, relative to the `tiles/cumulative` root. */
export function cumulativeDir(c: CumulativeId): string {
  return `${c.tileid}/${c.lastnight}`;
}

/** `{kind}-{PETAL}-{TILEID}-thru{LASTNIGHT}.fits`. */
export function cumulativeFileName(kind: 'coadd' | 'redrock', c: CumulativeId): string {
  return `${kind}-${c.petal}-${c.tileid}-thru${c.lastnight}.fits`;
}

/** "cumulative/80605/3": the unit's key in the journal, plans and messages (LASTNIGHT is not part of it). */
export function cumulativeKey(c: Pick<CumulativeId, 'tileid' | 'petal'>): string {
  return `${CUMULATIVE_KEY}/${c.tileid}/${c.petal}`;
}

/** Tile 80605 petal 3 out of "cumulative/80605/3"; undefined for any other key. */
export function parseCumulativeKey(key: string): { tileid: number; petal: number } | undefined {
  const segs = key.split('/');
  if (segs.length !== 3 || segs[0] !== CUMULATIVE_KEY || !isTileidText(segs[1]) || !CANONICAL.test(segs[2])) return undefined;
  const petal = Number(segs[2]);
  if (petal >= PETALS) return undefined;
  return { tileid: Number(segs[1]), petal };
}

/**
 * The unit's Parquet file relative to --out: `cumulative/{TILEID}/cumulative-{TILEID}-{PETAL}.parquet`.
 * LASTNIGHT is left out on purpose: when a tile gains a later night, the unit's sources change (the journal's
 * fingerprint says so), it is converted again and its one file is replaced, never kept beside the older one.
 */
export function cumulativeOutputPath(c: Pick<CumulativeId, 'tileid' | 'petal'>): string {
  return `${CUMULATIVE_KEY}/${c.tileid}/${CUMULATIVE_KEY}-${c.tileid}-${c.petal}.parquet`;
}

/** The inverse of cumulativeOutputPath; undefined for any other path. */
export function parseCumulativeOutputPath(rel: string): { tileid: number; petal: number } | undefined {
  const m = /^cumulative\/(\d+)\/cumulative-(\d+)-(\d+)\.parquet$/.exec(rel);
  if (!m) return undefined;
  const unit = parseCumulativeKey(`${CUMULATIVE_KEY}/${m[2]}/${m[3]}`);
  return unit && cumulativeOutputPath(unit) === rel ? unit : undefined;
}

/** What a file of a LASTNIGHT folder is. */
export type CumulativeFile = { kind: 'coadd' | 'redrock'; petal: number } | { kind: 'other' } | { kind: 'problem'; problem: string };

/**
 * Reads a file name of folder `{tileid}/{lastnight}`: the coadd or redrock of a petal, another file of the
 * folder (an afterburner, a log: ignored), or a problem: a coadd-/redrock- name for another tile or night,
 * or a petal outside 0..9.
 */
export function parseCumulativeFile(tileid: number, lastnight: number, file: string): CumulativeFile {
  const m = FILE.exec(file);
  if (!m) {
    if (/^(coadd|redrock)-/.test(file) && file.endsWith('.fits'))
      return { kind: 'problem', problem: `${file} is not named coadd-{PETAL}-{TILEID}-thru{LASTNIGHT}.fits` };
    return { kind: 'other' };
  }
  const [, kind, p, t, n] = m;
  if (!CANONICAL.test(p) || Number(p) >= PETALS) return { kind: 'problem', problem: `${file}: petal ${p} is not one of 0..9` };
  if (t !== String(tileid) || n !== String(lastnight)) return { kind: 'problem', problem: `${file} is not named for tile ${tileid} through ${lastnight}` };
  return { kind: kind as 'coadd' | 'redrock', petal: Number(p) };
}

/** Whether a name looks like one of DESI's per-petal files (used to tell stray files from DESI's own). */
export function isPetalFileName(file: string): boolean {
  return SAME_PATTERN.test(file);
}

/** A `--tiles` value of the tile layout: a TILEID (every petal) or TILEID/PETAL. */
export interface CumulativeSpec {
  tileid: number;
  petal?: number;
}

/**
 * Parses `--tiles` values of the tile layout ("80605", "80605/3"); throws an Error naming the first value
 * that is neither. Duplicates are kept once, at their first place.
 */
export function parseCumulativeSpecs(values: readonly string[]): CumulativeSpec[] {
  const out = new Map<string, CumulativeSpec>();
  for (const raw of values) {
    const v = raw.trim();
    const [t, p, ...rest] = v.split('/');
    const ok = rest.length === 0 && isTileidText(t) && (p === undefined || (CANONICAL.test(p) && Number(p) < PETALS));
    if (!ok) throw new Error(`--tiles: ${JSON.stringify(raw)} is not a TILEID or TILEID/PETAL (petal 0–9) of the tile layout`);
    const spec: CumulativeSpec = p === undefined ? { tileid: Number(t) } : { tileid: Number(t), petal: Number(p) };
    const key = p === undefined ? t : `${t}/${p}`;
    if (!out.has(key)) out.set(key, spec);
  }
  return [...out.values()];
}

/** Whether unit `c` is one the spec names. */
export function matchesCumulativeSpec(c: Pick<CumulativeId, 'tileid' | 'petal'>, spec: CumulativeSpec): boolean {
  return c.tileid === spec.tileid && (spec.petal === undefined || spec.petal === c.petal);
}

/** "80605/3": a spec as the user writes it. */
export function cumulativeSpecText(s: CumulativeSpec): string {
  return s.petal === undefined ? String(s.tileid) : `${s.tileid}/${s.petal}`;
}
