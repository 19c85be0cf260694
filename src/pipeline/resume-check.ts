import { sourceFingerprint } from '../desi/fingerprint.js';
import { FOOTER_KEY, type FooterInfo } from '../desi/schema.js';
import { outputPath, tileKey, type TileRef } from '../desi/tile.js';
import { readParquetFooter } from '../parquet/footer.js';
import type { TileRecord } from '../storage/journal-store.js';
import type { OutputStore } from '../storage/output-store.js';
import { mapLimit } from '../util/concurrency.js';

/**
 * Resume trusts nothing it did not just check. A tile the journal calls done is skipped only when
 *  - its source files are the ones it was converted from (the record's fingerprint of sizes and ETags or
 *    mtimes equals the one discovery just computed), and
 *  - for a tile with a file: the file is there with the journaled size (on S3: one LIST of the output; in a
 *    local folder: fstat of the file opened to read its footer) and, where the store can read a file's tail
 *    cheaply (a local folder), its Parquet footer parses and names this tile, this selection and the
 *    journaled row count.
 * Everything else is redone, and the run log says how many and why.
 */
export interface ResumeCheck {
  /** Keys of tiles that are done and verified: skipped by this run. */
  done: Set<string>;
  /** Done tiles whose file is missing, of another size, or whose footer does not hold (redone). */
  damaged: { tile: string; why: string }[];
  /** Done tiles whose coadd or redrock changed since they were converted (redone). */
  changed: string[];
}

/** Footers are read this many at a time (stores with an asynchronous readTail only). */
const FOOTER_READS = 16;
/**
 * A local folder's files are checked this many between turns of the event loop. Synchronous reads: each
 * asynchronous file operation is a round trip through libuv's thread pool, and a check of 40,000 files took
 * 10 s of wall time and 6 s of CPU that way, against 2 s and 0.8 s read synchronously (a 2-core machine
 * under load); a chunk blocks the loop for a few milliseconds.
 */
const SYNC_CHUNK = 256;

/**
 * The first read of a file's end: its trailer and, for most files, its whole footer, so that checking a
 * tile costs one read, not two (a resume of 40,000 tiles opens each file once). A longer footer is read
 * with a second read, and the first reads of the files after it grow to its length (up to MAX_TAIL_GUESS).
 */
export const FIRST_TAIL_BYTES = 64 * 1024;
const MAX_TAIL_GUESS = 1024 * 1024;

export async function checkResume(opts: {
  tiles: TileRef[];
  done: ReadonlyMap<string, TileRecord>;
  out: OutputStore;
  selection: string;
  signal?: AbortSignal;
}): Promise<ResumeCheck> {
  const result: ResumeCheck = { done: new Set(), damaged: [], changed: [] };
  const candidates: { tile: TileRef; rec: TileRecord }[] = [];
  for (const tile of opts.tiles) {
    const rec = opts.done.get(tileKey(tile));
    if (!rec) continue;
    // Records written before fingerprints existed have none: nothing to compare, so they are trusted here.
    if (rec.sources !== undefined && rec.sources !== sourceFingerprint(tile)) result.changed.push(rec.tile);
    else candidates.push({ tile, rec });
  }
  const withFiles = candidates.filter((c) => c.rec.status === 'ok');
  for (const c of candidates) if (c.rec.status !== 'ok') result.done.add(c.rec.tile);
  if (withFiles.length === 0) return result;

  // A local folder: each file's size and tail read synchronously, a chunk at a time (see SYNC_CHUNK).
  const tailSync = opts.out.fileTailSync?.bind(opts.out);
  if (tailSync) {
    const guess = { bytes: FIRST_TAIL_BYTES };
    for (let i = 0; i < withFiles.length; i++) {
      if (i % SYNC_CHUNK === 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (opts.signal?.aborted) throw opts.signal.reason;
      }
      const { tile, rec } = withFiles[i];
      const why = fileProblemSync({ ...rec, path: rec.path ?? outputPath(tile) }, opts.selection, tailSync, guess);
      if (why) result.damaged.push({ tile: rec.tile, why });
      else result.done.add(rec.tile);
    }
    result.damaged.sort((a, b) => (a.tile < b.tile ? -1 : a.tile > b.tile ? 1 : 0));
    return result;
  }

  const sizes = await opts.out.listFiles();
  const readTail = opts.out.readTail?.bind(opts.out);
  const guess = { bytes: FIRST_TAIL_BYTES };
  await mapLimit(
    withFiles,
    FOOTER_READS,
    async ({ tile, rec }) => {
      // S3 journal records are read from their names, which hold no path: the tile's path is fixed by its key.
      const why = await fileProblem({ ...rec, path: rec.path ?? outputPath(tile) }, sizes, opts.selection, readTail, guess);
      if (why) result.damaged.push({ tile: rec.tile, why });
      else result.done.add(rec.tile);
    },
    { signal: opts.signal },
  );
  result.damaged.sort((a, b) => (a.tile < b.tile ? -1 : a.tile > b.tile ? 1 : 0));
  return result;
}

type TailSync = NonNullable<OutputStore['fileTailSync']>;

