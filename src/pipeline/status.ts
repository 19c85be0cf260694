import type { DatasetIdentity } from '../storage/dataset-identity.js';
import type { JournalRecord, TileRecord } from '../storage/journal-store.js';
import type { RunInfo } from '../storage/run-registry.js';
import { MB } from './format.js';
import { DONE_STATUSES } from './journal.js';
import type { Plan } from './plan-file.js';

/**
 * What `desi-qad status` reports about one --out, computed from what it read (the manifest, the plan, the
 * journal's records and the runs' heartbeats) and nothing else: a plain object, printed as a table or as
 * JSON. Pure, so that it is tested on hand-made records; the reading is in cli/status-command.ts.
 */

/** The span of "recent" throughput: the last 10 minutes of records. */
export const RECENT_WINDOW_MS = 10 * 60_000;

/** How many missing tiles the status names (each with its message when known). */
export const MISSING_EXAMPLES = 10;

export interface StatusInputs {
  identity?: DatasetIdentity;
  plan?: Plan;
  /** Every journal record, oldest first (as JournalStore.load gives them): the latest record of a tile wins. */
  records: readonly JournalRecord[];
  /** The heartbeat records found under `_desi-qad/runs/` (live or not). */
  runs: readonly RunInfo[];
  now: Date;
  /** Journal records that did not parse (JournalStore.load's `damaged`). */
  damaged?: number;
  /** Whether a heartbeat's process is known to be gone (e.g. its pid is not alive on this host); default never. */
  processGone?: (h: RunInfo) => boolean;
}

/** One error class of the failed tiles, with one example. */
export interface FailureClass {
  errorClass: string;
  tiles: number;
  example: { key: string; message?: string };
}

/** Progress of one shard: the tiles its plan gave it (or the records it wrote, without a plan). */
export interface ShardStatus {
  /** "K/N", or "none" for records of unsharded runs (shown only without a plan). */
  shard: string;
  /** Tiles of the shard: the plan's, or (without a plan) those whose latest record it wrote. */
  tiles: number;
  done: number;
  failed: number;
  missing: number;
  remaining: number;
  /** ISO time of the shard's last journal record (tile or run), undefined when it has none. */
  lastActivity?: string;
}

/** A run with a heartbeat record. */
export interface LiveRun {
  run: string;
  host: string;
  pid: number;
  started: string;
  heartbeat: string;
  /** Whether the lease is still running (now <= heartbeat + lease) and, when known, its process exists. */
  alive: boolean;
  /** "K/N" from the run's run record, when it was a shard. */
  shard?: string;
}

export interface Status {
  identity: { selection: string; source: string; created: string; createdBy: string } | null;
  plan: { shards: number; tiles: number; bytes: number; created: string } | null;
  tiles: {
    /** The plan's tile count; without a plan, the tiles the journal knows. */
    planned: number;
    done: number;
    ok: number;
    empty: number;
    failed: number;
    missing: number;
    /** planned − done: failed, missing and not started. */
    remaining: number;
    /** Planned tiles without any record yet. */
    notStarted: number;
    /** Tiles the journal knows that the plan does not list (an earlier selection or plan); not counted above. */
    outsidePlan: number;
  };
  failures: FailureClass[];
  missingTiles: { key: string; message?: string }[];
  /** Sums over the latest record of each done (ok or empty) planned tile. */
  rows: number;
  fitsBytes: number;
  fetchedBytes: number;
  parquetBytes: number;
  /** FITS bytes of the tiles not done: the plan's sizes, else what their records say (0 when unknown). */
  remainingBytes: number;
  throughput: {
    /**
     * FITS MB/s of the done records of the last 10 minutes of records (ending at the last record, starting
     * no earlier than the first run record); null without any.
     */
    recentMBps: number | null;
    /** FITS MB/s from the first run record to the last record; null when that span is empty. */
    overallMBps: number | null;
  };
  /** Seconds until the remaining bytes are done at the recent rate, else the overall rate; 0 when nothing remains. */
  eta: { seconds: number | null; basis: 'recent' | 'overall' | null };
  firstRecord?: string;
  lastRecord?: string;
  shards: ShardStatus[];
  runs: LiveRun[];
  damagedRecords: number;
  /** Every planned tile is done (ok or empty); without a plan, also no live run (which may find more). */
  complete: boolean;
}

