/**
 * One S3 object as a ByteSource: ranged GETs pinned to the ETag seen at discovery, bodies streamed into a
 * preallocated buffer, large slices split into parallel parts, stalled reads aborted and retried, and every
 * request stopped at once when the run's signal aborts.
 */
import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { checkRange } from '../fits/source.js';
import { AbortedError, isAbort, onAbort, throwIfAborted } from './abort.js';
import type { SourceStats } from './source.js';
import type { OpenedObject } from './tile-store.js';
import { mapLimit } from '../util/concurrency.js';
import { alsoCountIn, BodyLengthError, httpStatusOf, newRetryCounters, StallError, withRetry, type RetryCounters, type RetryOptions } from './retry.js';
import { s3Error } from './s3-client.js';
import { formatS3Url } from './s3-url.js';
import { LeanObject, rangedGetPath, type RangedAnswer, type RangedGetPath, type RangedRead } from './ranged-get.js';

export interface S3SourceOptions {
  /** Slices larger than this are read as parallel ranged GETs of this size (default 16 MiB). */
  partSize?: number;
  /** Ranged GETs in flight for one large slice (default 4). */
  partConcurrency?: number;
  /** A response body that delivers no bytes for this long is aborted and retried (default 30 s). */
  stallMs?: number;
  /** Retries of this object's reads are counted in `retry.counters` (the run's) and in its own `retries`. */
  retry?: RetryOptions;
  /**
   * The run's signal. Once it aborts, the GETs in flight are aborted (headers or body), no backoff sleeps on,
   * no part starts, and the read rejects with an AbortedError. It wins over `retry.signal` when both are set.
   */
  signal?: AbortSignal;
}

export const DEFAULT_PART_SIZE = 16 * 1024 * 1024;

/**
 * The object is not the one discovery saw (S3 answered 412 to If-Match, or the ETag or size of the answer
 * differ): its tile fails in this run and is retried by a later one, which discovers the new object.
 */
export class ObjectChangedError extends Error {
  override name = 'ObjectChangedError';
  readonly code = 'OBJECT_CHANGED';
  constructor(
    readonly bucket: string,
    readonly key: string,
    reason: string,
  ) {
    super(`${formatS3Url(bucket, key)}: the object changed since it was discovered (${reason}); its tile will be retried by a later run`);
  }
}

