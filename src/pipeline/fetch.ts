import { tileFitsBytes, tileKey, type ObjectRef, type TileRef } from '../desi/tile.js';
import type { PlannedRead } from '../desi/read-plan.js';
import type { ByteSource } from '../fits/index.js';
import { throwIfAborted } from '../storage/abort.js';
import { MemorySource } from '../storage/source.js';
import { addRetryCounters, newRetryCounters, type RetryCounters } from '../storage/retry.js';
import type { OpenedObject, TileStore } from '../storage/tile-store.js';
import { Limiter, mapLimit } from '../util/concurrency.js';
import type { ByteBudget } from './budget.js';
import type { AutoGap } from './auto-gap.js';
import { StreamedFull } from './fetch-full.js';
import { isS3Url } from '../storage/s3-url.js';
import type { StreamCounters } from '../storage/sequential-source.js';

export type FetchMode = 'ranges' | 'full';

/** How many reads may be in flight: for one tile's spectra rows, and across every tile of the run. */
export interface ReadLimits {
  /** Reads of one tile's spectra rows in flight at once (--reads-per-tile). */
  perTile: number;
  /** Reads in flight across all tiles (--reads-in-flight); every slice of every opened object takes a slot. */
  total: Limiter;
}

/**
 * Defaults of --reads-per-tile and --reads-in-flight. A tile's spectra reads are independent ranges of one
 * object: 16 at once hide a 20 ms round trip at the seed's 35 MB/s for rows of ~11 KB. In all, the reads in
 * flight must hold more than the link's bandwidth-delay product: at 35 MB/s and 20 ms that is 700 KB, and
 * 64 reads of the ~13.5 KB a merged read averages there hold 860 KB, too little once the client's own delays
 * are added: 64 kept the bench's link 89 % full in its steady state, 128 kept it full (2026-12-07, lean
 * server, the seed-shaped set: 10.1 s with 64, 9.4 s with 128, 9.2-9.5 s with 192 and 256). So 128 from S3;
 * a local disk answers in microseconds, and 64 is plenty there.
 */
export const DEFAULT_READS_PER_TILE = 16;
export const DEFAULT_READS_IN_FLIGHT = 64;
export const DEFAULT_READS_IN_FLIGHT_S3 = 128;

/** Default of --reads-in-flight for a source: 128 on S3, 64 from a local folder. */
export function defaultReadsInFlight(source: string): number {
  return isS3Url(source) ? DEFAULT_READS_IN_FLIGHT_S3 : DEFAULT_READS_IN_FLIGHT;
}

/**
 * Default of --downloads (tiles read at once) for a source. On S3 each tile starts with a chain of about 25
 * small reads one after the other (redrock headers and columns, then each coadd HDU header, FIBERMAP): with
 * 8 tiles, a 20 ms round trip leaves the link idle while chains wait; 32 keep it full (35 MB/s, 20 ms, the
 * bench's link: 9.3 s against 9.6 s). A local disk answers in microseconds: 8 is enough there.
 */
export function defaultDownloads(source: string): number {
  return isS3Url(source) ? 32 : 8;
}

export function readLimits(perTile = DEFAULT_READS_PER_TILE, total = DEFAULT_READS_IN_FLIGHT): ReadLimits {
  return { perTile, total: new Limiter(total) };
}

export interface FetchContext {
  store: TileStore;
  budget: ByteBudget;
  limits: ReadLimits;
  /** Rows of an image closer than this many bytes are read in one request (ranges mode; with autoGap, its fallback). */
  gapBytes: number;
  /** --gap-bytes auto: chooses the gap of each tile from the reads measured so far (ranges mode). */
  autoGap?: AutoGap;
  /** With --keep-fits: where whole downloaded files are also written (a local folder). */
  keepFits?: (ref: ObjectRef, bytes: Uint8Array) => Promise<void>;
  /**
   * The run's signal (aborted on the first SIGINT/SIGTERM/SIGHUP): passed to every open and read, and to the
   * waits for a read slot, so a stopping run's reads reject at once with an AbortedError.
   */
  signal?: AbortSignal;
  /** The streamed --fetch full's counters and where it reports a backward read (fetch-full.ts); optional. */
  stream?: { counters: StreamCounters; warn?: (message: string) => void; chunkBytes?: number };
}

/** Awaits a read step, adding the wait to the tile's read time. */
export type IoTimer = <T>(p: Promise<T>) => Promise<T>;