/** The status of a dataset from what was read of it. */
export function computeStatus(inp: StatusInputs): Status {
  const now = inp.now.getTime();
  const latest = new Map<string, TileRecord>();
  const runShard = new Map<string, string>();
  let firstRun: number | undefined;
  let first: number | undefined;
  let last: number | undefined;
  for (const r of inp.records) {
    const t = Date.parse(r.time);
    if (Number.isFinite(t)) {
      first = first === undefined ? t : Math.min(first, t);
      last = last === undefined ? t : Math.max(last, t);
    }
    if (r.type === 'tile') latest.set(r.tile, r);
    else {
      if (r.shard !== undefined) runShard.set(r.run, r.shard);
      if (Number.isFinite(t)) firstRun = firstRun === undefined ? t : Math.min(firstRun, t);
    }
  }
  const shardOf = (r: JournalRecord): string | undefined => r.shard ?? runShard.get(r.run);

  const planTiles = new Map<string, { shard: number; fitsBytes: number }>();
  for (const t of inp.plan?.tiles ?? []) planTiles.set(t.key, { shard: t.shard, fitsBytes: t.fitsBytes });
  const planned = inp.plan ? [...planTiles.keys()] : [...latest.keys()];
  const outsidePlan = inp.plan ? [...latest.keys()].filter((k) => !planTiles.has(k)).length : 0;

  const counts = { ok: 0, empty: 0, failed: 0, missing: 0, notStarted: 0 };
  const byClass = new Map<string, FailureClass>();
  const missingTiles: { key: string; message?: string }[] = [];
  let rows = 0;
  let fitsBytes = 0;
  let fetchedBytes = 0;
  let parquetBytes = 0;
  let remainingBytes = 0;
  for (const key of planned) {
    const rec = latest.get(key);
    const done = rec !== undefined && DONE_STATUSES.has(rec.status);
    if (!done) remainingBytes += planTiles.get(key)?.fitsBytes ?? rec?.fitsBytes ?? 0;
    if (!rec) {
      counts.notStarted += 1;
      continue;
    }
    counts[rec.status] += 1;
    if (done) {
      rows += rec.rows ?? 0;
      fitsBytes += rec.fitsBytes ?? 0;
      fetchedBytes += rec.fetchedBytes ?? 0;
      parquetBytes += rec.parquetBytes ?? 0;
    } else if (rec.status === 'failed') {
      const cls = rec.errorClass ?? 'UNKNOWN';
      const entry = byClass.get(cls);
      if (entry) {
        entry.tiles += 1;
        // An example with its message beats one without (S3 names carry the class, not the message).
        if (entry.example.message === undefined && rec.error !== undefined) entry.example = { key, message: rec.error };
      } else byClass.set(cls, { errorClass: cls, tiles: 1, example: withMessage(key, rec.error) });
    } else if (missingTiles.length < MISSING_EXAMPLES) missingTiles.push(withMessage(key, rec.error));
  }
  const done = counts.ok + counts.empty;

  // Throughput counts work done, so every done record (a tile redone later counts twice).
  const doneRecords = inp.records.filter((r): r is TileRecord => r.type === 'tile' && DONE_STATUSES.has(r.status));
  // The last 10 minutes of records: up to the last record, not to now, so that a status read after the runs
  // ended still shows the rate they had (a live run that stalls shows in its shard's last activity instead).
  const windowEnd = last ?? now;
  const windowStart = Math.max(windowEnd - RECENT_WINDOW_MS, firstRun ?? first ?? windowEnd);
  let recentBytes = 0;
  let recentCount = 0;
  let allBytes = 0;
  for (const r of doneRecords) {
    const t = Date.parse(r.time);
    allBytes += r.fitsBytes ?? 0;
    if (t >= windowStart) {
      recentBytes += r.fitsBytes ?? 0;
      recentCount += 1;
    }
  }
  const rate = (bytes: number, ms: number): number | null => (ms > 0 ? bytes / MB / (ms / 1000) : null);
  const recentMBps = recentCount > 0 ? rate(recentBytes, windowEnd - windowStart) : null;
  const spanStart = firstRun ?? first;
  const overallMBps = doneRecords.length > 0 && spanStart !== undefined && last !== undefined ? rate(allBytes, last - spanStart) : null;
  const eta: Status['eta'] = { seconds: null, basis: null };
  if (done === planned.length) {
    eta.seconds = 0;
  } else {
    for (const [basis, mbps] of [
      ['recent', recentMBps],
      ['overall', overallMBps],
    ] as const) {
      if (mbps !== null && mbps > 0 && remainingBytes > 0) {
        eta.seconds = remainingBytes / MB / mbps;
        eta.basis = basis;
        break;
      }
    }
  }

  const runs: LiveRun[] = inp.runs.map((h) => {
    const beat = Date.parse(h.heartbeat);
    const run: LiveRun = {
      run: h.run,
      host: h.host,
      pid: h.pid,
      started: h.started,
      heartbeat: h.heartbeat,
      alive: now <= beat + h.leaseMs && !(inp.processGone?.(h) ?? false),
    };
    const shard = runShard.get(h.run);
    if (shard !== undefined) run.shard = shard;
    return run;
  });
  runs.sort((a, b) => (a.run < b.run ? -1 : a.run > b.run ? 1 : 0));

  return {
    identity: inp.identity
      ? { selection: inp.identity.selection, source: inp.identity.source, created: inp.identity.created, createdBy: inp.identity.createdBy }
      : null,
    plan: inp.plan ? { shards: inp.plan.shards, tiles: inp.plan.tiles.length, bytes: inp.plan.totalBytes, created: inp.plan.created } : null,
    tiles: { planned: planned.length, done, ...counts, remaining: planned.length - done, outsidePlan },
    failures: [...byClass.values()].sort((a, b) => b.tiles - a.tiles || (a.errorClass < b.errorClass ? -1 : 1)),
    missingTiles,
    rows,
    fitsBytes,
    fetchedBytes,
    parquetBytes,
    remainingBytes,
    throughput: { recentMBps, overallMBps },
    eta,
    ...(first !== undefined ? { firstRecord: new Date(first).toISOString() } : {}),
    ...(last !== undefined ? { lastRecord: new Date(last).toISOString() } : {}),
    shards: shardTable(inp, latest, shardOf),
    runs,
    damagedRecords: inp.damaged ?? 0,
    complete: planned.length - done === 0 && (inp.plan !== undefined || (planned.length > 0 && !runs.some((r) => r.alive))),
  };
}

