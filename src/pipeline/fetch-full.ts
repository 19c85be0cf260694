/**
 * The streamed `--fetch full` of local files: each file the tile reads is read once, whole, front to back,
 * through one reused chunk buffer per tile (sequential-source.ts), and only the ranges the tile job asks for
 * are kept. The tile job's data steps (REDSHIFTS/TSNR2, FIBERMAP and afterburner tables, the spectra rows)
 * run inside holding(), where the streams move forward; its header scans run outside, where a header beyond
 * the current chunk is a peek (a positional read of a few blocks). The spectra rows are read in file order
 * (whatever the plan's order), so with or without --with resolution no read goes backward. The budget holds
 * the chunk buffer for the whole tile, and each step's kept bytes while it runs, as --fetch ranges does.
 * A tile whose redrock selects no row never opens its coadd; the files it opens are streamed to their end.
 */
import type { PlannedRead } from '../desi/read-plan.js';
import { tileKey, type ObjectRef, type TileRef } from '../desi/tile.js';
import type { ByteSource } from '../fits/index.js';
import { throwIfAborted } from '../storage/abort.js';
import { MemorySource } from '../storage/source.js';
import { addRetryCounters, newRetryCounters } from '../storage/retry.js';
import { ChunkBuffer, DEFAULT_CHUNK_BYTES, newStreamCounters, SequentialSource } from '../storage/sequential-source.js';
import type { OpenedObject } from '../storage/tile-store.js';
import type { FetchContext, IoTimer, ReadAccount, TileFetch } from './fetch.js';

export class StreamedFull implements TileFetch {
  /** Only the selected rows are kept: rows are never merged over a gap. */
  readonly gapBytes = 0;
  private chunk?: ChunkBuffer;
  private inStep = false;
  private readonly opened: { o: OpenedObject; s: SequentialSource; role: 'redrock' | 'coadd' }[] = [];
  private readonly releases: (() => void)[] = [];
  /** What the afterburner files read whole took. */
  private readonly whole: ReadAccount = { fetchedBytes: 0, requests: 0, retries: newRetryCounters() };
  private redrockSrc?: Promise<SequentialSource>;
  private coaddSrc?: Promise<SequentialSource>;

  constructor(
    private readonly ctx: FetchContext,
    private readonly tile: TileRef,
    private readonly io: IoTimer,
    private readonly chunkBytes = ctx.stream?.chunkBytes ?? DEFAULT_CHUNK_BYTES,
  ) {}

  async begin(): Promise<void> {
    await this.hold(this.chunkBytes, `${tileKey(this.tile)} (stream buffer)`);
    this.chunk = new ChunkBuffer(Buffer.allocUnsafeSlow(this.chunkBytes));
  }

  private async hold(bytes: number, what: string): Promise<() => void> {
    const release = await this.ctx.budget.acquire(bytes, what);
    this.releases.push(release);
    throwIfAborted(this.ctx.signal, what);
    return release;
  }

  private async open(ref: ObjectRef, role: 'redrock' | 'coadd'): Promise<SequentialSource> {
    if (!this.chunk) throw new Error('internal: the streamed fetch was used before begin()');
    const o = await this.io(this.ctx.store.open(ref, this.ctx.signal));
    const counters = this.ctx.stream?.counters ?? newStreamCounters();
    const s = new SequentialSource(o, this.chunk, {
      streaming: () => this.inStep,
      counters,
      onFallback: this.ctx.stream?.warn,
    });
    this.opened.push({ o, s, role });
    return s;
  }

  redrock(): Promise<ByteSource> {
    if (!this.tile.redrock) throw new Error('internal: a tile without a redrock file reached the fetch');
    this.redrockSrc ??= this.open(this.tile.redrock, 'redrock');
    return this.redrockSrc;
  }

  /** The redrock is done with by now: it is read to its end first, so the coadd has the buffer to itself. */
  async coadd(): Promise<ByteSource> {
    if (!this.tile.coadd) throw new Error('internal: a tile without a coadd file reached the fetch');
    if (this.redrockSrc) await this.io((await this.redrockSrc).drain());
    this.coaddSrc ??= this.open(this.tile.coadd, 'coadd');
    return this.coaddSrc;
  }

  /**
   * An afterburner file (a few KB to a few MB) is read whole into memory, held in the budget until the tile
   * is done: its header scan and its table are then served without taking the coadd's buffer.
   */
  async afterburner(ref: ObjectRef): Promise<ByteSource> {
    await this.hold(ref.size ?? 0, `${this.ctx.store.displayName(ref)} (afterburner)`);
    const o = await this.io(this.ctx.store.open(ref, this.ctx.signal));
    try {
      const bytes = await this.io(o.slice(0, o.byteLength));
      return new MemorySource(o.name, bytes);
    } finally {
      this.whole.fetchedBytes += o.stats.bytesFetched;
      this.whole.requests += o.stats.requests;
      addRetryCounters(this.whole.retries, o.retries);
      await o.close().catch(() => undefined);
    }
  }

  async holding<T>(bytes: number, what: string, step: () => Promise<T>): Promise<T> {
    const release = await this.hold(bytes, what);
    this.inStep = true;
    try {
      return await step();
    } finally {
      this.inStep = false;
      release();
    }
  }

  /**
   * The planned ranges in file order, each a forward read of the stream; then the coadd
   * file is read to its end (every byte read), before the encode, so a file shorter than it claimed
   * fails the tile.
   */
  async readAll(source: ByteSource, reads: readonly PlannedRead[]): Promise<Uint8Array[]> {
    const order = reads.map((_, i) => i).sort((a, b) => reads[a].start - reads[b].start);
    const out: Uint8Array[] = new Array<Uint8Array>(reads.length);
    for (const i of order) out[i] = await source.slice(reads[i].start, reads[i].end);
    const s = this.opened.find((x) => x.s === source);
    if (s) await s.s.drain();
    return out;
  }

  async close(): Promise<ReadAccount> {
    for (const release of this.releases.splice(0)) release();
    const account: ReadAccount = { ...this.whole, retries: newRetryCounters() };
    addRetryCounters(account.retries, this.whole.retries);
    for (const { o, s } of this.opened.splice(0)) {
      account.fetchedBytes += o.stats.bytesFetched;
      // One request for the stream (if it started), plus each peek or fallback (counted by the file's slices).
      account.requests += o.stats.requests + (s.position > 0 ? 1 : 0);
      addRetryCounters(account.retries, o.retries);
      await o.close().catch(() => undefined);
    }
    this.chunk = undefined;
    return account;
  }
}
