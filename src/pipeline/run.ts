import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { matchesTileSpec, outputPath, tileFitsBytes, tileKey, tileLabel, tileSpecText, type Layout, type TileRef, type TileSpec } from '../desi/tile.js';
import { sourceFingerprint } from '../desi/fingerprint.js';
import type { ColumnSet } from '../desi/column-sets.js';
import { afterburnersRead, selectionText, type AfterburnerKind, type Selection } from '../desi/selection.js';
import { withAfterburners } from '../desi/afterburners.js';
import type { TileStore } from '../storage/tile-store.js';
import type { OutputStore } from '../storage/output-store.js';
import { DONE_STATUSES, Journal } from './journal.js';
import type { JournalStore, TileRecord } from '../storage/journal-store.js';
import { DATASET_FORMAT, DATASET_SCHEMA_VERSION, identityDifferences, type DatasetIdentity, type IdentityStore } from '../storage/dataset-identity.js';
import type { RunRegistry } from '../storage/run-registry.js';
import { redactSecrets } from '../util/secrets.js';
import { explainError } from '../cli/explain.js';
import { RunLog } from './log.js';
import { Progress } from './progress.js';
import { WorkerPool } from './pool.js';
import { sample } from './sample.js';
import { runTile, type FetchMode, type TileJobContext, type TileOutcome } from './tile-job.js';
import { WavelengthTable } from './wavelength-table.js';
import { BatchTracker, type Batch } from './batches.js';
import { mapLimit } from '../util/concurrency.js';
import { readLimits } from './fetch.js';
import { gapFallbackOf, inFlightLine, runAutoGap } from './link-settings.js';
import { ByteBudget } from './budget.js';
import { checkResume } from './resume-check.js';
import { formatRetryCounters, newRetryCounters, type RetryCounters } from '../storage/retry.js';
import { BatchStats, FailureWindow, outcomeTable, tileLine, totalsLines } from './summary.js';
import { duration, mb, pct } from './format.js';
import { PLAN_REL, planColumns, planWith, shardTiles, withGroupsOf, type Plan } from './plan-file.js';
import { emit, type BatchFigures, type RunCounts, type RunIdentity, type RunObserver } from './events.js';
import { newStreamCounters, streamChunkFromEnv } from '../storage/sequential-source.js';

export interface RunOptions {
  store: TileStore;
  out: OutputStore;
  journal: JournalStore;
  /** The dataset's manifest (one selection and source per --out). */
  identity: IdentityStore;
  /** Heartbeats and tile claims of the runs sharing --out. */
  registry: RunRegistry;
  /** This run's id (registry.run): it names the run in the journal, its temporaries and its claims. */
  run: string;
  selection: Selection;
  /** The column set (--columns; default 'default'): part of the dataset's identity. */
  columns?: ColumnSet;
  /** --with's afterburners (their columns are added to any selection): part of the dataset's identity. */
  withAfterburners?: AfterburnerKind[];
  /** --with resolution: the B/R/Z_RESOLUTION columns; part of the dataset's identity. */
  withResolution?: boolean;
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
  /** The merge gap of ranged reads, or 'auto' (pipeline/auto-gap.ts: chosen from the link the run measures). */
  gapBytes: number | 'auto';
  /** With gapBytes 'auto': the gap used until the link is measured (default 16 KiB on S3, 64 KiB otherwise). */
  gapFallback?: number;
  /** Budget of tile bytes in flight (--memory). */
  memoryBytes: number;
  keepFits?: TileJobContext['keepFits'];
  version: string;
  quiet?: boolean;
  progressIntervalMs?: number;
  /** The run's retry counters (openStores().retries): every S3 retry of the run, for the TOTALS line. */
  retries?: RetryCounters;
  /** --allow-missing: folders of the source that cannot be read are warnings, not a fatal stop. */
  allowMissing?: boolean;
  /** The command line, for the log's first lines (secrets are redacted when it is written). */
  command?: string;
  /** Seconds between two looks at tiles that other live runs are converting (default 5). */
  deferPollMs?: number;
  /**
   * This run is shard `index` of `count` of `plan` (`from`: --shard or the scheduler's variable that said so):
   * it converts the plan's tiles of that shard, without discovery. Both or neither are given.
   */
  shard?: { index: number; count: number; from: string };
  plan?: Plan;
  /** Told of the run's milestones (notifications); called synchronously, must not block. */
  observers?: RunObserver[];
  /** The dataset's name for observers (--out, secrets redacted); default out.root. */
  datasetName?: string;
}