/**
 * Per shard: with a plan, its N shards over the tiles the plan gave each (a tile's latest record may come
 * from any run or shard: done is done); without one, the shards named by the records. Empty when there is
 * no plan and no record names a shard.
 */
function shardTable(inp: StatusInputs, latest: Map<string, TileRecord>, shardOf: (r: JournalRecord) => string | undefined): ShardStatus[] {
  const activity = new Map<string, number>();
  for (const r of inp.records) {
    const s = shardOf(r) ?? 'none';
    const t = Date.parse(r.time);
    if (Number.isFinite(t) && t > (activity.get(s) ?? -Infinity)) activity.set(s, t);
  }
  const table = new Map<string, ShardStatus>();
  const row = (shard: string): ShardStatus => {
    let s = table.get(shard);
    if (!s) {
      s = { shard, tiles: 0, done: 0, failed: 0, missing: 0, remaining: 0 };
      const t = activity.get(shard);
      if (t !== undefined) s.lastActivity = new Date(t).toISOString();
      table.set(shard, s);
    }
    return s;
  };
  const count = (s: ShardStatus, rec: TileRecord | undefined) => {
    s.tiles += 1;
    if (rec && DONE_STATUSES.has(rec.status)) s.done += 1;
    else {
      s.remaining += 1;
      if (rec?.status === 'failed') s.failed += 1;
      if (rec?.status === 'missing') s.missing += 1;
    }
  };
  if (inp.plan) {
    const n = inp.plan.shards;
    for (let k = 0; k < n; k++) row(`${k}/${n}`);
    for (const t of inp.plan.tiles) count(row(`${t.shard}/${n}`), latest.get(t.key));
    return [...table.values()];
  }
  if (![...latest.values()].some((r) => shardOf(r) !== undefined)) return [];
  for (const rec of latest.values()) count(row(shardOf(rec) ?? 'none'), rec);
  return [...table.values()].sort((a, b) => shardOrder(a.shard) - shardOrder(b.shard) || (a.shard < b.shard ? -1 : 1));
}

/** "K/N" sorts by K; "none" last. */
function shardOrder(s: string): number {
  const k = Number(s.split('/')[0]);
  return Number.isInteger(k) ? k : Number.MAX_SAFE_INTEGER;
}

function withMessage(key: string, message: string | undefined): { key: string; message?: string } {
  return message === undefined ? { key } : { key, message };
}
