/**
 * A file read once, front to back, in chunks of one reused buffer, of which only the ranges asked for are
 * kept (copied out): the streamed `--fetch full`. A request ahead of the stream is served by reading forward
 * (the bytes before it pass through the buffer and are dropped); a request behind it (the stream is past those
 * bytes) is a fallback: one positional read of just that range, counted and reported. Outside the data steps
 * (`streaming` false: the header scans) a request beyond the current chunk is a peek, also one positional read,
 * so scanning the headers of a file does not drag the stream over the data the next steps will ask for.
 */
import { checkRange, type ByteSource } from '../fits/source.js';

/** What the stream reads through: a local file reads into the buffer; anything else gives slices. */
export interface ChunkReadable extends ByteSource {
  /** Reads up to `length` bytes at `position` into `buf` from `offset`; returns the count (0 at the end). */
  readInto?(buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
}

/** Counters of the streamed reads of a run (or a test), summed over every file. */
export interface StreamCounters {
  /** Bytes read by the stream, front to back. */
  streamedBytes: number;
  /** Bytes copied out for the reader. */
  keptBytes: number;
  /** Positional reads of header blocks beyond the stream (the header scans). */
  peeks: number;
  /** Positional reads of ranges the stream had already passed. */
  fallbacks: number;
  fallbackBytes: number;
  /** Of the streamed bytes, those read straight into the kept range's own memory (ranges of DIRECT_READ_BYTES or more). */
  directBytes: number;
}

export function newStreamCounters(): StreamCounters {
  return { streamedBytes: 0, keptBytes: 0, peeks: 0, fallbacks: 0, fallbackBytes: 0, directBytes: 0 };
}

/** Default chunk: large sequential reads are fast from the page cache, and a tile holds just one. */
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * A kept range at least this long, starting where the stream is, is read into its own memory instead of
 * through the chunk (one copy fewer); shorter ones (a quasar's rows) are cheaper copied out of one big read.
 */
export const DIRECT_READ_BYTES = 1024 * 1024;

/** A Uint8Array of `n` bytes of its own ArrayBuffer (transferable), not zero-filled. */
function uninitialised(n: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(n);
  // A plain Uint8Array view (Buffer#slice would not copy), over the buffer of exactly n bytes allocUnsafeSlow makes.
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

/** DESI_QAD_STREAM_CHUNK (bytes, at least 4096; tests use small chunks to cross many), else the default. */
export function streamChunkFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.DESI_QAD_STREAM_CHUNK;
  if (v === undefined || v === '') return DEFAULT_CHUNK_BYTES;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 4096) throw new Error(`DESI_QAD_STREAM_CHUNK wants a whole number of bytes of at least 4096, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * The one buffer the files of a tile stream through, and the lock that keeps their reads one at a time (a
 * source whose chunk another one has overwritten reads forward from where its stream stopped).
 */
export class ChunkBuffer {
  owner: SequentialSource | undefined;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly bytes: Uint8Array) {}

  /** Runs `step` after every step queued before it. */
  lock<T>(step: () => Promise<T>): Promise<T> {
    const run = this.tail.then(step, step);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

export interface SequentialOptions {
  /** True while the reader is in a data step (reads move forward); false during header scans. */
  streaming: () => boolean;
  counters: StreamCounters;
  /** Told of each fallback (a backward read), for the run's log. */
  onFallback?: (message: string) => void;
  /** Kept ranges at least this long are read straight into their own memory (default DIRECT_READ_BYTES). */
  directReadBytes?: number;
}

export class SequentialSource implements ByteSource {
  /** Stream position: every byte before it has been read, in order. */
  private next = 0;
  /** File offset of the buffer's first byte and how many are valid (only while this source owns the buffer). */
  private bufStart = 0;
  private bufLen = 0;

  constructor(
    private readonly src: ChunkReadable,
    private readonly chunk: ChunkBuffer,
    private readonly opts: SequentialOptions,
  ) {}

  get name(): string {
    return this.src.name;
  }

  get byteLength(): number {
    return this.src.byteLength;
  }

  /** Bytes the stream has read so far. */
  get position(): number {
    return this.next;
  }

  async slice(start: number, end: number): Promise<Uint8Array> {
    checkRange(this.name, this.byteLength, start, end);
    return this.chunk.lock(() => this.serve(start, end));
  }

  /** Reads the rest of the file through the buffer (every byte read, as --fetch full promises). */
  drain(): Promise<void> {
    return this.chunk.lock(async () => {
      while (this.next < this.byteLength) await this.fill();
    });
  }

  private owned(): boolean {
    return this.chunk.owner === this && this.bufLen > 0;
  }

  private async serve(start: number, end: number): Promise<Uint8Array> {
    if (end === start) return new Uint8Array(0);
    // Every byte of `out` is written below before it is returned, so it need not be zero-filled first.
    const out = uninitialised(end - start);
    const c = this.opts.counters;
    const from = this.owned() ? this.bufStart : this.next;
    const firstChunk = this.next === 0 && end <= this.chunk.bytes.byteLength;
    if (start < from || (!this.opts.streaming() && !firstChunk && !(this.owned() && end <= this.next))) {
      const behind = start < from;
      if (behind && this.opts.streaming()) {
        c.fallbacks += 1;
        c.fallbackBytes += end - start;
        this.opts.onFallback?.(`${this.name}: bytes ${start}-${end - 1} asked for after the stream passed them (at ${from}): read again by position`);
      } else {
        c.peeks += 1;
      }
      const b = await this.src.slice(start, end);
      out.set(b);
      return out;
    }
    // Forward: copy what the buffer holds, then read chunks on until `end`.
    let at = start;
    for (;;) {
      if (this.owned() && at < this.bufStart + this.bufLen) {
        const upto = Math.min(end, this.bufStart + this.bufLen);
        out.set(this.chunk.bytes.subarray(at - this.bufStart, upto - this.bufStart), at - start);
        at = upto;
      }
      if (at >= end) break;
      if (at === this.next && end - at >= (this.opts.directReadBytes ?? DIRECT_READ_BYTES) && this.src.readInto) {
        await this.readDirect(out, at - start, end);
        at = end;
      } else await this.fill();
    }
    c.keptBytes += out.byteLength;
    return out;
  }

  /**
   * Reads the stream on from its position up to `end` straight into `out` (from `offset`): a large kept range
   * (a whole spectra HDU when every spectrum is kept) is then read once into the memory it is handed over in,
   * not into the chunk and copied out. The chunk's contents are left stale: the stream is past them.
   */
  private async readDirect(out: Uint8Array, offset: number, end: number): Promise<void> {
    const at = this.next;
    this.bufLen = 0;
    let got = 0;
    while (at + got < end) {
      let r: number;
      try {
        r = await this.src.readInto!(out, offset + got, end - at - got, at + got);
      } catch (err) {
        throw new Error(`${this.name}: read failed at byte ${at + got} of ${this.byteLength}: ${(err as Error).message}`, { cause: err });
      }
      if (r === 0) throw new Error(`${this.name}: file ended at byte ${at + got}, expected ${this.byteLength} bytes (it changed while being read)`);
      got += r;
    }
    this.next = end;
    this.opts.counters.streamedBytes += got;
    this.opts.counters.directBytes += got;
  }

  /** Reads the next chunk of the file into the buffer. */
  private async fill(): Promise<void> {
    const at = this.next;
    const n = Math.min(this.chunk.bytes.byteLength, this.byteLength - at);
    this.chunk.owner = this;
    this.bufStart = at;
    this.bufLen = 0;
    const buf = this.chunk.bytes;
    let got = 0;
    while (got < n) {
      let r: number;
      try {
        if (this.src.readInto) {
          r = await this.src.readInto(buf, got, n - got, at + got);
        } else {
          const b = await this.src.slice(at + got, at + n);
          buf.set(b, got);
          r = b.byteLength;
        }
      } catch (err) {
        throw new Error(`${this.name}: read failed at byte ${at + got} of ${this.byteLength}: ${(err as Error).message}`, { cause: err });
      }
      if (r === 0) throw new Error(`${this.name}: file ended at byte ${at + got}, expected ${this.byteLength} bytes (it changed while being read)`);
      got += r;
    }
    this.bufLen = n;
    this.next = at + n;
    this.opts.counters.streamedBytes += n;
  }
}