/** Exit statuses of `desi-qad convert`, as documented in the README. */
export const EXIT = {
  ok: 0, // every tile of the run is done (ok or empty)
  someFailed: 1, // the run finished, but some tiles failed or lack a source file: a later run retries them
  usage: 2, // bad options, or an --out made with another selection or source
  failureRate: 3, // stopped because too many recent tiles failed (--max-failure-rate)
  fatal: 4, // stopped: the source cannot be listed or read, the output or journal cannot be written, or a signal
} as const;

export interface RunResult {
  exitCode: number;
  outcomes: TileOutcome[];
  logPath: string;
  /** Tiles this run found being converted by another live run and left to it (or did itself later). */
  deferred?: number;
}

/** A refusal the user can fix with other options (exit 2); printed without a stack trace. */
export class UsageError extends Error {}

/** A stop the user must act on (exit 4): no source, an unreadable folder. Printed without a stack trace. */
export class FatalRunError extends Error {}

type StopReason = 'failureRate' | 'fatal' | 'signal';

/**
 * One run of `desi-qad convert`: check the dataset's identity, discover tiles, subtract what the journal
 * says is done (after checking it still holds), cut batches, convert each batch's tiles with bounded
 * concurrency (I/O here, compute in the pool) under a claim no other live run holds, journal every outcome
 * after its file is confirmed in place, and report in the seed's log lines. A tile's failure is an outcome,
 * not an exception; the run stops early only on the failure-rate rule, a fatal output error, or a signal, and
 * always after the tiles in flight are journaled.
 */
