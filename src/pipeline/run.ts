import { matchesTileSpec, tileFitsBytes, tileKey, type TileRef, type TileSpec } from '../desi/tile.js';
import { selectionText, type Selection } from '../desi/selection.js';
import type { TileStore } from '../storage/tile-store.js';
import type { OutputStore } from '../storage/output-store.js';
import { Journal } from './journal.js';
import type { JournalStore, TileRecord } from '../storage/journal-store.js';
import { RunLog } from './log.js';
import { Progress } from './progress.js';
import { WorkerPool } from './pool.js';
import { sample } from './sample.js';
import { runTile, type FetchMode, type TileJobContext, type TileOutcome } from './tile-job.js';
import { BatchTracker, type Batch } from './batches.js';
import { mapLimit } from '../util/concurrency.js';
import { readLimits } from './fetch.js';
import { ByteBudget } from './budget.js';
import { formatRetryCounters, newRetryCounters, type RetryCounters } from '../storage/retry.js';
import { BatchStats, FailureWindow, outcomeTable, tileLine, totalsLines } from './summary.js';
import { duration, mb, pct } from './format.js';

export interface RunOptions {
  store: TileStore;
  out: OutputStore;
  journal: JournalStore;
  selection: Selection;
  surveys: string[];
  programs: string[];
  /** Only these tiles (--tiles, parsed by parseTileSpecs): a healpix number in any survey/program asked for, or one tile. */
  tiles?: TileSpec[];
  sample?: number;
  seed: number;
  batchSize: number;
  maxBatches?: number;
  threads: number;
  /** Tiles read concurrently (each with its own ranged reads). */
  downloads: number;
  /** Ranged reads of one tile's spectra rows in flight at once (default DEFAULT_READS_PER_TILE). */
  readsPerTile?: number;
  /** Reads in flight across all tiles (default DEFAULT_READS_IN_FLIGHT). */
  readsInFlight?: number;
  logDir: string;
  maxFailureRate: number;
  minReduction: number;
  fetch: FetchMode;
  gapBytes: number;
  /** Budget of tile bytes in flight (--memory). */
  memoryBytes: number;
  keepFits?: TileJobContext['keepFits'];
  version: string;
  quiet?: boolean;
  progressIntervalMs?: number;
  /** The run's retry counters (openStores().retries): every S3 retry of the run, for the TOTALS line. */
  retries?: RetryCounters;
}

/** Exit statuses of `desi-qad convert`, as documented in the README. */
export const EXIT = {
  ok: 0, // every tile of the run is done (ok or empty)
  someFailed: 1, // the run finished, but some tiles failed or lack a source file: a later run retries them
  usage: 2, // bad options, or an --out made with another selection
  failureRate: 3, // stopped because too many recent tiles failed (--max-failure-rate)
  fatal: 4, // stopped because the output or journal cannot be written (disk full, read-only), or interrupted
} as const;

export interface RunResult {
  exitCode: number;
  outcomes: TileOutcome[];
  logPath: string;
}

export class UsageError extends Error {}

/**
 * One run of `desi-qad convert`: discover tiles, subtract the journal, cut batches, convert each batch's tiles
 * with bounded concurrency (I/O here, compute in the pool), journal every outcome after its file is in place,
 * and report in the seed's log lines. A tile's failure is an outcome, not an exception; the run stops early
 * only on the failure-rate rule, a fatal output error, or a signal, and always after the tiles in flight are
 * journaled.
 */