/** An ETag without quotes or weak marker, so '"abc"', 'abc' and 'W/"abc"' compare equal. */
export function normalizeEtag(etag: string | undefined): string | undefined {
  if (etag === undefined || etag === '') return undefined;
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

/**
 * An S3 object of known size (from discovery) read by byte ranges. Every GET carries `If-Match` with the
 * ETag discovery reported (or, without one, the first ETag an answer carried), and the answer's own ETag
 * and Content-Range total are checked too, for servers that ignore If-Match.
 */
export class S3ObjectSource implements OpenedObject {
  readonly name: string;
  readonly stats: SourceStats = { bytesFetched: 0, requests: 0 };
  /** Retries of this object's reads alone. */
  readonly retries: RetryCounters = newRetryCounters();
  private etag: string | undefined;
  private readonly retry: RetryOptions;
  private readonly partSize: number;
  private readonly partConcurrency: number;
  private readonly stallMs: number;
  private readonly signal: AbortSignal | undefined;
  /** How ranged GETs are sent: the lean path (ranged-get.ts) or the SDK's GetObjectCommand (DESI_QAD_S3_GET=sdk). */
  readonly getPath: RangedGetPath;
  /** The lean path's GETs of this object (endpoint, path and signer resolved once). */
  private readonly lean: LeanObject | undefined;
  /** The pinned ETag as answers carry it (quoted): the common case of the ETag check is one comparison. */
  private quotedEtag: string | undefined;

  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    readonly key: string,
    readonly byteLength: number,
    etag?: string,
    private readonly opts: S3SourceOptions = {},
  ) {
    this.name = formatS3Url(bucket, key);
    this.etag = normalizeEtag(etag);
    this.partSize = Math.max(1, opts.partSize ?? DEFAULT_PART_SIZE);
    this.partConcurrency = Math.max(1, opts.partConcurrency ?? 4);
    this.stallMs = opts.stallMs ?? 30_000;
    this.signal = opts.signal ?? opts.retry?.signal;
    this.retry = { ...alsoCountIn(opts.retry, this.retries), signal: this.signal };
    this.getPath = rangedGetPath(client);
    this.lean = this.getPath === 'lean' ? new LeanObject(client, bucket, key, this.name) : undefined;
    this.quotedEtag = this.etag ? `"${this.etag}"` : undefined;
  }

  /** The ETag every read is pinned to (unquoted), once known. */
  get pinnedEtag(): string | undefined {
    return this.etag;
  }

  /**
   * Bytes [start, end) in a fresh buffer (byteOffset 0). Up to partSize bytes take one GET; more are split
   * into partSize GETs, partConcurrency at a time, each writing its own region of the same buffer.
   */
  async slice(start: number, end: number): Promise<Uint8Array> {
    checkRange(this.name, this.byteLength, start, end);
    throwIfAborted(this.signal, `${this.name} bytes ${start}-${end - 1}`);
    if (end === start) return new Uint8Array(0);
    // Not zero-filled (every byte is written by the GETs, or the slice fails and the buffer is dropped), and
    // an ArrayBuffer of its own, so byteOffset is 0: zero-filling was 1.5 % of the client's CPU in the gets probe.
    const out = new Uint8Array(Buffer.allocUnsafeSlow(end - start).buffer, 0, end - start);
    if (end - start <= this.partSize) {
      await this.readPart(out, 0, start, end);
      return out;
    }
    const parts: [number, number][] = [];
    for (let s = start; s < end; s += this.partSize) parts.push([s, Math.min(end, s + this.partSize)]);
    // A failed part stops new parts from starting; the error is thrown only after the parts in flight have
    // settled, so no GET is left writing into `out` behind a rejected slice. On abort every part in flight
    // fails at once (its GET is aborted), and the parts not started fail before their first attempt.
    await mapLimit(parts, this.partConcurrency, ([s, e]) => this.readPart(out, s - start, s, e));
    return out;
  }

  async close(): Promise<void> {
    // The keep-alive agent belongs to the client; an object holds nothing open between reads.
  }

  /** One part with retries; the final error names the object, or is an ObjectChangedError. */
  private async readPart(out: Uint8Array, offset: number, start: number, end: number): Promise<void> {
    try {
      const attempt = this.lean ? () => this.getRangeLean(out, offset, start, end) : () => this.getRange(out, offset, start, end);
      await withRetry(`${this.name} bytes ${start}-${end - 1}`, attempt, this.retry);
    } catch (err) {
      if (err instanceof ObjectChangedError || isAbort(err)) throw err;
      throw s3Error(err, { client: this.client, bucket: this.bucket, key: this.key, operation: `GetObject bytes=${start}-${end - 1}` });
    }
  }

  /**
   * The answer's ETag and Content-Range, checked before any body byte is taken: a changed ETag or object size
   * is an ObjectChangedError, a range other than the one asked for or an ignored Range header an Error. The
   * first ETag an answer carries pins the reads when discovery had none.
   */
  private checkAnswer(etag: string | undefined, contentRange: string | undefined, start: number, end: number): void {
    if (etag === undefined || etag !== this.quotedEtag) {
      const got = normalizeEtag(etag);
      if (this.etag && got && got !== this.etag) throw new ObjectChangedError(this.bucket, this.key, `ETag ${got}, expected ${this.etag}`);
      if (!this.etag && got) {
        this.etag = got;
        this.quotedEtag = `"${got}"`;
      }
    }
    if (contentRange) {
      if (contentRange === `bytes ${start}-${end - 1}/${this.byteLength}`) return;
      const total = /\/(\d+)\s*$/.exec(contentRange)?.[1];
      if (total !== undefined && Number(total) !== this.byteLength)
        throw new ObjectChangedError(this.bucket, this.key, `size ${total} bytes, expected ${this.byteLength}`);
      const span = /^\s*bytes\s+(\d+)-(\d+)\//i.exec(contentRange);
      if (span && (Number(span[1]) !== start || Number(span[2]) !== end - 1))
        throw new Error(`${this.name}: the server answered bytes ${span[1]}-${span[2]} to a request for bytes ${start}-${end - 1}`);
    } else if (end - start !== this.byteLength) {
      throw new Error(`${this.name}: the server ignored the Range header (answered the whole object to a request for bytes ${start}-${end - 1})`);
    }
  }

  private readonly checker = (etag: string | undefined, contentRange: string | undefined, start: number, end: number) =>
    this.checkAnswer(etag, contentRange, start, end);
  private readonly counter = (n: number) => {
    this.stats.bytesFetched += n;
  };

  /**
   * One attempt by the lean path (ranged-get.ts LeanObject): the GET streams its body into out itself,
   * watched by the socket's timeout for stalls and by the run's signal, with no timer or controller of its own.
   */
  private async getRangeLean(out: Uint8Array, offset: number, start: number, end: number): Promise<void> {
    this.stats.requests += 1;
    const r: RangedRead = {
      start,
      end,
      ifMatch: this.quotedEtag,
      out,
      offset,
      signal: this.signal,
      stallMs: this.stallMs,
      check: this.checker,
      onBytes: this.counter,
    };
    try {
      await this.lean!.read(r);
    } catch (err) {
      throw this.attemptError(err, start, end, false);
    }
  }

  /** What a failed attempt throws: an abort of the run, a stall, a changed object, or the error itself. */
  private attemptError(err: unknown, start: number, end: number, stalled: boolean): unknown {
    if (this.signal?.aborted) return new AbortedError(`${this.name} bytes ${start}-${end - 1}`, { cause: err });
    if (stalled) return new StallError(`${this.name}: no bytes received for ${this.stallMs} ms reading bytes ${start}-${end - 1}; aborted`);
    const status = httpStatusOf(err);
    if (status === 412) return new ObjectChangedError(this.bucket, this.key, `HTTP 412 to If-Match "${this.etag}"`);
    if (status === 416) return new ObjectChangedError(this.bucket, this.key, `HTTP 416: bytes ${start}-${end - 1} are no longer inside it`);
    return err;
  }

  /** One ranged GET's answer headers and body by the SDK's path (DESI_QAD_S3_GET=sdk). */
  private async send(range: string, signal: AbortSignal): Promise<RangedAnswer> {
    const ifMatch = this.etag ? `"${this.etag}"` : undefined;
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key, Range: range, IfMatch: ifMatch }), { abortSignal: signal });
    return { ETag: r.ETag, ContentRange: r.ContentRange, Body: r.Body as Readable | undefined };
  }

  /**
   * One attempt by the SDK's path: a ranged GET whose body is streamed into out[offset, offset + end - start). Its own
   * controller is aborted by the stall timer (a StallError, retried) or by the run's signal (an
   * AbortedError, not retried), which also destroys a body being streamed.
   */
  private async getRange(out: Uint8Array, offset: number, start: number, end: number): Promise<void> {
    const ac = new AbortController();
    let body: Readable | undefined;
    let stalled = false;
    let timer: NodeJS.Timeout | undefined;
    // One timer per attempt, pushed back by each chunk (refresh() re-arms it without a new timer object).
    const arm = () => {
      if (timer) timer.refresh();
      else
        timer = setTimeout(() => {
          stalled = true;
          ac.abort();
          body?.destroy();
        }, this.stallMs);
    };
    const stopListening = onAbort(this.signal, () => {
      clearTimeout(timer);
      ac.abort();
      body?.destroy();
    });
    this.stats.requests += 1;
    const want = end - start;
    try {
      // Until the answer's headers come, the client's connection and socket timeouts watch the request (a
      // request queued for a free socket is not stalled); from then on, this timer watches the body.
      const r = await this.send(`bytes=${start}-${end - 1}`, ac.signal);
      body = r.Body;
      arm();
      try {
        this.checkAnswer(r.ETag, r.ContentRange, start, end);
      } catch (err) {
        body?.destroy();
        throw err;
      }
      if (!body) throw new BodyLengthError(`${this.name}: the answer to bytes ${start}-${end - 1} has no body`);
      let pos = offset;
      const limit = offset + want;
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        arm();
        this.stats.bytesFetched += chunk.byteLength;
        if (pos + chunk.byteLength > limit)
          throw new BodyLengthError(`${this.name}: the body of bytes ${start}-${end - 1} is longer than the ${want} bytes asked for`);
        out.set(chunk, pos);
        pos += chunk.byteLength;
      }
      if (pos < limit) throw new BodyLengthError(`${this.name}: the body of bytes ${start}-${end - 1} ended after ${pos - offset} of ${want} bytes`);
    } catch (err) {
      // A body left unread (a changed ETag, a wrong range) would hold its socket: let it go.
      body?.destroy();
      throw this.attemptError(err, start, end, stalled);
    } finally {
      clearTimeout(timer);
      stopListening();
    }
  }
}