export async function runConvert(o: RunOptions): Promise<RunResult> {
  const startDate = new Date();
  const progress = new Progress({ quiet: o.quiet, intervalMs: o.progressIntervalMs });
  let log: RunLog;
  try {
    const suffix = o.shard ? `shard-${o.shard.index}-of-${o.shard.count}` : undefined;
    log = new RunLog(o.logDir, startDate, (line, level) => progress.echo(line, level), suffix);
  } catch (err) {
    const e = explainError(err);
    progress.echo(`desi-qad: ${e.message}${e.hint ? `\nhint: ${e.hint}` : ''}`, 'ERROR');
    return { exitCode: EXIT.fatal, outcomes: [], logPath: '' };
  }
  const outcomes: TileOutcome[] = [];
  let pool: WorkerPool | undefined;
  let journal: Journal | undefined;
  let registered = false;
  let stopReason: StopReason | undefined;
  let stopMessage = '';
  // What observers are told; set once the run knows its tiles.
  let id: RunIdentity | undefined;
  let counts: () => RunCounts = () => emptyCounts(startDate);
  // Observers write their own WARN lines here (RunIdentity.warn) until the log closes.
  let logOpen = true;
  const warn = (m: string): boolean => {
    if (logOpen) log.warn(m);
    return logOpen;
  };
  const abort = new AbortController();
  const signal = abort.signal;
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      log.error(`Received ${sig} again: exiting now. Tiles in flight are not journaled; the next run redoes them.`);
      log.close();
      process.exit(EXIT.fatal);
    }
    log.warn(
      `Received ${sig}: stopping reads in flight, journaling what finished, then exiting. A second signal exits at once. Run the same command to resume.`,
    );
    if (!stopReason) {
      stopReason = 'signal';
      stopMessage = `interrupted by ${sig}`;
    }
    abort.abort(new Error(`interrupted by ${sig}`));
  };
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => {
    const h = () => onSignal(sig);
    process.on(sig, h);
    return [sig, h] as const;
  });
  try {
    const sel = selectionText(o.selection);
    for (const line of firstLines(o, sel)) log.info(line);

    // 1. The dataset's identity, before anything is written: a dataset never mixes selections or sources.
    journal = await Journal.open(o.journal);
    // A plan of another column set than the dataset's is refused in the plan's words (before the identity's).
    if (o.shard && o.plan) await checkPlanDataset(o.plan, o.identity, o.out, signal);
    await checkIdentity({
      identity: o.identity,
      journal,
      out: o.out,
      source: o.store.root,
      layout: o.store.layout,
      selection: sel,
      columns: o.columns ?? 'default',
      withAfterburners: o.withAfterburners,
      withResolution: o.withResolution,
      version: o.version,
      run: o.run,
      start: startDate,
      log,
      signal,
    });
    const plan = o.shard
      ? checkPlan(o.plan, o.shard, sel, o.columns ?? 'default', withGroupsOf(o), o.store.root, o.out, o.store.layout ?? 'healpix')
      : undefined;
    if (journal.damagedLines > 0) log.warn(`Journal ${journal.location}: ${journal.damagedLines} damaged line(s) skipped; their tiles will be redone.`);

    // 2. This run's heartbeat, then the leftovers of runs that are provably gone (never a live run's).
    await o.registry.start();
    registered = true;
    const registry = o.registry;
    const swept = await o.out.sweepTemporaries({ isGone: (run) => registry.isGone(run), heldByOther: (tile) => registry.heldByOther(tile) });
    if (swept > 0) log.info(`Removed ${swept} temporary file(s) or upload(s) left by runs that are gone.`);

    // 3. Discovery (a hole in it is never a success), or the shard's tiles as the plan lists them.
    // Only the afterburners the selection and --with read stay on each tile: they are part of its source fingerprint.
    const needed = afterburnersRead(o.selection, o.withAfterburners);
    const tiles = (plan && o.shard ? shardTiles(plan, o.shard.index) : await discoverTiles({ ...o, log, signal })).map((t) => withAfterburners(t, needed));

    // 4. Resume: what the journal calls done is skipped only if it still holds.
    const check = await checkResume({ tiles, done: journal.doneRecords(), out: o.out, selection: sel, signal });
    if (check.damaged.length > 0) {
      log.warn(`${check.damaged.length} journaled tiles were missing or damaged; redone (e.g. ${check.damaged[0].tile}: ${check.damaged[0].why}).`);
    }
    if (check.changed.length > 0)
      log.info(`${check.changed.length} tiles whose coadd or redrock changed since they were converted; redone (e.g. ${check.changed[0]}).`);
    const completed = check.done;
    log.info(`Found ${completed.size} completed tiles.`);
    const remaining = tiles.filter((t) => !completed.has(tileKey(t)));
    log.info(`Discovered ${remaining.length} tiles remaining to be processed.`);

    const batches: TileRef[][] = [];
    for (let i = 0; i < remaining.length; i += o.batchSize) batches.push(remaining.slice(i, i + o.batchSize));
    if (o.maxBatches !== undefined) batches.splice(o.maxBatches);
    log.info(`Ready to process ${batches.length} batches of up to ${o.batchSize} tiles each.`);
    const run = o.run;
    const shard = o.shard ? `${o.shard.index}/${o.shard.count}` : undefined;
    await journal.startRun({
      type: 'run',
      run,
      time: startDate.toISOString(),
      version: o.version,
      selection: sel,
      source: o.store.root,
      ...(shard ? { shard } : {}),
    });

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
    let doneTiles = 0;
    counts = () => runCounts(startDate, outcomes, totalTiles, totalBytes, doneTiles, doneBytes);
    id = { run, shard, dataset: o.datasetName ?? o.out.root, selection: sel, source: o.store.root, logPath: log.path, warn };
    emit(o.observers, { kind: 'started', id, counts: counts(), batches: batches.length });
    const limits = readLimits(o.readsPerTile, o.readsInFlight);
    const autoGap = o.gapBytes === 'auto' && o.fetch === 'ranges' ? runAutoGap(o, limits, log) : undefined;
    let fallbackWarnings = 0;
    const ctx: TileJobContext = {
      store: o.store,
      out: o.out,
      pool,
      selection: o.selection,
      withAfterburners: o.withAfterburners,
      columns: o.columns ?? 'default',
      withResolution: o.withResolution === true,
      fetch: o.fetch,
      gapBytes: typeof o.gapBytes === 'number' ? o.gapBytes : gapFallbackOf(o),
      autoGap,
      version: o.version,
      budget,
      limits,
      keepFits: o.keepFits,
      // The first few backward reads of the streamed --fetch full are logged; all are counted.
      stream: {
        counters: newStreamCounters(),
        warn: (m) => {
          if (fallbackWarnings++ < 5) log.warn(m);
        },
        chunkBytes: streamChunkFromEnv(),
      },
      signal,
      wavelengths: new WavelengthTable(o.out),
      earlierFile: (tile) => {
        const rec = journal?.latestRecord(tileKey(tile));
        return rec?.status === 'ok' ? (rec.path ?? outputPath(tile)) : undefined;
      },
    };
    const j = journal;
    const tracker = new BatchTracker(batches, () => p.busyMs());
    // Tiles found claimed by another live run: left to it, and looked at again at the end.
    const deferredKeys = new Set<string>();
    const deferred: TileRef[] = [];

    const summarize = (batch: Batch) => {
      const stats = batch.stats!;
      stats.finish();
      // The seed's line exactly; summaries come in batch order, so the i-th one is batch i's.
      log.info('--- Batch Summary ---');
      for (const t of batch.tiles) {
        const out = batch.outcomes.find((x) => x.tile === t);
        if (out) log.info(tileLine(out));
        else if (deferredKeys.has(tileKey(t)))
          log.info(`  Tile ${tileLabel(t)}: Survey=${t.survey}, Program=${t.program}, Status=deferred (another live run is converting it)`);
        else log.info(`  Tile ${tileLabel(t)}: Survey=${t.survey}, Program=${t.program}, Status=done (by another run since this run started)`);
      }
      for (const line of stats.lines()) log.info(line);
      const idle = stats.ms > 0 ? Math.max(0, 1 - (batch.busy1 - batch.busy0) / (o.threads * stats.ms)) : 0;
      const ioSec = batch.outcomes.reduce((s, x) => s + x.ioMs, 0) / 1000;
      const poolSec = batch.outcomes.reduce((s, x) => s + x.poolMs, 0) / 1000;
      log.info(`  Retries         : ${formatRetryCounters(batch.retries)}`);
      log.info(
        `  Overlap         : reads ${ioSec.toFixed(2)} s, conversion ${poolSec.toFixed(2)} s (summed over tiles); pool idle ${pct(idle)} of its thread time in this batch (waiting for data)`,
      );
      const figures = batchFigures(batch, tracker.count);
      if (batch.outcomes.length > 0 && stats.reduction() < o.minReduction) {
        log.warn(`Batch ${batch.index + 1}/${tracker.count}: data reduction ${pct(stats.reduction())} is under --min-reduction ${pct(o.minReduction)}`);
        if (id) emit(o.observers, { kind: 'lowReduction', id, counts: counts(), batch: figures, minReduction: o.minReduction });
      }
      log.info(`Progress: ${doneTiles}/${totalTiles} tiles, ${mb(doneBytes)} of ${mb(totalBytes)} MB, elapsed ${duration(Date.now() - startDate.getTime())}`);
      if (id) emit(o.observers, { kind: 'batch', id, counts: counts(), batch: figures });
    };

    /** Journals a finished tile (not an aborted one) and counts it; false when the journal cannot be written. */
    const finishTile = async (out: TileOutcome, tile: TileRef): Promise<void> => {
      try {
        await j.record(toRecord(out, run, tile, shard));
      } catch (err) {
        stopMessage = `Cannot write the journal ${j.location}: ${redactSecrets((err as Error).message)}`;
        log.error(stopMessage);
        stopReason = 'fatal';
      }
      if (out.fatal) {
        stopMessage = `Tile ${tileLabel(out.tile)}: ${out.error ?? ''} — the output cannot take more data`;
        log.error(`${stopMessage}; stopping after the tiles in flight.`);
        stopReason = 'fatal';
      }
      outcomes.push(out);
      runStats.add(out);
      if (out.status !== 'missing') window.push(out.status === 'failed');
      if (!stopReason && window.exceeds(o.maxFailureRate)) {
        stopMessage = `Failure rate ${pct(window.rate())} among the last ${window.count} finished tiles exceeds --max-failure-rate ${pct(o.maxFailureRate)}`;
        log.error(`${stopMessage}; stopping after the tiles in flight.`);
        stopReason = 'failureRate';
      }
    };

    // Once another live run has been seen, the journal is re-read (at most every half second) before a claimed
    // tile is converted: a tile that run finished and released since this run loaded the journal is skipped.
    let sawOtherRun = false;
    let refreshedAt = Date.now();
    let refreshMs = 0;
    let refreshing: Promise<void> | undefined;
    const doneElsewhere = async (tile: TileRef): Promise<boolean> => {
      if (!sawOtherRun) return false;
      // At most every 500 ms, and never more than 5% of the time (a LIST of a large S3 journal takes a while).
      if (Date.now() - refreshedAt > Math.max(500, 20 * refreshMs)) {
        refreshing ??= (async () => {
          const t = Date.now();
          try {
            await j.refresh();
          } finally {
            refreshMs = Date.now() - t;
            refreshedAt = Date.now();
            refreshing = undefined;
          }
        })();
        await refreshing;
      }
      const rec = j.latestRecord(tileKey(tile));
      return rec !== undefined && rec.run !== run && DONE_STATUSES.has(rec.status) && (rec.sources === undefined || rec.sources === sourceFingerprint(tile));
    };
    let doneMeanwhile = 0;

    /** Converts a tile under this run's claim; 'deferred' when another live run holds it. */
    const convertClaimed = async (tile: TileRef): Promise<TileOutcome | 'deferred' | 'aborted' | 'done'> => {
      const key = tileKey(tile);
      const claim = await registry.claim(key);
      if (!claim.ok) {
        sawOtherRun = true;
        return 'deferred';
      }
      try {
        if (await doneElsewhere(tile)) {
          doneMeanwhile += 1;
          return 'done';
        }
        const out = await runTile(ctx, tile);
        if (out.aborted) return 'aborted';
        await finishTile(out, tile);
        return out;
      } finally {
        await registry.release(key).catch(() => undefined);
      }
    };

    // Tiles flow through one bounded pipeline across batch boundaries, so the next batch's reads overlap
    // this batch's conversions; a batch's summary is logged, in order, once all of its tiles are journaled.
    const flat = batches.flatMap((tiles, b) => tiles.map((tile) => ({ tile, b })));
    await mapLimit(
      flat,
      o.downloads,
      async ({ tile, b }) => {
        if (tracker.start(b)) log.info(`--- Starting Batch ${b + 1}/${batches.length} ---`);
        const r = await convertClaimed(tile);
        if (r === 'aborted') return;
        if (r === 'done') {
          doneBytes += tileFitsBytes(tile);
          doneTiles += 1;
          progress.update(doneBytes, doneTiles);
          for (const batch of tracker.finish(b, undefined)) summarize(batch);
          return;
        }
        if (r === 'deferred') {
          deferredKeys.add(tileKey(tile));
          deferred.push(tile);
          // The batch's summary does not wait for a tile another run converts.
          for (const batch of tracker.finish(b, undefined)) summarize(batch);
          return;
        }
        doneBytes += r.fitsBytes;
        doneTiles += 1;
        progress.update(doneBytes, doneTiles);
        for (const batch of tracker.finish(b, r)) summarize(batch);
      },
      { stop: () => stopReason !== undefined },
    );
    // A run stopped early still reports the batches it started.
    for (const batch of tracker.rest()) summarize(batch);

    // 5. Tiles other live runs were converting: wait until they are journaled, or their run is gone and this
    // run can claim them. A run ends with exit 0 only when every tile it was asked for is done.
    let doneByOthers = 0;
    if (deferred.length > 0 && !stopReason) {
      log.info(`${deferred.length} tiles were being converted by other live runs; waiting for them (a crashed run's claims expire).`);
      let waiting = deferred;
      while (waiting.length > 0 && !stopReason) {
        await sleep((o.deferPollMs ?? 5000) * (0.5 + Math.random()), undefined, { signal }).catch(() => undefined);
        if (stopReason) break;
        await j.refresh();
        const done = j.completed();
        const next: TileRef[] = [];
        await mapLimit(
          waiting,
          o.downloads,
          async (tile) => {
            const rec = j.latestRecord(tileKey(tile));
            if (done.has(tileKey(tile)) && rec && (rec.sources === undefined || rec.sources === sourceFingerprint(tile))) {
              doneByOthers += 1;
              doneBytes += tileFitsBytes(tile);
              doneTiles += 1;
              progress.update(doneBytes, doneTiles);
              return;
            }
            const r = await convertClaimed(tile);
            if (r === 'deferred') next.push(tile);
            else if (r === 'done') {
              doneByOthers += 1;
              doneBytes += tileFitsBytes(tile);
              doneTiles += 1;
              progress.update(doneBytes, doneTiles);
            } else if (r !== 'aborted') {
              log.info(tileLine(r));
              doneBytes += r.fitsBytes;
              doneTiles += 1;
              progress.update(doneBytes, doneTiles);
            }
          },
          { stop: () => stopReason !== undefined },
        );
        waiting = next;
      }
      log.info(
        `Deferred tiles: ${doneByOthers} converted by other runs, ${deferred.length - doneByOthers - waiting.length} by this run, ${waiting.length} left.`,
      );
    }

    if (doneMeanwhile > 0) log.info(`${doneMeanwhile} tiles were converted by other runs after this run started; skipped.`);
    log.info(`Memory: at most ${mb(budget.peakInUse)} MB of tile data in flight (--memory ${mb(o.memoryBytes)} MB)`);
    log.info(inFlightLine(limits));
    if (autoGap) log.info(`Gap: --gap-bytes auto ended at ${autoGap.last} bytes`);
    const sc = ctx.stream?.counters;
    if (sc && sc.streamedBytes > 0)
      log.info(
        `Streamed --fetch full: ${mb(sc.streamedBytes)} MB read front to back, ${mb(sc.keptBytes)} MB of it kept; ${sc.peeks} header peeks, ${sc.fallbacks} backward reads (${mb(sc.fallbackBytes)} MB)`,
      );
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
    if (stopReason) {
      const why = stopReason === 'failureRate' ? 'failure rate' : stopReason === 'fatal' ? 'output not writable' : 'signal';
      log.warn(`Run stopped early (${why}); exit status ${exitCode}. Run the same command to resume.`);
      if (id) emit(o.observers, { kind: 'stopped', id, counts: counts(), reason: stopReason, message: stopMessage, exitCode });
    } else if (exitCode === EXIT.someFailed) {
      // Not "✅ Run finished.": the dataset has holes, and the line says so.
      const failed = outcomes.filter((x) => x.status === 'failed').length;
      const missing = outcomes.filter((x) => x.status === 'missing').length;
      const line = `Run finished with ${failed} failed and ${missing} missing-source tiles; exit status ${exitCode}.`;
      log.warn(`${line} Run the same command to retry them.`);
      if (id) emit(o.observers, { kind: 'finished', id, counts: counts(), exitCode, outcomeTable: outcomeTable(outcomes), line });
    } else {
      log.info('✅ Run finished.');
      if (id) emit(o.observers, { kind: 'finished', id, counts: counts(), exitCode, outcomeTable: outcomeTable(outcomes), line: 'Run finished.' });
    }
    return { exitCode, outcomes, logPath: log.path, deferred: deferred.length };
  } catch (err) {
    progress.stop();
    const exitCode = logStop(log, err, 'Run', signal.aborted);
    emit(o.observers, {
      kind: 'stopped',
      id: id ?? { run: o.run, dataset: o.datasetName ?? o.out.root, selection: selectionText(o.selection), source: o.store.root, logPath: log.path, warn },
      counts: counts(),
      reason: signal.aborted ? 'signal' : 'fatal',
      message: redactSecrets(explainError(err).message),
      exitCode,
    });
    return { exitCode, outcomes, logPath: log.path };
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
    await pool?.close();
    if (registered) await o.registry.stop().catch(() => undefined);
    await journal?.close();
    logOpen = false;
    log.close();
  }
}

