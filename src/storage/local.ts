import { open, type FileHandle } from 'node:fs/promises';
import { checkRange, type ByteSource } from '../fits/source.js';
import { throwIfAborted } from './abort.js';
import { newRetryCounters } from './retry.js';
import type { SourceStats } from './source.js';

/**
 * A local file as a ByteSource. The length is taken from fstat when opened, so every size a FITS header
 * claims can be checked against the real file before anything is allocated from it. With the run's signal,
 * each read first checks it, so a stopping run starts no more reads (a local read itself is never stalled).
 */
export class LocalFileSource implements ByteSource {
  readonly stats: SourceStats = { bytesFetched: 0, requests: 0 };
  /** Local reads are never retried: always zero, so every OpenedObject has retry counters. */
  readonly retries = newRetryCounters();

  private constructor(
    readonly name: string,
    readonly byteLength: number,
    readonly mtimeMs: number,
    private readonly fh: FileHandle,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Opens `path` for reading; the caller must close() it. Reads check `signal` (the run's) first. */
  static async open(path: string, signal?: AbortSignal): Promise<LocalFileSource> {
    throwIfAborted(signal, path);
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new Error(`${path}: not a regular file`);
      return new LocalFileSource(path, st.size, st.mtimeMs, fh, signal);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Reads [start, end) into a fresh buffer; a short read (the file shrank) is an error, never silent. */
  async slice(start: number, end: number): Promise<Uint8Array> {
    checkRange(this.name, this.byteLength, start, end);
    const out = new Uint8Array(end - start);
    let done = 0;
    while (done < out.byteLength) {
      throwIfAborted(this.signal, `${this.name} bytes ${start}-${end - 1}`);
      const { bytesRead } = await this.fh.read(out, done, out.byteLength - done, start + done);
      if (bytesRead === 0) {
        throw new Error(`${this.name}: file ended at byte ${start + done}, expected ${this.byteLength} bytes (it changed while being read)`);
      }
      done += bytesRead;
    }
    this.stats.requests += 1;
    this.stats.bytesFetched += out.byteLength;
    return out;
  }

  /**
   * Reads up to `length` bytes at `position` into `buf` (from `offset`), for the streamed --fetch full: a
   * reused buffer, no fresh allocation per read. Counts the bytes (the stream counts its one request).
   */
  async readInto(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    throwIfAborted(this.signal, `${this.name} bytes ${position}-${position + length - 1}`);
    const { bytesRead } = await this.fh.read(buf, offset, length, position);
    this.stats.bytesFetched += bytesRead;
    return bytesRead;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
