import type { DatasetIdentity } from '../storage/dataset-identity.js';
import type { JournalRecord, RunRecord, TileRecord } from '../storage/journal-store.js';
import type { RunInfo } from '../storage/run-registry.js';
import { DONE_STATUSES } from '../pipeline/journal.js';
import { MB } from '../pipeline/format.js';
import type { Plan } from '../pipeline/plan-file.js';
import { computeStatus, type Status } from '../pipeline/status.js';
import { DESI_NSIDE, nestedPixelCenter } from '../util/healpix.js';

/**
 * What the run report shows, computed from what was read (the journal, the manifest, the plan, the runs'
 * heartbeats and logs, the Parquet files' Z column and footers) and nothing else: pure, so that it is tested
 * on hand-made records. The reading is in report/read.ts; the drawing in plots.ts and html.ts.
 *
 * Batches are not journaled, so a run's batches are rebuilt from its records: its tile records in the order
 * they were written, in groups of the run's --batch-size (read from its log's Settings line, else convert's
 * default of 8). Tiles flow through one pipeline and a batch's last tiles may be journaled after the next
 * batch's first ones, so these are the batches of the log up to a tile or two at the edges; their sums
 * (FITS, Parquet, reduction) are the journal's own.
 */

/** convert's default --batch-size, used for runs whose log is not at hand. */
export const DEFAULT_BATCH_SIZE = 8;

/** At most this many time bins in the throughput plot. */
export const MAX_TIME_BINS = 60;

/** What a run's log says about it (its first lines), when the log was found. */
export interface RunLogInfo {
  /** The log file's name (run_YYYYMMDD_HHMMSS.log). */
  file: string;
  host?: string;
  pid?: number;
  node?: string;
  command?: string;
  settings?: string;
  batchSize?: number;
  shardLine?: string;
}

/** The Z column and the footers of the dataset's Parquet files, as far as they could be read. */
export interface ParquetFacts {
  /** Every Z value of every file read (one per kept row). */
  z: Float64Array;
  /** Files read, and those that could not be (path and why). */
  filesRead: number;
  /** The ok files with rows the journal lists; more than were read when only a sample was (a limit). */
  filesTotal: number;
  unreadable: { path: string; message: string }[];
  /** The distinct provenance documents of the footers (SPECPROD, RRVER, DEP:… versions, tool version), with how many files carry each. */
  provenance: { values: Record<string, string>; files: number; example: string }[];
}

export interface ReportInputs {
  out: string;
  now: Date;
  identity?: DatasetIdentity;
  plan?: Plan;
  records: readonly JournalRecord[];
  damaged?: number;
  runs: readonly RunInfo[];
  processGone?: (h: RunInfo) => boolean;
  /** Run id → what its log says. */
  logs: ReadonlyMap<string, RunLogInfo>;
  parquet: ParquetFacts;
  /** The --min-reduction line drawn on the reduction plot. */
  minReduction: number;
}

/** One rebuilt batch of a run. */
export interface BatchPoint {
  series: string;
  run: string;
  /** 1-based within its run. */
  index: number;
  tiles: number;
  fitsBytes: number;
  parquetBytes: number;
  fetchedBytes: number;
  /** 1 − Parquet/FITS over its done tiles (null when it has no FITS bytes: only failed or missing tiles). */
  reduction: number | null;
  /** ms since epoch: when its first tile and its last tile were journaled; `since`: the end of the batch before (or the run's start). */
  since: number;
  end: number;
}

/** One series of the throughput plot (a shard, or a run when there are no shards). */
export interface ThroughputSeries {
  name: string;
  /** Bin centre (ms since epoch) and FITS MB/s of the done tiles journaled in the bin. */
  points: { t: number; mbps: number }[];
  /** Each batch at its end: its FITS MB over the time since the batch before ended. */
  batches: { t: number; mbps: number; index: number; run: string }[];
}

/** One tile as its latest record says. */
export interface TilePoint {
  key: string;
  status: TileRecord['status'];
  rows: number;
  fitsBytes: number;
  fetchedBytes: number;
  parquetBytes: number;
  errorClass?: string;
}

export interface SkyPixel {
  healpix: number;
  ra: number;
  dec: number;
  rows: number;
  tiles: number;
}

export interface ZHistogram {
  lo: number;
  width: number;
  counts: number[];
  total: number;
  min: number;
  max: number;
  median: number;
}

export interface RunRow {
  run: string;
  time: string;
  version: string;
  selection: string;
  source: string;
  shard?: string;
  tiles: number;
  log?: RunLogInfo;
}

export interface ReportData {
  out: string;
  generated: string;
  status: Status;
  minReduction: number;
  batches: BatchPoint[];
  throughput: { binMs: number; start: number; end: number; series: ThroughputSeries[] };
  tiles: TilePoint[];
  sky: SkyPixel[];
  z: ZHistogram | null;
  runs: RunRow[];
  parquet: ParquetFacts;
}