/**
 * The dataset's identity (`_desi-qad/dataset.json`), established by the first run and checked by every later
 * one (convert, a shard, plan): the same selection and source, or a UsageError saying what differs. A dataset
 * written before manifests existed is checked against its journal's runs. Logs which of the two it was.
 */
export async function checkIdentity(o: {
  identity: IdentityStore;
  journal: Journal;
  out: OutputStore;
  source: string;
  /** The source's layout (default healpix): part of the dataset's identity. */
  layout?: Layout;
  selection: string;
  /** The column set; 'default' when not given. */
  columns?: ColumnSet;
  /** --with's afterburners; none when not given. */
  withAfterburners?: readonly AfterburnerKind[];
  /** --with resolution (default false). */
  withResolution?: boolean;
  version: string;
  run: string;
  start: Date;
  log: RunLog;
  signal?: AbortSignal;
}): Promise<void> {
  const sel = o.selection;
  const existing = await o.identity.read(o.signal);
  if (!existing && o.journal.previousSelection !== undefined && o.journal.previousSelection !== sel) {
    // A dataset written before manifests existed: its journal's runs say what it holds.
    throw new UsageError(
      `${o.out.root} holds a dataset made with the selection "${o.journal.previousSelection}", not "${sel}": use another --out, or the same selection`,
    );
  }
  const proposed: DatasetIdentity = {
    format: DATASET_FORMAT,
    schemaVersion: DATASET_SCHEMA_VERSION,
    selection: sel,
    columns: o.columns ?? 'default',
    ...(o.withAfterburners?.length ? { with: [...o.withAfterburners] } : {}),
    ...(o.withResolution === true ? { resolution: true as const } : {}),
    source: o.source,
    ...(o.layout === 'tiles' ? { layout: 'tiles' as const } : {}),
    toolVersion: o.version,
    created: o.start.toISOString(),
    createdBy: o.run,
  };
  const { identity, created } = existing ? { identity: existing, created: false } : await o.identity.establish(proposed, o.signal);
  const differences = identityDifferences(identity, proposed);
  if (differences.length > 0) {
    throw new UsageError(
      [
        `${o.out.root} is a dataset of another selection or source (${o.identity.location}, created ${identity.created} by run ${identity.createdBy}):`,
        ...differences.map((d) => `  ${d}`),
        ...(identity.schemaVersion < DATASET_SCHEMA_VERSION
          ? [
              `  (schema version ${identity.schemaVersion} is an older desi-qad's column layout: its files cannot be mixed with this version's; finish it with that version, or convert into a new --out)`,
            ]
          : []),
        `Use a new --out for this selection and source, or run with the dataset's own options.`,
      ].join('\n'),
    );
  }
  o.log.info(
    created
      ? `Created the dataset's manifest ${o.identity.location}.`
      : `Dataset ${o.identity.location}: same selection and source, created ${identity.created}.`,
  );
}