/**
 * How one tile's bytes are fetched, and the memory budget that goes with it. The tile job asks for its files
 * and for byte ranges through this, step by step; each strategy decides what that costs in reads and in
 * budget. `close()` must be called once, and gives the tile's read accounting.
 */
export interface TileFetch {
  /** Merge gap of the spectra rows' read plan (bytes; Infinity reads each image from first to last selected row). */
  readonly gapBytes: number;
  /** Takes what the strategy holds for the whole tile (before any read). */
  begin(): Promise<void>;
  redrock(): Promise<ByteSource>;
  coadd(): Promise<ByteSource>;
  /** One of the tile's afterburner files (small: read whole in full mode, by ranges otherwise). */
  afterburner(ref: ObjectRef): Promise<ByteSource>;
  /** Runs `step` while holding `bytes` of the budget for it (only where the strategy budgets per step). */
  holding<T>(bytes: number, what: string, step: () => Promise<T>): Promise<T>;
  /** Reads every planned range of `source`, results in plan order. */
  readAll(source: ByteSource, reads: readonly PlannedRead[]): Promise<Uint8Array[]>;
  /** Closes what was opened and gives back what is held; returns what reading from the store took. */
  close(): Promise<ReadAccount>;
}

/** What a tile's reads took: bytes, requests and S3 retries (summed over the objects it opened). */
export interface ReadAccount {
  fetchedBytes: number;
  requests: number;
  retries: RetryCounters;
}

/** The strategy of a mode. */
export function tileFetch(mode: FetchMode, ctx: FetchContext, tile: TileRef, io: IoTimer): TileFetch {
  if (mode === 'full') return streamable(ctx) ? new StreamedFull(ctx, tile, io) : new WholeFiles(ctx, tile, io);
  return new Ranges(ctx, tile, io);
}

/**
 * --fetch full streams local files (fetch-full.ts); S3 objects and --keep-fits (which writes whole files)
 * still read whole files into memory.
 */
function streamable(ctx: FetchContext): boolean {
  const root = (ctx.store as { root?: unknown } | undefined)?.root;
  return ctx.keepFits === undefined && typeof root === 'string' && !isS3Url(root);
}

/** An object opened through the read limit: `slice` for reads others wait on, `sliceBulk` for the many rows. */
interface BulkSource extends ByteSource {
  sliceBulk(start: number, end: number): Promise<Uint8Array>;
}

/** What both strategies share: opening objects through the read limit, and closing them. */
abstract class BaseFetch {
  private readonly opened: OpenedObject[] = [];
  protected readonly releases: (() => void)[] = [];

  constructor(
    protected readonly ctx: FetchContext,
    protected readonly tile: TileRef,
    protected readonly io: IoTimer,
  ) {}

  /**
   * The object through the read limit: `slice` is urgent (a header, REDSHIFTS, FIBERMAP: the tile's next
   * step waits on it), `sliceBulk` is not (readAll's spectra rows, many queued at once): a tile's chain of
   * small reads never queues behind other tiles' rows, so new tiles reach their rows while the link is full.
   */
  protected async open(ref: ObjectRef): Promise<BulkSource> {
    const { signal } = this.ctx;
    const o = await this.io(this.ctx.store.open(ref, signal));
    this.opened.push(o);
    const total = this.ctx.limits.total;
    return {
      name: o.name,
      byteLength: o.byteLength,
      slice: (start: number, end: number) => total.run(() => o.slice(start, end), signal, true),
      sliceBulk: (start: number, end: number) => total.run(() => o.slice(start, end), signal, false),
    };
  }

  /** Takes `bytes` of the budget until letGo(); a run aborted during the wait goes no further. */
  protected async hold(bytes: number, what: string): Promise<void> {
    this.releases.push(await this.ctx.budget.acquire(bytes, what));
    throwIfAborted(this.ctx.signal, what);
  }

  protected letGo(): void {
    for (const release of this.releases.splice(0)) release();
  }

  async close(): Promise<ReadAccount> {
    this.letGo();
    const account: ReadAccount = { fetchedBytes: 0, requests: 0, retries: newRetryCounters() };
    for (const o of this.opened.splice(0)) {
      account.fetchedBytes += o.stats.bytesFetched;
      account.requests += o.stats.requests;
      addRetryCounters(account.retries, o.retries);
      await o.close().catch(() => undefined);
    }
    return account;
  }
}

/**
 * The seed's way: both files are read whole first, then the same reader slices memory. The whole files plus
 * what is cut from them are held for the whole tile (2 x their size, taken at once in begin()), the
 * afterburner files the tile reads included.
 */
