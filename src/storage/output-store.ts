/**
 * Where the dataset goes (--out): a local folder or an S3 prefix. Writes are atomic: a reader or a resumed
 * run sees either the whole file or nothing. Several runs may share one output; what a run leaves behind
 * (temporary files, multipart uploads) is named or claimed so that another run removes it only once its
 * owner is gone.
 */
export interface OutputStore {
  /** The root as the user wrote it, for messages. */
  readonly root: string;
  /** Where a relative path ends up (a path or an s3:// URL), for the log. */
  location(relPath: string): string;
  /**
   * Writes `bytes` at `relPath` so that it is durably in place when the promise resolves (local: temp file,
   * fsync, rename, fsync of the folder; S3: upload, then a HEAD that confirms size and ETag). The path must
   * stay inside the root.
   */
  writeAtomic(relPath: string, bytes: Uint8Array): Promise<WrittenFile>;
  /**
   * Writes `bytes` at `relPath` only if nothing is there yet, atomically and durably as writeAtomic does;
   * resolves `created: false` (and writes nothing) when a file is already there, whoever wrote it. Of any
   * number of concurrent callers at most one creates it (local: link(2); S3: PutObject with If-None-Match,
   * where the server honours it: one that ignores it lets the last writer win, so callers read the file back).
   */
  writeOnce(relPath: string, bytes: Uint8Array): Promise<{ created: boolean }>;
  /**
   * Removes what killed runs left behind (temporary files, incomplete uploads), never what a live run may
   * still be writing; returns how many.
   */
  sweepTemporaries(owners: TemporaryOwners): Promise<number>;
  /**
   * Removes the dataset file at `relPath` durably (local: unlink, then fsync of the folder; S3: DeleteObject),
   * for a tile whose earlier file no longer holds (its sources changed and it now selects no row). A file
   * that is not there is no error.
   */
  remove(relPath: string): Promise<void>;
  /** Every dataset `.parquet` file (relative path with '/' → size in bytes), not `_desi-qad/`, not temporaries. */
  listFiles(): Promise<Map<string, number>>;
  /** A small file of the dataset's own (`_desi-qad/plan.json`), whole; undefined when it does not exist. */
  readFile(relPath: string): Promise<Uint8Array | undefined>;
  /** The last `n` bytes of a file (fewer if it is shorter), undefined when it is missing; local stores only. */
  readTail?(relPath: string, n: number): Promise<Uint8Array | undefined>;
  /**
   * A local folder's fast path for the resume check: the size of the file (fstat of the opened file) and its
   * last min(n, size) bytes, read synchronously; undefined when the file does not exist.
   */
  fileTailSync?(relPath: string, n: number): { size: number; tail: Uint8Array } | undefined;
}

/** What a finished write stored: its size, and on S3 the ETag that HEAD confirmed. */
export interface WrittenFile {
  size: number;
  etag?: string;
}

/** What the sweep asks about the runs that own leftovers (a RunRegistry answers both). */
export interface TemporaryOwners {
  /** Whether the run is provably gone, so that its temporaries are no longer written. */
  isGone(run: string): Promise<boolean>;
  /** Whether a live run other than the caller holds the tile's claim ("main/dark/23040"). */
  heldByOther(tile: string): Promise<boolean>;
}
