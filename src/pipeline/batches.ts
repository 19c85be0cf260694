import type { TileRef } from '../desi/tile.js';
import { addRetryCounters, newRetryCounters, type RetryCounters } from '../storage/retry.js';
import { BatchStats } from './summary.js';
import type { TileOutcome } from './tile-job.js';

/** One batch of the run: its tiles, the outcomes so far, and the figures of its summary. */
export interface Batch {
  /** 0-based; the log says `index + 1`. */
  index: number;
  tiles: TileRef[];
  outcomes: TileOutcome[];
  /** Created when the batch's first tile starts (its clock starts then). */
  stats?: BatchStats;
  /** The pool's busy thread-milliseconds when the batch started and when its last tile finished. */
  busy0: number;
  busy1: number;
  /** S3 retries of the batch's own tile reads. */
  retries: RetryCounters;
  /** Tiles finished: with an outcome, or left to another live run that holds their claim. */
  finished: number;
}

/**
 * The batches of a run. Tiles flow through one bounded pipeline across batch boundaries, so a batch can start
 * before the previous one is done; the tracker says when a batch starts (its first tile) and hands out the
 * finished batches strictly in order, so the i-th summary in the log is batch i's.
 */
export class BatchTracker {
  readonly batches: Batch[];
  private summarized = 0;

  constructor(
    tileBatches: TileRef[][],
    private readonly busyMs: () => number,
  ) {
    this.batches = tileBatches.map((tiles, index) => ({ index, tiles, outcomes: [], busy0: 0, busy1: 0, retries: newRetryCounters(), finished: 0 }));
  }

  get count(): number {
    return this.batches.length;
  }

  /** The batch's tile is starting; true when it is the batch's first (the caller logs the start line). */
  start(b: number): boolean {
    const batch = this.batches[b];
    if (batch.stats) return false;
    batch.stats = new BatchStats();
    batch.busy0 = this.busyMs();
    return true;
  }

  /**
   * Records a tile's outcome (undefined: the tile was left to another live run that holds its claim);
   * returns the batches that can now be summarized, in order.
   */
  finish(b: number, outcome: TileOutcome | undefined): Batch[] {
    const batch = this.batches[b];
    batch.finished += 1;
    if (outcome) {
      batch.outcomes.push(outcome);
      batch.stats?.add(outcome);
      addRetryCounters(batch.retries, outcome.retries);
    }
    if (batch.finished === batch.tiles.length) batch.busy1 = this.busyMs();
    const ready: Batch[] = [];
    for (let next = this.batches[this.summarized]; next?.stats && next.finished === next.tiles.length; next = this.batches[this.summarized]) {
      ready.push(next);
      this.summarized += 1;
    }
    return ready;
  }

  /** At the end of a run (also one stopped early): the started batches not yet summarized, in order. */
  rest(): Batch[] {
    const ready: Batch[] = [];
    for (; this.summarized < this.batches.length && this.batches[this.summarized].stats; this.summarized++) {
      const batch = this.batches[this.summarized];
      batch.busy1 = this.busyMs();
      ready.push(batch);
    }
    return ready;
  }
}