class WholeFiles extends BaseFetch implements TileFetch {
  readonly gapBytes = Infinity;
  private files?: Promise<[ByteSource, ByteSource]>;

  async begin(): Promise<void> {
    // The afterburners on the tile are those it reads (run.ts withAfterburners): whole too, so counted too.
    const afterburners = Object.values(this.tile.afterburners ?? {}).reduce((s, ref) => s + (ref?.size ?? 0), 0);
    await this.hold(2 * (tileFitsBytes(this.tile) + afterburners), `${tileKey(this.tile)} (whole files)`);
  }

  private both(): Promise<[ByteSource, ByteSource]> {
    const { coadd, redrock } = this.tile;
    if (!coadd || !redrock) throw new Error('internal: a tile without both files reached the fetch');
    this.files ??= Promise.all([this.whole(redrock), this.whole(coadd)]);
    return this.files;
  }

  private async whole(ref: ObjectRef): Promise<ByteSource> {
    const o = await this.open(ref);
    const bytes = await this.io(o.slice(0, o.byteLength));
    if (this.ctx.keepFits) await this.io(this.ctx.keepFits(ref, bytes));
    return new MemorySource(o.name, bytes);
  }

  async redrock(): Promise<ByteSource> {
    return (await this.both())[0];
  }

  async coadd(): Promise<ByteSource> {
    return (await this.both())[1];
  }

  afterburner(ref: ObjectRef): Promise<ByteSource> {
    return this.whole(ref);
  }

  holding<T>(_bytes: number, _what: string, step: () => Promise<T>): Promise<T> {
    return step();
  }

  readAll(source: ByteSource, reads: readonly PlannedRead[]): Promise<Uint8Array[]> {
    return Promise.all(reads.map((r) => source.slice(r.start, r.end)));
  }
}

/**
 * Ranged reads: the redrock's headers and REDSHIFTS, and only when a row is selected the coadd's headers,
 * FIBERMAP and the planned rows. Each step holds only its own bytes and gives them back before the next step
 * asks: no tile ever holds bytes while waiting for more, so tiles cannot deadlock on the budget.
 */
class Ranges extends BaseFetch implements TileFetch {
  get gapBytes(): number {
    return this.ctx.autoGap?.current() ?? this.ctx.gapBytes;
  }

  /** With --gap-bytes auto, each read of the object is timed for the link's estimates. */
  private async metered(opened: Promise<BulkSource>): Promise<BulkSource> {
    const o = await opened;
    const meter = this.ctx.autoGap?.meter;
    if (!meter) return o;
    const timed =
      (slice: (start: number, end: number) => Promise<Uint8Array>) =>
      async (start: number, end: number): Promise<Uint8Array> => {
        const t0 = performance.now();
        const bytes = await slice(start, end);
        meter.record(end - start, t0);
        return bytes;
      };
    return { name: o.name, byteLength: o.byteLength, slice: timed((a, b) => o.slice(a, b)), sliceBulk: timed((a, b) => o.sliceBulk(a, b)) };
  }

  async begin(): Promise<void> {
    // Nothing is held for the whole tile.
  }

  redrock(): Promise<ByteSource> {
    if (!this.tile.redrock) throw new Error('internal: a tile without a redrock file reached the fetch');
    return this.metered(this.open(this.tile.redrock));
  }

  coadd(): Promise<ByteSource> {
    if (!this.tile.coadd) throw new Error('internal: a tile without a coadd file reached the fetch');
    return this.metered(this.open(this.tile.coadd));
  }

  afterburner(ref: ObjectRef): Promise<ByteSource> {
    return this.metered(this.open(ref));
  }

  async holding<T>(bytes: number, what: string, step: () => Promise<T>): Promise<T> {
    await this.hold(bytes, what);
    try {
      return await step();
    } finally {
      this.letGo();
    }
  }

  readAll(source: ByteSource, reads: readonly PlannedRead[]): Promise<Uint8Array[]> {
    // --reads-per-tile is each tile's share; slots of --reads-in-flight that no other read waits for are taken
    // too, so the last big tiles of a run (or one alone) keep the link as full as many tiles do.
    const total = this.ctx.limits.total;
    const bulk = (source as Partial<BulkSource>).sliceBulk ?? source.slice.bind(source);
    return mapLimit(reads, this.ctx.limits.perTile, (r) => bulk(r.start, r.end), { signal: this.ctx.signal, grow: () => total.hasIdleSlot() });
  }
}