/**
 * The tiles a run (or a plan) is asked for: discovery of the surveys and programs, then --tiles, then
 * --sample. A folder that cannot be read is fatal unless allowMissing; no tile at all is fatal too.
 */
export async function discoverTiles(o: {
  store: TileStore;
  surveys: string[];
  programs: string[];
  tiles?: TileSpec[];
  sample?: number;
  seed: number;
  allowMissing?: boolean;
  log: RunLog;
  signal?: AbortSignal;
}): Promise<TileRef[]> {
  const log = o.log;
  const discovery = await o.store.discover({ surveys: o.surveys, programs: o.programs }, o.signal);
  for (const p of discovery.problems) log.warn(`Discovery: ${p}`);
  if (discovery.unreadable.length > 0) {
    for (const u of discovery.unreadable) log.error(`Discovery: cannot read ${u}`);
    if (!o.allowMissing)
      throw new FatalRunError(
        `${discovery.unreadable.length} folder(s) under ${o.store.root} cannot be read, so their tiles would be missing from the dataset; fix the permissions, or pass --allow-missing to go on without them`,
      );
    log.warn(`--allow-missing: going on without the tiles of ${discovery.unreadable.length} unreadable folder(s).`);
  }
  if (discovery.tiles.length === 0 && o.store.layout === 'tiles')
    throw new FatalRunError(`no tile-layout units found under ${o.store.root} (check --source: the tiles/cumulative folder, holding {TILEID}/{LASTNIGHT}/)`);
  if (discovery.tiles.length === 0)
    throw new FatalRunError(
      `no tiles found under ${o.store.root} for survey ${o.surveys.join(',')} and program ${o.programs.join(',')} (check --source, --survey, --program)`,
    );
  const specs = o.tiles ?? [];
  for (const s of specs)
    if (!discovery.tiles.some((t) => matchesTileSpec(t, s)))
      log.warn(`--tiles ${specText(s)} matches no tile of the source for the surveys and programs asked for.`);
  let tiles = specs.length === 0 ? discovery.tiles : discovery.tiles.filter((t) => specs.some((s) => matchesTileSpec(t, s)));
  if (tiles.length === 0) throw new FatalRunError(`--tiles matches none of the ${discovery.tiles.length} tiles discovered under ${o.store.root}`);
  if (o.sample !== undefined) tiles = sample(tiles, o.sample, o.seed);
  return tiles;
}

