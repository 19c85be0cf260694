/**
 * Which batch summaries become a progress notification: every N-th batch (--notify-every), and the first
 * batch at or past each quarter of the run's tiles. A channel gets a few messages a day, not one per batch.
 */

/** Shares of the run's tiles (the tiles this run was asked for, after resume) that are announced once each. */
export const MILESTONES = [0.25, 0.5, 0.75] as const;

/** Why a batch notifies: it is an N-th batch (`every`), and/or it passed a milestone (`percent`, e.g. 50). */
export interface BatchNotice {
  every: boolean;
  percent?: number;
}

/** The state of one run's milestones: each quarter is announced once, in order, even if batches skip one. */
export class Milestones {
  private next = 0;

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
}
