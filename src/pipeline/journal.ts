import type { JournalRecord, JournalStore, RunRecord, TileRecord, TileStatus } from '../storage/journal-store.js';

/**
 * The run's journal: the one component that decides what is done. It lives with the output, so a run resumes
 * from any machine that can see the output. A tile's record is appended only after its Parquet file is
 * durably in place; the latest record of a tile wins.
 */

/** Statuses after which a tile is not processed again. Failed and missing tiles are retried by later runs. */
export const DONE_STATUSES: ReadonlySet<TileStatus> = new Set(['ok', 'empty']);

export class Journal {
  private readonly latest = new Map<string, TileRecord>();
  /** The latest record this run wrote of each tile. */
  private readonly own = new Map<string, TileRecord>();
  private lastRun?: RunRecord;
  private damaged: number;

  private constructor(
    private readonly store: JournalStore,
    damaged: number,
    records: JournalRecord[],
  ) {
    this.damaged = damaged;
    this.rebuild(records);
  }

  static async open(store: JournalStore): Promise<Journal> {
    const { records, damaged } = await store.load();
    return new Journal(store, damaged, records);
  }

  get location(): string {
    return this.store.location;
  }

  /** Damaged records skipped by the last load (open or refresh); their tiles are redone. */
  get damagedLines(): number {
    return this.damaged;
  }

  /** The selection the existing dataset was made with, if any run was journaled. */
  get previousSelection(): string | undefined {
    return this.lastRun?.selection;
  }

  /**
   * Re-reads the whole store and rebuilds the latest record of each tile, to see what other runs writing
   * the same output have done since open. Whole, not incremental: writers' clocks may skew, so a record
   * written after our last read can sort before the last name (or time) we saw, and a LIST starting after
   * that name would miss it. Records this run wrote are in the store, so they survive the rebuild.
   */
  async refresh(): Promise<void> {
    const { records, damaged } = await this.store.load();
    this.damaged = damaged;
    this.latest.clear();
    this.lastRun = undefined;
    this.rebuild(records);
    // A record this run appended while the load was reading may be missing from what it read: keep ours
    // unless the store holds a newer one.
    for (const own of this.own.values()) {
      const seen = this.latest.get(own.tile);
      if (!seen || seen.time < own.time) this.latest.set(own.tile, own);
    }
  }

  /** Keys of tiles whose latest record says done (ok or empty). */
  completed(): Set<string> {
    const done = new Set<string>();
    for (const [k, r] of this.latest) if (DONE_STATUSES.has(r.status)) done.add(k);
    return done;
  }

  /**
   * The latest record of each done tile (ok or empty), by tile key: what the resume check compares with
   * discovery (its `sources` fingerprint says whether the tile's files changed since it was made).
   */
  doneRecords(): Map<string, TileRecord> {
    const done = new Map<string, TileRecord>();
    for (const [k, r] of this.latest) if (DONE_STATUSES.has(r.status)) done.set(k, r);
    return done;
  }

  /** The latest record of a tile (what resume and status judge it by). */
  latestRecord(tile: string): TileRecord | undefined {
    return this.latest.get(tile);
  }

  async startRun(rec: RunRecord): Promise<void> {
    await this.store.append(rec);
    this.lastRun = rec;
  }

  async record(rec: TileRecord): Promise<void> {
    await this.store.append(rec);
    this.latest.set(rec.tile, rec);
    this.own.set(rec.tile, rec);
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  /** Records arrive oldest first: the last of each tile, and the last run record, win. */
  private rebuild(records: JournalRecord[]): void {
    for (const r of records) {
      if (r.type === 'tile') this.latest.set(r.tile, r);
      else this.lastRun = r;
    }
  }
}