/** A shard's plan must be of this run's selection, source and number of shards: a UsageError otherwise. */
function checkPlan(
  plan: Plan | undefined,
  shard: { index: number; count: number },
  sel: string,
  columns: ColumnSet,
  withGroups: string[],
  source: string,
  out: OutputStore,
  layout: string,
): Plan {
  const where = out.location(PLAN_REL);
  if (!plan) throw new UsageError(noPlanMessage(out.root));
  if (plan.shards !== shard.count)
    throw new UsageError(`${where} has ${plan.shards} shards, not ${shard.count}: run \`desi-qad plan\` again, or use --shard K/${plan.shards}`);
  if (plan.selection !== sel)
    throw new UsageError(`${where} was made for the selection "${plan.selection}", not "${sel}": run the shard with the plan's selection options`);
  if (plan.source !== source) throw new UsageError(`${where} was made for the source ${plan.source}, not ${source}: omit --source, or give the plan's`);
  if (planColumns(plan) !== columns)
    throw new UsageError(`${where} was made for --columns ${planColumns(plan)}, not ${columns}: omit --columns (the plan's is used), or give the plan's`);
  const planGroups = planWith(plan).join(',');
  if (planGroups !== withGroups.join(','))
    throw new UsageError(
      `${where} was made for ${planGroups ? `--with ${planGroups}` : 'no --with'}, not ${withGroups.length > 0 ? `--with ${withGroups.join(',')}` : 'no --with'}: omit --with (the plan's is used), or give the plan's`,
    );
  const planLayout = plan.layout ?? 'healpix';
  if (planLayout !== layout) throw new UsageError(`${where} was made for --layout ${planLayout}, not ${layout}: run the shard with --layout ${planLayout}`);
  return plan;
}