/** fileProblem for a local folder: the size from fstat of the opened file, the footer from its last bytes. */
function fileProblemSync(record: TileRecord, selection: string, tailSync: TailSync, guess: { bytes: number }): string | undefined {
  const path = record.path;
  if (!path) return 'the journal names no file';
  const rec = { ...record, path };
  try {
    const first = tailSync(rec.path, guess.bytes);
    if (!first) return `${rec.path} is missing`;
    const { size } = first;
    if (rec.parquetBytes !== undefined && size !== rec.parquetBytes) return `${rec.path} has ${size} bytes, the journal says ${rec.parquetBytes}`;
    const footer = footerFromTail(size, first.tail, guess, (n) => {
      const again = tailSync(path, n);
      // Another size now: the file was replaced between the two reads.
      return again?.size === size ? again.tail : undefined;
    });
    return footerProblem(rec, footer, selection);
  } catch (err) {
    return `${rec.path}: ${(err as Error).message}`;
  }
}

/** What of the footer does not hold for the record: tile, selection, row count; undefined when all do. */
function footerProblem(rec: TileRecord & { path: string }, footer: ReturnType<typeof readParquetFooter>, selection: string): string | undefined {
  const info = JSON.parse(footer.keyValue.get(FOOTER_KEY) ?? 'null') as Partial<FooterInfo> | null;
  if (!info) return `${rec.path}: its footer has no ${FOOTER_KEY} metadata`;
  if (info.tile !== rec.tile) return `${rec.path}: its footer names tile ${String(info.tile)}`;
  if (info.selection !== selection) return `${rec.path}: its footer names the selection "${String(info.selection)}"`;
  if (rec.rows !== undefined && footer.numRows !== rec.rows) return `${rec.path}: its footer has ${footer.numRows} rows, the journal says ${rec.rows}`;
  return undefined;
}

type TailReader = (rel: string, n: number) => Promise<Uint8Array | undefined>;

/** Why a journaled file cannot be trusted, or undefined when it holds. */
async function fileProblem(
  rec: TileRecord,
  sizes: ReadonlyMap<string, number>,
  selection: string,
  readTail?: TailReader,
  guess = { bytes: FIRST_TAIL_BYTES },
): Promise<string | undefined> {
  if (!rec.path) return 'the journal names no file';
  const size = sizes.get(rec.path);
  if (size === undefined) return `${rec.path} is missing`;
  if (rec.parquetBytes !== undefined && size !== rec.parquetBytes) return `${rec.path} has ${size} bytes, the journal says ${rec.parquetBytes}`;
  if (!readTail) return undefined;
  try {
    const footer = await readFooterOf(rec.path, size, readTail, guess);
    return footerProblem({ ...rec, path: rec.path }, footer, selection);
  } catch (err) {
    return `${rec.path}: ${(err as Error).message}`;
  }
}

/**
 * The footer of a file from its last bytes: the 8-byte trailer (length, "PAR1"), then the footer itself.
 * One read of the last `guess.bytes` (or of the whole file when shorter) holds both for most files; a
 * footer that does not fit is read again at its length, and raises the guess for the files after it.
 */
async function readFooterOf(rel: string, size: number, readTail: TailReader, guess: { bytes: number }): Promise<ReturnType<typeof readParquetFooter>> {
  if (size < 12) throw new Error(`only ${size} bytes, not a Parquet file`);
  const want = Math.min(size, guess.bytes);
  const first = await readTail(rel, want);
  // Fewer bytes than asked: the file shrank since it was listed, and its last bytes are not where they were.
  if (first?.byteLength !== want) throw new Error('cannot read its last bytes');
  const len = footerLength(first, size);
  if (len + 8 <= want) return footerOf(first.subarray(want - (len + 8)));
  guess.bytes = Math.min(MAX_TAIL_GUESS, Math.max(guess.bytes, len + 8));
  const tail = await readTail(rel, len + 8);
  if (tail?.byteLength !== len + 8) throw new Error('cannot read its footer');
  return footerOf(tail);
}

/** The same from a first tail already read (`first`: the last min(size, guess) bytes); `again(n)` reads the last n. */
function footerFromTail(
  size: number,
  first: Uint8Array,
  guess: { bytes: number },
  again: (n: number) => Uint8Array | undefined,
): ReturnType<typeof readParquetFooter> {
  if (size < 12) throw new Error(`only ${size} bytes, not a Parquet file`);
  if (first.byteLength !== Math.min(size, guess.bytes) && first.byteLength !== size) throw new Error('cannot read its last bytes');
  const len = footerLength(first, size);
  if (len + 8 <= first.byteLength) return footerOf(first.subarray(first.byteLength - (len + 8)));
  guess.bytes = Math.min(MAX_TAIL_GUESS, Math.max(guess.bytes, len + 8));
  const tail = again(len + 8);
  if (tail?.byteLength !== len + 8) throw new Error('cannot read its footer');
  return footerOf(tail);
}

/** The footer length of the trailer at the end of `tail` (checked to fit in a file of `size` bytes). */
function footerLength(tail: Uint8Array, size: number): number {
  const len = new DataView(tail.buffer, tail.byteOffset + tail.byteLength - 8, 8).getUint32(0, true);
  if (len > size - 12) throw new Error(`its footer length ${len} does not fit in ${size} bytes (not a complete Parquet file)`);
  return len;
}

/** The footer from its bytes and trailer (readParquetFooter wants a whole file, leading magic included). */
function footerOf(tail: Uint8Array): ReturnType<typeof readParquetFooter> {
  const file = new Uint8Array(4 + tail.byteLength);
  file.set([0x50, 0x41, 0x52, 0x31], 0);
  file.set(tail, 4);
  return readParquetFooter(file, { rowGroups: false });
}
