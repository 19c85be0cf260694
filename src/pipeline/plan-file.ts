import type { AfterburnerKind } from '../desi/selection.js';
import { WITH_NAMES } from '../cli/with-option.js';
import { COLUMN_SETS, type ColumnSet } from '../desi/column-sets.js';
import { parseCumulativeKey } from '../desi/cumulative.js';
import { tileFitsBytes, tileKey, type ObjectRef, type TileRef } from '../desi/tile.js';
import type { OutputStore } from '../storage/output-store.js';

/**
 * The shard plan of a dataset, `_desi-qad/plan.json`: which tiles each of N shards converts, with the
 * objects discovery saw (so that N array tasks need no discovery of their own), balanced by bytes. Written by
 * `desi-qad plan`, read by `convert --shard K/N` and `status`.
 */
export const PLAN_REL = '_desi-qad/plan.json';
export const PLAN_FORMAT = 'desi-qad-plan';
export const PLAN_VERSION = 1;

export interface PlanTile {
  key: string;
  shard: number;
  fitsBytes: number;
  coadd: ObjectRef | null;
  redrock: ObjectRef | null;
  /** The tile's afterburner files, when discovery found any (absent in plans made before them). */
  afterburners?: Partial<Record<AfterburnerKind, ObjectRef>>;
  /** The LASTNIGHT of a tile-layout unit (its key, cumulative/{TILEID}/{PETAL}, does not say it). */
  lastnight?: number;
}

export interface Plan {
  format: typeof PLAN_FORMAT;
  version: number;
  created: string;
  createdBy: string;
  shards: number;
  source: string;
  /** 'tiles' for a plan of the tile layout; absent for the healpix layout (the plans made before the tile layout). */
  layout?: 'tiles';
  selection: string;
  /** The column set (--columns) the shards convert with; absent in plans made before it was recorded (then 'default'). */
  columns?: ColumnSet;
  /**
   * The --with groups the shards convert with (cli/with-option.ts names, in its order: 'resolution' first, then
   * the afterburners); absent when none, and in plans made before plans recorded it.
   */
  with?: string[];
  surveys: string[];
  programs: string[];
  totalTiles: number;
  totalBytes: number;
  shardBytes: number[];
  shardTiles: number[];
  tiles: PlanTile[];
}

/**
 * Shard of each tile, balanced by bytes and deterministic: tiles by FITS bytes descending (ties by key), each
 * to the shard with the fewest bytes so far (ties: the lowest index). A 5 GB coadd weighs what it costs.
 */