/** A plan whose column set is not the dataset's (a plan.json from elsewhere, or an older one) is refused, naming both. */
async function checkPlanDataset(plan: Plan, identity: IdentityStore, out: OutputStore, signal?: AbortSignal): Promise<void> {
  const dataset = await identity.read(signal);
  if (dataset && dataset.columns !== planColumns(plan))
    throw new UsageError(
      `${out.location(PLAN_REL)} was made for --columns ${planColumns(plan)}, but the dataset in ${out.root} has --columns ${dataset.columns} (${identity.location}): run \`desi-qad plan\` again for this dataset`,
    );
}

/** What a shard without a plan is told (exit 2). */
export function noPlanMessage(out: string): string {
  return `no plan in ${out}: run \`desi-qad plan --out ${out} --shards N …\` first`;
}

/** "Shard 2/4 (from SLURM_ARRAY_TASK_ID): 10 tiles, 2,027.90 MB of the plan's 40 tiles". */
export function shardLine(plan: Plan, shard: { index: number; count: number; from: string }): string {
  const k = shard.index;
  return `Shard ${k}/${shard.count} (from ${shard.from}): ${plan.shardTiles[k] ?? 0} tiles, ${mb(plan.shardBytes[k] ?? 0)} MB of the plan's ${plan.totalTiles} tiles (${mb(plan.totalBytes)} MB), plan made ${plan.created} by run ${plan.createdBy}`;
}

