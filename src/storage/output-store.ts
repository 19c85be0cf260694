/**
 * Where the dataset goes (--out): a local folder, later also an S3 prefix. Writes are atomic: a reader or a
 * resumed run sees either the whole file or nothing.
 */
export interface OutputStore {
  /** The root as the user wrote it, for messages. */
  readonly root: string;
  /** Where a relative path ends up (a path or an s3:// URL), for the log. */
  location(relPath: string): string;
  /**
   * Writes `bytes` at `relPath` so that it is durably in place when the promise resolves (local: temp file,
   * fsync, rename, fsync of the folder). The path must stay inside the root.
   */
  writeAtomic(relPath: string, bytes: Uint8Array): Promise<void>;
  /** Removes temporary files that a killed run may have left behind; returns how many. */
  sweepTemporaries(): Promise<number>;
}
