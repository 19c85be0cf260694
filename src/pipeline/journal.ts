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
  private lastRun?: RunRecord;

  private constructor(
    private readonly store: JournalStore,
    readonly damagedLines: number,
    records: JournalRecord[],
  ) {
    for (const r of records) {
      if (r.type === 'tile') this.latest.set(r.tile, r);
      else if (r.type === 'run') this.lastRun = r;
    }
  }

  static async open(store: JournalStore): Promise<Journal> {
    const { records, damaged } = await store.load();
    return new Journal(store, damaged, records);
  }

  get location(): string {
    return this.store.location;
  }

  /** The selection the existing dataset was made with, if any run was journaled. */
  get previousSelection(): string | undefined {
    return this.lastRun?.selection;
  }

  /** Keys of tiles whose latest record says done (ok or empty). */
  completed(): Set<string> {
    const done = new Set<string>();
    for (const [k, r] of this.latest) if (DONE_STATUSES.has(r.status)) done.add(k);
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
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
