/**
 * What the journal stores, and the interface of its storage (a folder of JSONL files, one per run, or one
 * S3 object per record). The run's `Journal` (pipeline/journal.ts) decides what is done from these records; the stores
 * only keep them.
 */

export type TileStatus = 'ok' | 'empty' | 'missing' | 'failed';

export const TILE_STATUSES: readonly TileStatus[] = ['ok', 'empty', 'missing', 'failed'];

export interface TileRecord {
  type: 'tile';
  tile: string; // "main/dark/23040"
  status: TileStatus;
  time: string; // ISO time the record was written
  run: string; // the run id that wrote it
  /** sourceFingerprint (desi/fingerprint.ts) of the files the tile was made from; absent in older records. */
  sources?: string;
  rows?: number;
  fitsBytes?: number; // sizes of the source files (what the seed called FITS size)
  fetchedBytes?: number;
  requests?: number;
  parquetBytes?: number;
  path?: string; // output path relative to --out
  errorClass?: string;
  error?: string;
  /** "K/N" when a shard of a plan wrote it (scale-out); absent for unsharded runs. */
  shard?: string;
}

export interface RunRecord {
  type: 'run';
  run: string;
  time: string;
  version: string;
  selection: string; // canonical text of the selection; a resumed run must use the same
  source: string;
  /** "K/N" when the run was a shard of a plan. */
  shard?: string;
}

export type JournalRecord = TileRecord | RunRecord;

/** Storage of journal records. */
export interface JournalStore {
  readonly location: string;
  /** All records written so far, oldest first, plus the number of damaged records that were skipped. */
  load(): Promise<{ records: JournalRecord[]; damaged: number }>;
  /** Appends one record durably (it is on stable storage when the promise resolves). */
  append(rec: JournalRecord): Promise<void>;
  close(): Promise<void>;
}

/** The one validator of a parsed record: the fields every reader of the journal relies on. */
export function isJournalRecord(r: unknown): r is JournalRecord {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Partial<Record<string, unknown>>;
  return (o.type === 'tile' && typeof o.tile === 'string' && typeof o.status === 'string') || (o.type === 'run' && typeof o.run === 'string');
}

/** Parses JSONL text; lines that do not parse as a record are counted, not fatal. */
export function parseJournalLines(text: string): { records: JournalRecord[]; damaged: number } {
  const records: JournalRecord[] = [];
  let damaged = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const r: unknown = JSON.parse(line);
      if (isJournalRecord(r)) records.push(r);
      else damaged += 1;
    } catch {
      damaged += 1;
    }
  }
  return { records, damaged };
}