export function balanceShards(tiles: readonly TileRef[], shards: number): Map<string, number> {
  if (!Number.isInteger(shards) || shards < 1) throw new RangeError(`shards must be a positive integer, got ${shards}`);
  const order = tiles
    .map((t) => ({ key: tileKey(t), bytes: tileFitsBytes(t) }))
    .sort((a, b) => b.bytes - a.bytes || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const load = new Array<number>(shards).fill(0);
  const out = new Map<string, number>();
  for (const t of order) {
    let best = 0;
    for (let s = 1; s < shards; s++) if (load[s] < load[best]) best = s;
    load[best] += t.bytes;
    out.set(t.key, best);
  }
  return out;
}

/** The plan of `tiles` (in discovery order) over `shards` shards. */
export function makePlan(o: {
  tiles: readonly TileRef[];
  shards: number;
  created: Date;
  createdBy: string;
  source: string;
  selection: string;
  /** The column set; 'default' when not given. */
  columns?: ColumnSet;
  /** The --with groups (absent or empty: none). */
  with?: readonly string[];
  surveys: string[];
  programs: string[];
}): Plan {
  const shardOf = balanceShards(o.tiles, o.shards);
  const shardBytes = new Array<number>(o.shards).fill(0);
  const shardTiles = new Array<number>(o.shards).fill(0);
  const tiles: PlanTile[] = o.tiles.map((t) => {
    const key = tileKey(t);
    const shard = shardOf.get(key)!;
    const fitsBytes = tileFitsBytes(t);
    shardBytes[shard] += fitsBytes;
    shardTiles[shard] += 1;
    const entry: PlanTile = { key, shard, fitsBytes, coadd: t.coadd ?? null, redrock: t.redrock ?? null };
    if (t.afterburners) entry.afterburners = t.afterburners;
    if (t.cumulative) entry.lastnight = t.cumulative.lastnight;
    return entry;
  });
  return {
    format: PLAN_FORMAT,
    version: PLAN_VERSION,
    created: o.created.toISOString(),
    createdBy: o.createdBy,
    shards: o.shards,
    source: o.source,
    ...(o.tiles.some((t) => t.cumulative) ? { layout: 'tiles' as const } : {}),
    selection: o.selection,
    columns: o.columns ?? 'default',
    ...(o.with && o.with.length > 0 ? { with: WITH_NAMES.filter((n) => o.with!.includes(n)) } : {}),
    surveys: o.surveys,
    programs: o.programs,
    totalTiles: tiles.length,
    totalBytes: shardBytes.reduce((a, b) => a + b, 0),
    shardBytes,
    shardTiles,
    tiles,
  };
}

/** The tiles of shard `k`, as TileRefs (in plan order). */
export function shardTiles(plan: Plan, k: number): TileRef[] {
  return plan.tiles.filter((t) => t.shard === k).map(planTileRef);
}

/** A plan entry back as the TileRef discovery gave. */
export function planTileRef(t: PlanTile): TileRef {
  const unit = parseCumulativeKey(t.key);
  const [survey, program, healpix] = t.key.split('/');
  const ref: TileRef = unit
    ? { survey: '', program: '', healpix: -1, cumulative: { ...unit, lastnight: t.lastnight ?? 0 } }
    : { survey, program, healpix: Number(healpix) };
  if (t.coadd) ref.coadd = t.coadd;
  if (t.redrock) ref.redrock = t.redrock;
  if (t.afterburners) ref.afterburners = t.afterburners;
  return ref;
}

/** A plan file that is not a plan (bad JSON, another format or version, inconsistent fields): a usage error. */
export class PlanError extends Error {
  override name = 'PlanError';
}

/** Parses and checks a plan's text; throws a PlanError naming `where` and what is wrong. */
export function parsePlan(text: string, where: string): Plan {
  let p: Partial<Plan>;
  try {
    p = JSON.parse(text) as Partial<Plan>;
  } catch (err) {
    throw new PlanError(`${where}: not a desi-qad plan (${(err as Error).message})`);
  }
  const bad = (why: string) => new PlanError(`${where}: not a valid desi-qad plan (${why})`);
  if (typeof p !== 'object' || p?.format !== PLAN_FORMAT) throw bad('no "format": "desi-qad-plan"');
  if (p.version !== PLAN_VERSION) throw bad(`version ${String(p.version)}, this desi-qad reads ${PLAN_VERSION}`);
  if (!Number.isInteger(p.shards) || p.shards! < 1) throw bad('"shards" is not a positive integer');
  if (!Array.isArray(p.tiles)) throw bad('"tiles" is not a list');
  for (const k of ['source', 'selection', 'created', 'createdBy'] as const) if (typeof p[k] !== 'string') throw bad(`"${k}" is not a string`);
  if (p.with !== undefined && (!Array.isArray(p.with) || p.with.some((w) => !(WITH_NAMES as readonly unknown[]).includes(w))))
    throw bad(`"with" ${JSON.stringify(p.with)} is not a list of --with groups (${WITH_NAMES.join(', ')})`);
  if (p.columns !== undefined && !(COLUMN_SETS as readonly unknown[]).includes(p.columns))
    throw bad(`"columns" ${JSON.stringify(p.columns)} is not a column set (${COLUMN_SETS.join(', ')})`);
  for (const k of ['surveys', 'programs'] as const)
    if (!Array.isArray(p[k]) || !p[k].every((x) => typeof x === 'string')) throw bad(`"${k}" is not a list of names`);
  for (const k of ['shardBytes', 'shardTiles'] as const)
    if (!Array.isArray(p[k]) || p[k].length !== p.shards || !p[k].every((x) => typeof x === 'number')) throw bad(`"${k}" is not a list of ${p.shards} numbers`);
  if (p.totalTiles !== p.tiles.length) throw bad(`"totalTiles" ${String(p.totalTiles)} but ${p.tiles.length} tiles listed`);
  const keys = new Set<string>();
  for (const t of p.tiles) {
    if (typeof t !== 'object' || t === null) throw bad('a tile that is not an object');
    if (keys.has(t.key)) throw bad(`tile ${t.key} listed twice`);
    keys.add(t.key);
    if (typeof t.fitsBytes !== 'number') throw bad(`tile ${t.key}: "fitsBytes" is not a number`);
    if (typeof t.key !== 'string' || !/^[a-z0-9_-]+\/[a-z0-9_-]+\/\d+$/.test(t.key)) throw bad(`a tile key ${JSON.stringify(t.key)}`);
    if (parseCumulativeKey(t.key) && !Number.isInteger(t.lastnight)) throw bad(`tile ${t.key}: a tile-layout unit without "lastnight"`);
    if (!Number.isInteger(t.shard) || t.shard < 0 || t.shard >= p.shards!) throw bad(`tile ${t.key}: shard ${String(t.shard)} outside 0..${p.shards! - 1}`);
    for (const ref of [t.coadd, t.redrock])
      if (ref !== null && (typeof ref !== 'object' || typeof ref.path !== 'string' || typeof ref.size !== 'number'))
        throw bad(`tile ${t.key}: a file without path or size`);
  }
  return p as Plan;
}

/** The column set a plan's shards convert with ('default' for a plan made before plans recorded it). */
export function planColumns(plan: Plan): ColumnSet {
  return plan.columns ?? 'default';
}

/** The --with groups a plan's shards convert with (none for a plan made before plans recorded them). */
export function planWith(plan: Plan): string[] {
  return plan.with ?? [];
}

/** The --with groups of a run as a plan records them: 'resolution' first, then the afterburners, in WITH_NAMES order. */
export function withGroupsOf(o: { withResolution?: boolean; withAfterburners?: readonly string[] }): string[] {
  return WITH_NAMES.filter((n) => (n === 'resolution' ? o.withResolution === true : (o.withAfterburners ?? []).includes(n)));
}

/** The plan in --out, or undefined when there is none. */
export async function readPlan(out: OutputStore): Promise<Plan | undefined> {
  const bytes = await out.readFile(PLAN_REL);
  return bytes ? parsePlan(Buffer.from(bytes).toString('utf8'), out.location(PLAN_REL)) : undefined;
}

/** Writes the plan atomically (a newer plan replaces an older one). */
export async function writePlan(out: OutputStore, plan: Plan): Promise<void> {
  await out.writeAtomic(PLAN_REL, Buffer.from(JSON.stringify(plan) + '\n'));
}
