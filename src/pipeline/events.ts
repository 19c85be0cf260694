/**
 * What a run tells observers while it goes (notifications, for now): started, each batch summarized, a batch
 * under --min-reduction, an early stop, finished. Observers are called synchronously on the run's own path
 * and must return at once: anything slow (a webhook POST) is queued by the observer, never awaited here,
 * and an observer that throws is ignored (see `emit`).
 */

/** The counts of a run so far. */
export interface RunCounts {
  /** Tiles this run was asked to convert (after resume), and how many have finished. */
  totalTiles: number;
  doneTiles: number;
  /** FITS bytes of those tiles, and of the finished ones. */
  totalBytes: number;
  doneBytes: number;
  ok: number;
  empty: number;
  failed: number;
  missing: number;
  rows: number;
  fetchedBytes: number;
  parquetBytes: number;
  /** Milliseconds since the run started. */
  elapsedMs: number;
  /** Estimated milliseconds left at the rate so far (undefined before any tile finished). */
  etaMs?: number;
  /** FITS MB covered per second of wall time so far. */
  mbps: number;
  /** 1 − parquet / FITS bytes so far. */
  reduction: number;
}

export interface RunIdentity {
  run: string;
  /** "K/N" when the run is a shard. */
  shard?: string;
  /** The dataset (--out), with any secret in it redacted. */
  dataset: string;
  selection: string;
  source: string;
  logPath: string;
  /**
   * Writes a WARN line into the run's log, for an observer's own trouble (a notification not delivered), and
   * returns true; false once the log is closed (the observer then appends to logPath itself).
   */
  warn?: (message: string) => boolean;
}

export interface BatchFigures {
  /** 1-based, of `count`. */
  index: number;
  count: number;
  tiles: number;
  rows: number;
  fitsBytes: number;
  fetchedBytes: number;
  parquetBytes: number;
  reduction: number;
  ms: number;
  mbps: number;
}

export type RunEvent =
  | { kind: 'started'; id: RunIdentity; counts: RunCounts; batches: number }
  | { kind: 'batch'; id: RunIdentity; counts: RunCounts; batch: BatchFigures }
  | { kind: 'lowReduction'; id: RunIdentity; counts: RunCounts; batch: BatchFigures; minReduction: number }
  | { kind: 'stopped'; id: RunIdentity; counts: RunCounts; reason: 'failureRate' | 'fatal' | 'signal'; message: string; exitCode: number }
  | { kind: 'finished'; id: RunIdentity; counts: RunCounts; exitCode: number; outcomeTable: string[]; line: string };

export type RunObserver = (event: RunEvent) => void;

/** Calls each observer; one that throws is skipped (an observer never changes a run's course). */
export function emit(observers: readonly RunObserver[] | undefined, event: RunEvent): void {
  for (const ob of observers ?? []) {
    try {
      ob(event);
    } catch {
      // An observer's failure is its own to log; the run goes on.
    }
  }
}