/**
 * Logs why a command (a run, a plan) stopped before its end and returns its exit status: a usage error (2) or
 * an expected stop (4) as its message; an error after a signal as an interruption; anything else explained
 * (explain.ts: message and hint), with the stack when it looks like a bug.
 */
export function logStop(log: RunLog, err: unknown, what: 'Run' | 'Plan', interrupted = false): number {
  const code = err instanceof UsageError ? EXIT.usage : EXIT.fatal;
  if (err instanceof UsageError || err instanceof FatalRunError) log.error(err.message);
  else if (interrupted) log.error(`${what} interrupted: ${redactSecrets((err as Error).message)}`);
  else {
    const e = explainError(err);
    log.error(`${what} aborted: ${e.message}`);
    if (e.hint) log.error(`hint: ${e.hint}`);
    if (!e.expected) log.error(`This looks like a bug in desi-qad; please report it with the log ${log.path}. ${(err as Error).stack ?? ''}`);
  }
  log.error(`Exit status ${code}.`);
  return code;
}

/** The log's first lines: what was run, by which version, from where to where, with which selection. */
function firstLines(o: RunOptions, sel: string): string[] {
  return [
    `${o.version}: run ${o.run} on ${hostname()} (pid ${process.pid}), Node ${process.version}`,
    ...(o.command ? [`Command: ${o.command}`] : []),
    `Source: ${o.store.root} (${o.store.layout === 'tiles' ? 'layout tiles' : `survey ${o.surveys.join(',')}, program ${o.programs.join(',')}`}${o.tiles?.length ? `, tiles ${o.tiles.map(specText).join(',')}` : ''}${o.sample !== undefined ? `, sample ${o.sample} seed ${o.seed}` : ''})`,
    `Output: ${o.out.root}`,
    `Selection: ${sel}`,
    ...(o.shard && o.plan ? [shardLine(o.plan, o.shard)] : []),
    `Settings: --threads ${o.threads} --downloads ${o.downloads} --fetch ${o.fetch} --gap-bytes ${o.gapBytes} --memory ${mb(o.memoryBytes)} MB --batch-size ${o.batchSize}`,
  ];
}

const specText = tileSpecText;

function toRecord(o: TileOutcome, run: string, tile: TileRef, shard: string | undefined): TileRecord {
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
    sources: sourceFingerprint(tile),
  };
  if (o.path) r.path = o.path;
  if (shard) r.shard = shard;
  if (o.errorClass) r.errorClass = o.errorClass;
  if (o.error) r.error = redactSecrets(o.error);
  return r;
}

function emptyCounts(start: Date): RunCounts {
  return runCounts(start, [], 0, 0, 0, 0);
}

/** The run's counts so far, for observers. */
function runCounts(start: Date, outcomes: readonly TileOutcome[], totalTiles: number, totalBytes: number, doneTiles: number, doneBytes: number): RunCounts {
  const elapsedMs = Date.now() - start.getTime();
  const count = (s: string) => outcomes.filter((x) => x.status === s).length;
  const fits = outcomes.reduce((s, x) => s + x.fitsBytes, 0);
  const parquetBytes = outcomes.reduce((s, x) => s + x.parquetBytes, 0);
  const left = totalBytes - doneBytes;
  return {
    totalTiles,
    doneTiles,
    totalBytes,
    doneBytes,
    ok: count('ok'),
    empty: count('empty'),
    failed: count('failed'),
    missing: count('missing'),
    rows: outcomes.reduce((s, x) => s + x.rows, 0),
    fetchedBytes: outcomes.reduce((s, x) => s + x.fetchedBytes, 0),
    parquetBytes,
    elapsedMs,
    etaMs: doneBytes > 0 && elapsedMs > 0 ? (left / doneBytes) * elapsedMs : undefined,
    mbps: elapsedMs > 0 ? doneBytes / 1e6 / (elapsedMs / 1000) : 0,
    reduction: fits > 0 ? 1 - parquetBytes / fits : 0,
  };
}

function batchFigures(batch: Batch, count: number): BatchFigures {
  const s = batch.stats!;
  return {
    index: batch.index + 1,
    count,
    tiles: batch.outcomes.length,
    rows: s.rows,
    fitsBytes: s.fitsBytes,
    fetchedBytes: s.fetchedBytes,
    parquetBytes: s.parquetBytes,
    reduction: s.reduction(),
    ms: s.ms,
    mbps: s.speed(),
  };
}