/** The report's content from what was read. */
export function reportData(inp: ReportInputs): ReportData {
  const status = computeStatus({
    identity: inp.identity,
    plan: inp.plan,
    records: inp.records,
    runs: inp.runs,
    now: inp.now,
    damaged: inp.damaged,
    processGone: inp.processGone,
  });
  const runRecords = inp.records.filter((r): r is RunRecord => r.type === 'run');
  const tileRecords = inp.records.filter((r): r is TileRecord => r.type === 'tile');
  const runShard = new Map<string, string>();
  for (const r of runRecords) if (r.shard !== undefined) runShard.set(r.run, r.shard);
  const sharded = tileRecords.some((r) => (r.shard ?? runShard.get(r.run)) !== undefined);
  const seriesOf = (r: TileRecord): string => {
    const shard = r.shard ?? runShard.get(r.run);
    return sharded ? (shard !== undefined ? `shard ${shard}` : 'no shard') : `run ${r.run}`;
  };

  const batches = rebuildBatches(tileRecords, runRecords, inp.logs, seriesOf);
  const throughput = throughputSeries(tileRecords, runRecords, batches, seriesOf);

  const latest = new Map<string, TileRecord>();
  for (const r of tileRecords) latest.set(r.tile, r);
  const tiles: TilePoint[] = [...latest.values()].map((r) => {
    const t: TilePoint = {
      key: r.tile,
      status: r.status,
      rows: r.rows ?? 0,
      fitsBytes: r.fitsBytes ?? 0,
      fetchedBytes: r.fetchedBytes ?? 0,
      parquetBytes: r.parquetBytes ?? 0,
    };
    if (r.errorClass !== undefined) t.errorClass = r.errorClass;
    return t;
  });

  const runs: RunRow[] = runRecords.map((r) => {
    const row: RunRow = {
      run: r.run,
      time: r.time,
      version: r.version,
      selection: r.selection,
      source: r.source,
      tiles: tileRecords.filter((t) => t.run === r.run).length,
    };
    if (r.shard !== undefined) row.shard = r.shard;
    const log = inp.logs.get(r.run);
    if (log) row.log = log;
    return row;
  });

  return {
    out: inp.out,
    generated: inp.now.toISOString(),
    status,
    minReduction: inp.minReduction,
    batches,
    throughput,
    tiles,
    sky: skyPixels(tiles),
    z: zHistogram(inp.parquet.z),
    runs,
    parquet: inp.parquet,
  };
}

function timeOf(r: { time: string }): number {
  const t = Date.parse(r.time);
  return Number.isFinite(t) ? t : NaN;
}

/** Each run's tile records in journal order, in groups of its batch size (see the file's comment). */
export function rebuildBatches(
  tiles: readonly TileRecord[],
  runs: readonly RunRecord[],
  logs: ReadonlyMap<string, RunLogInfo>,
  seriesOf: (r: TileRecord) => string,
): BatchPoint[] {
  const byRun = new Map<string, TileRecord[]>();
  for (const r of tiles) {
    if (!Number.isFinite(timeOf(r))) continue;
    let list = byRun.get(r.run);
    if (!list) byRun.set(r.run, (list = []));
    list.push(r);
  }
  const started = new Map<string, number>();
  for (const r of runs) if (Number.isFinite(timeOf(r)) && !started.has(r.run)) started.set(r.run, timeOf(r));
  const out: BatchPoint[] = [];
  for (const [run, list] of byRun) {
    // Stable: records written in the same millisecond keep the journal's order.
    const sorted = list.map((r, i) => ({ r, i })).sort((a, b) => timeOf(a.r) - timeOf(b.r) || a.i - b.i);
    const size = logs.get(run)?.batchSize ?? DEFAULT_BATCH_SIZE;
    let since = started.get(run) ?? timeOf(sorted[0].r);
    for (let k = 0; k * size < sorted.length; k++) {
      const group = sorted.slice(k * size, (k + 1) * size).map((x) => x.r);
      const done = group.filter((r) => DONE_STATUSES.has(r.status));
      const fits = done.reduce((s, r) => s + (r.fitsBytes ?? 0), 0);
      const parquet = done.reduce((s, r) => s + (r.parquetBytes ?? 0), 0);
      const end = timeOf(group[group.length - 1]);
      out.push({
        series: seriesOf(group[0]),
        run,
        index: k + 1,
        tiles: group.length,
        fitsBytes: fits,
        parquetBytes: parquet,
        fetchedBytes: group.reduce((s, r) => s + (r.fetchedBytes ?? 0), 0),
        reduction: fits > 0 ? 1 - parquet / fits : null,
        since,
        end,
      });
      since = end;
    }
  }
  return out;
}

