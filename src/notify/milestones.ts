/**
 * Which batch summaries become a progress notification: every N-th batch (--notify-every), and the first
 * batch at or past each quarter of the run's tiles; and which batches under --min-reduction are told. A
 * channel gets a few messages a day, not one per batch.
 */

/** Shares of the run's tiles (the tiles this run was asked for, after resume) that are announced once each. */
export const MILESTONES = [0.25, 0.5, 0.75] as const;

/**
 * Why a batch notifies: it is an N-th batch (`every`), and/or it passed a milestone (`percent`, e.g. 50); for a
 * batch under --min-reduction, how many batches were under it so far (`lowBatches`).
 */
export interface BatchNotice {
  every: boolean;
  percent?: number;
  lowBatches?: number;
}

/** The state of one run's milestones: each quarter is announced once, in order, even if batches skip one. */
export class Milestones {
  private next = 0;
  /** Batches under --min-reduction so far, and the index of the last one notified. */
  private low = 0;
  private lowNotified?: number;

  constructor(private readonly every: number) {}

  /**
   * For the summary of batch `index` (1-based) when `doneTiles` of `totalTiles` are done: undefined when it
   * does not notify. A batch that passes two quarters at once announces the higher.
   */
  decide(index: number, doneTiles: number, totalTiles: number): BatchNotice | undefined {
    let percent: number | undefined;
    while (this.next < MILESTONES.length && totalTiles > 0 && doneTiles >= MILESTONES[this.next] * totalTiles) {
      percent = MILESTONES[this.next] * 100;
      this.next += 1;
    }
    const every = index % this.every === 0;
    if (!every && percent === undefined) return undefined;
    return percent === undefined ? { every } : { every, percent };
  }

  /**
   * For batch `index` under --min-reduction: the number of such batches so far when it notifies (the first,
   * then at most one per --notify-every batches: a selection that keeps most rows would otherwise post every
   * batch), undefined when it does not. The log keeps its WARN line for every one.
   */
  decideLow(index: number): number | undefined {
    this.low += 1;
    if (this.lowNotified !== undefined && index - this.lowNotified < this.every) return undefined;
    this.lowNotified = index;
    return this.low;
  }
}
