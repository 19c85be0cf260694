/**
 * The run's journal: the one component that decides what is done. It lives with the output, so a run resumes
 * from any machine that can see the output. A tile's record is appended only after its Parquet file is
 * durably in place; the latest record of a tile wins.
 */

export type TileStatus = 'ok' | 'empty' | 'missing' | 'failed';

export interface TileRecord {
  type: 'tile';
  tile: string; // "main/dark/23040"
  status: TileStatus;
  time: string; // ISO time the record was written
  run: string; // the run id that wrote it
  rows?: number;
  fitsBytes?: number; // sizes of the source files (what the seed called FITS size)
  fetchedBytes?: number;
  requests?: number;
  parquetBytes?: number;
  path?: string; // output path relative to --out
  errorClass?: string;
  error?: string;
}

export interface RunRecord {
  type: 'run';
  run: string;
  time: string;
  version: string;
  selection: string; // canonical text of the selection; a resumed run must use the same
  source: string;
}

export type JournalRecord = TileRecord | RunRecord;

/** Storage of journal lines: local JSONL now, S3 objects later. */
export interface JournalStore {
  readonly location: string;
  /** All records written so far, plus the number of damaged lines that were skipped. */
  load(): Promise<{ records: JournalRecord[]; damaged: number }>;
  /** Appends one record durably (it is on stable storage when the promise resolves). */
  append(rec: JournalRecord): Promise<void>;
  close(): Promise<void>;
}

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

  latestRecord(tile: string): TileRecord | undefined {
    return this.latest.get(tile);
  }

  allLatest(): TileRecord[] {
    return [...this.latest.values()];
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

/** Parses JSONL text; lines that do not parse as a record are counted, not fatal. */
export function parseJournalLines(text: string): { records: JournalRecord[]; damaged: number } {
  const records: JournalRecord[] = [];
  let damaged = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const r = JSON.parse(line) as JournalRecord;
      if ((r.type === 'tile' && typeof r.tile === 'string' && typeof r.status === 'string') || (r.type === 'run' && typeof r.run === 'string')) {
        records.push(r);
      } else damaged += 1;
    } catch {
      damaged += 1;
    }
  }
  return { records, damaged };
}