/** Bin widths the throughput plot may use: the smallest giving at most MAX_TIME_BINS bins wins. */
const BIN_WIDTHS_MS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);

/** FITS MB/s per time bin and per batch, one series per shard (or per run when no record names a shard). */
export function throughputSeries(
  tiles: readonly TileRecord[],
  runs: readonly RunRecord[],
  batches: readonly BatchPoint[],
  seriesOf: (r: TileRecord) => string,
): ReportData['throughput'] {
  const times = [...tiles, ...runs].map(timeOf).filter(Number.isFinite);
  if (times.length === 0) return { binMs: 1000, start: 0, end: 0, series: [] };
  const start = Math.min(...times);
  const end = Math.max(...times);
  const span = Math.max(1, end - start);
  const binMs =
    BIN_WIDTHS_MS.find((w) => span / w <= MAX_TIME_BINS) ??
    Math.ceil(span / MAX_TIME_BINS / BIN_WIDTHS_MS[BIN_WIDTHS_MS.length - 1]) * BIN_WIDTHS_MS[BIN_WIDTHS_MS.length - 1];
  const nBins = Math.floor(span / binMs) + 1;
  const bins = new Map<string, Float64Array>();
  const active = new Map<string, [number, number]>();
  for (const r of tiles) {
    const t = timeOf(r);
    if (!Number.isFinite(t)) continue;
    const name = seriesOf(r);
    let b = bins.get(name);
    if (!b) bins.set(name, (b = new Float64Array(nBins)));
    const i = Math.min(nBins - 1, Math.floor((t - start) / binMs));
    if (DONE_STATUSES.has(r.status)) b[i] += r.fitsBytes ?? 0;
    const [lo, hi] = active.get(name) ?? [i, i];
    active.set(name, [Math.min(lo, i), Math.max(hi, i)]);
  }
  const series: ThroughputSeries[] = [];
  for (const [name, b] of [...bins].sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0))) {
    const [lo, hi] = active.get(name)!;
    const points: ThroughputSeries['points'] = [];
    // Every bin's rate is over its whole width (the last one, cut short by the end of the records, reads
    // low rather than spiking on a few tiles written in its first milliseconds).
    for (let i = lo; i <= hi; i++) points.push({ t: start + (i + 0.5) * binMs, mbps: b[i] / MB / (binMs / 1000) });
    const own = batches.filter((x) => x.series === name);
    series.push({
      name,
      points,
      // A batch journaled within a second of the one before is taken over one second, so that a few tiles
      // written together do not read as a spike.
      batches: own.map((x) => ({ t: x.end, mbps: x.fitsBytes / MB / Math.max(1, (x.end - x.since) / 1000), index: x.index, run: x.run })),
    });
  }
  return { binMs, start, end, series };
}

/** The tile's healpix number: the last part of its key ("main/dark/23040"). */
export function healpixOf(key: string): number | undefined {
  const v = Number(key.slice(key.lastIndexOf('/') + 1));
  return Number.isInteger(v) && v >= 0 && v < 12 * DESI_NSIDE * DESI_NSIDE ? v : undefined;
}

/**
 * Kept rows per HEALPix pixel (nside 64, nested), summed over surveys and programs, at the pixel's centre;
 * done tiles only (an empty tile is a pixel with 0 rows).
 */
export function skyPixels(tiles: readonly TilePoint[]): SkyPixel[] {
  const byPixel = new Map<number, SkyPixel>();
  for (const t of tiles) {
    if (!DONE_STATUSES.has(t.status)) continue;
    const hp = healpixOf(t.key);
    if (hp === undefined) continue;
    let p = byPixel.get(hp);
    if (!p) byPixel.set(hp, (p = { healpix: hp, ...nestedPixelCenter(DESI_NSIDE, hp), rows: 0, tiles: 0 }));
    p.rows += t.rows;
    p.tiles += 1;
  }
  return [...byPixel.values()].sort((a, b) => a.healpix - b.healpix);
}

/** A histogram of Z: round bin widths (1, 2 or 5 × 10^k), about 40 bins over [min(0, lowest), highest]; null without values. */
export function zHistogram(z: Float64Array): ZHistogram | null {
  const values = z.filter(Number.isFinite).sort();
  if (values.length === 0) return null;
  const min = values[0];
  const max = values[values.length - 1];
  const raw = Math.max(max - Math.min(0, min), 1e-6) / 40;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const width = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const lo = Math.floor(Math.min(0, min) / width) * width;
  const nBins = Math.max(1, Math.floor((max - lo) / width) + 1);
  const counts = new Array<number>(nBins).fill(0);
  for (const v of values) counts[Math.min(nBins - 1, Math.floor((v - lo) / width))] += 1;
  const mid = values.length >> 1;
  const median = values.length % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
  return { lo, width, counts, total: values.length, min, max, median };
}