export async function runConvert(o: RunOptions): Promise<RunResult> {
  const startDate = new Date();
  const progress = new Progress({ quiet: o.quiet, intervalMs: o.progressIntervalMs });
  const log = new RunLog(o.logDir, startDate, (line, level) => progress.echo(line, level));
  const outcomes: TileOutcome[] = [];
  let pool: WorkerPool | undefined;
  let journal: Journal | undefined;
  let stopReason: 'failureRate' | 'fatal' | 'signal' | undefined;
  const onSignal = (sig: string) => {
    if (!stopReason) log.warn(`Received ${sig}: finishing the tiles in flight, then stopping. Run the same command to resume.`);
    stopReason = stopReason ?? 'signal';
  };
  const sigint = () => onSignal('SIGINT');
  const sigterm = () => onSignal('SIGTERM');
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);
  try {
    const sel = selectionText(o.selection);
    journal = await Journal.open(o.journal);
    if (journal.previousSelection !== undefined && journal.previousSelection !== sel) {
      throw new UsageError(
        `${o.out.root} holds a dataset made with the selection "${journal.previousSelection}", not "${sel}": use another --out, or the same selection`,
      );
    }
    if (journal.damagedLines > 0) log.warn(`Journal ${journal.location}: ${journal.damagedLines} damaged line(s) skipped; their tiles will be redone.`);
    const swept = await o.out.sweepTemporaries({ isGone: async () => false, heldByOther: async () => true });
    if (swept > 0) log.info(`Removed ${swept} temporary file(s) left by an interrupted run.`);
    const completed = journal.completed();
    log.info(`Found ${completed.size} completed tiles.`);

    const discovery = await o.store.discover({ surveys: o.surveys, programs: o.programs });
    for (const p of discovery.problems) log.warn(`Discovery: ${p}`);
    let tiles = filterTiles(discovery.tiles, o.tiles ?? []);
    if (o.sample !== undefined) tiles = sample(tiles, o.sample, o.seed);
    const remaining = tiles.filter((t) => !completed.has(tileKey(t)));
    log.info(`Discovered ${remaining.length} tiles remaining to be processed.`);
    if (discovery.tiles.length === 0) log.warn(`No tiles found under ${o.store.root} for survey ${o.surveys.join(',')} and program ${o.programs.join(',')}.`);

    const batches: TileRef[][] = [];
    for (let i = 0; i < remaining.length; i += o.batchSize) batches.push(remaining.slice(i, i + o.batchSize));
    if (o.maxBatches !== undefined) batches.splice(o.maxBatches);
    log.info(`Ready to process ${batches.length} batches of up to ${o.batchSize} tiles each.`);
    const run = runId(startDate);
    await journal.startRun({ type: 'run', run, time: startDate.toISOString(), version: o.version, selection: sel, source: o.store.root });

    pool = new WorkerPool(o.threads);
    pool.onWorkerError = (err) => log.error(`A worker thread failed outside a task and was replaced: ${err.message}`);
    const p = pool;
    const totalBytes = batches.flat().reduce((s, t) => s + tileFitsBytes(t), 0);
    const totalTiles = batches.reduce((s, b) => s + b.length, 0);
    progress.start(totalBytes, totalTiles);
    const window = new FailureWindow(100, 20);
    const runStats = new BatchStats();
    const budget = new ByteBudget(o.memoryBytes);
    let doneBytes = 0;
    const limits = readLimits(o.readsPerTile, o.readsInFlight);
    const ctx: TileJobContext = {
      store: o.store,
      out: o.out,
      pool,
      selection: o.selection,
      fetch: o.fetch,
      gapBytes: o.gapBytes,
      version: o.version,
      budget,
      limits,
      keepFits: o.keepFits,
    };
    const j = journal;
    const tracker = new BatchTracker(batches, () => p.busyMs());

    const summarize = (batch: Batch) => {
      const stats = batch.stats!;
      stats.finish();
      // The seed's line exactly; summaries come in batch order, so the i-th one is batch i's.
      log.info('--- Batch Summary ---');
      for (const t of batch.tiles) {
        const out = batch.outcomes.find((x) => x.tile === t);
        if (out) log.info(tileLine(out));
      }
      for (const line of stats.lines()) log.info(line);
      const idle = stats.ms > 0 ? Math.max(0, 1 - (batch.busy1 - batch.busy0) / (o.threads * stats.ms)) : 0;
      const ioSec = batch.outcomes.reduce((s, x) => s + x.ioMs, 0) / 1000;
      const poolSec = batch.outcomes.reduce((s, x) => s + x.poolMs, 0) / 1000;
      log.info(`  Retries         : ${formatRetryCounters(batch.retries)}`);
      log.info(
        `  Overlap         : reads ${ioSec.toFixed(2)} s, conversion ${poolSec.toFixed(2)} s (summed over tiles); pool idle ${pct(idle)} of its thread time in this batch (waiting for data)`,
      );
      if (batch.outcomes.length > 0 && stats.reduction() < o.minReduction) {
        log.warn(`Batch ${batch.index + 1}/${tracker.count}: data reduction ${pct(stats.reduction())} is under --min-reduction ${pct(o.minReduction)}`);
      }
      log.info(
        `Progress: ${outcomes.length}/${totalTiles} tiles, ${mb(doneBytes)} of ${mb(totalBytes)} MB, elapsed ${duration(Date.now() - startDate.getTime())}`,
      );
    };
    // Tiles flow through one bounded pipeline across batch boundaries, so the next batch's reads overlap
    // this batch's conversions; a batch's summary is logged, in order, once all of its tiles are journaled.
    const flat = batches.flatMap((tiles, b) => tiles.map((tile) => ({ tile, b })));
    await mapLimit(
      flat,
      o.downloads,
      async ({ tile, b }) => {
        if (tracker.start(b)) {
          log.info(`--- Starting Batch ${b + 1}/${batches.length} ---`);
        }
        const out = await runTile(ctx, tile);
        try {
          await j.record(toRecord(out, run));
        } catch (err) {
          log.error(`Cannot write the journal ${j.location}: ${(err as Error).message}`);
          stopReason = 'fatal';
        }
        if (out.fatal) {
          log.error(`Tile ${out.tile.healpix}: ${out.error} — the output cannot take more data; stopping after the tiles in flight.`);
          stopReason = 'fatal';
        }
        outcomes.push(out);
        runStats.add(out);
        doneBytes += out.fitsBytes;
        progress.update(doneBytes, outcomes.length);
        if (out.status !== 'missing') window.push(out.status === 'failed');
        if (!stopReason && window.exceeds(o.maxFailureRate)) {
          log.error(
            `Failure rate ${pct(window.rate())} among the last ${window.count} finished tiles exceeds --max-failure-rate ${pct(o.maxFailureRate)}; stopping after the tiles in flight.`,
          );
          stopReason = 'failureRate';
        }
        for (const batch of tracker.finish(b, out)) summarize(batch);
      },
      { stop: () => stopReason !== undefined },
    );
    // A run stopped early still reports the batches it started.
    for (const batch of tracker.rest()) summarize(batch);
    log.info(`Memory: at most ${mb(budget.peakInUse)} MB of tile data in flight (--memory ${mb(o.memoryBytes)} MB)`);
    progress.stop();
    runStats.finish();
    for (const line of outcomeTable(outcomes)) log.info(line);
    for (const line of totalsLines(runStats, Date.now() - startDate.getTime())) log.info(line);
    log.info(`  Retries         : ${formatRetryCounters(o.retries ?? newRetryCounters())}`);
    const exitCode =
      stopReason === 'failureRate'
        ? EXIT.failureRate
        : stopReason
          ? EXIT.fatal
          : outcomes.some((x) => x.status === 'failed' || x.status === 'missing')
            ? EXIT.someFailed
            : EXIT.ok;
    if (stopReason)
      log.warn(
        `Run stopped early (${stopReason === 'failureRate' ? 'failure rate' : stopReason === 'fatal' ? 'output not writable' : 'signal'}); exit status ${exitCode}. Run the same command to resume.`,
      );
    else log.info('✅ Run finished.');
    return { exitCode, outcomes, logPath: log.path };
  } catch (err) {
    progress.stop();
    log.error(err instanceof UsageError ? err.message : `Run aborted: ${(err as Error).stack ?? String(err)}`);
    return { exitCode: err instanceof UsageError ? EXIT.usage : EXIT.fatal, outcomes, logPath: log.path };
  } finally {
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigterm);
    await pool?.close();
    await journal?.close();
    log.close();
  }
}

function runId(d: Date): string {
  return `${d.toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${process.pid}`;
}

/** The tiles named by --tiles (all when none is named). */
function filterTiles(tiles: TileRef[], specs: TileSpec[]): TileRef[] {
  if (specs.length === 0) return tiles;
  return tiles.filter((t) => specs.some((s) => matchesTileSpec(t, s)));
}

function toRecord(o: TileOutcome, run: string): TileRecord {
  const r: TileRecord = {
    type: 'tile',
    tile: o.key,
    status: o.status,
    time: new Date().toISOString(),
    run,
    rows: o.rows,
    fitsBytes: o.fitsBytes,
    fetchedBytes: o.fetchedBytes,
    requests: o.requests,
    parquetBytes: o.parquetBytes,
  };
  if (o.path) r.path = o.path;
  if (o.errorClass) r.errorClass = o.errorClass;
  if (o.error) r.error = o.error;
  return r;
}
