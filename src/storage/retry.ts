/**
 * The one place that retries S3 requests: exponential backoff with full jitter for throttling (503 SlowDown,
 * 429), other 5xx answers, dropped connections, timeouts and bodies of the wrong length. The SDK's own
 * retries are off (maxAttempts 1 in makeS3Client) so that every retry is decided and counted here.
 */
import { setTimeout as sleepTimer } from 'node:timers/promises';
import { AbortedError, asAborted, isAbort, throwIfAborted } from './abort.js';

/** Why a failed attempt is worth another try. */
export type RetryReason = 'throttle' | 'server' | 'network' | 'timeout' | 'body';

export interface RetryOptions {
  /** Attempts in all, the first included (default 6). */
  maxAttempts?: number;
  /** Ceiling of the first backoff in ms (default 200); the ceiling doubles after each failed attempt. */
  baseDelayMs?: number;
  /** Largest backoff in ms (default 20,000). */
  maxDelayMs?: number;
  /** A number in [0, 1); Math.random by default (tests pin it). */
  random?: () => number;
  /** Called before each backoff, for logs. */
  onRetry?: (info: { what: string; attempt: number; reason: RetryReason; delayMs: number; error: unknown }) => void;
  /**
   * Where retries are counted: the run's counters, and for a read also its object's own (a list counts
   * the same retry in each). Nothing is counted when absent.
   */
  counters?: RetryCounters | readonly RetryCounters[];
  /**
   * The run's signal: checked before each attempt, it also cuts a backoff sleep short. Once it has fired,
   * the failure of the attempt in flight is an AbortedError, never retried nor counted (retries or gaveUp).
   */
  signal?: AbortSignal;
}

export const DEFAULT_RETRY = { maxAttempts: 6, baseDelayMs: 200, maxDelayMs: 20_000 } as const;

/** Counters of retries, by reason, for the run log. Owned by whoever counts: a run, an object, a test. */
export interface RetryCounters {
  /** Attempts that were retried, all reasons. */
  retries: number;
  throttle: number;
  server: number;
  network: number;
  timeout: number;
  body: number;
  /** Operations that still failed after their last attempt on a retryable error. */
  gaveUp: number;
}

/** Fresh counters, all zero. */
export function newRetryCounters(): RetryCounters {
  return { retries: 0, throttle: 0, server: 0, network: 0, timeout: 0, body: 0, gaveUp: 0 };
}

/** Adds every counter of `from` to `into` (e.g. a tile's objects into its batch); returns `into`. */
export function addRetryCounters(into: RetryCounters, from: RetryCounters): RetryCounters {
  for (const k of Object.keys(into) as (keyof RetryCounters)[]) into[k] += from[k];
  return into;
}

/** "S3 retries: 3 (throttled 2, 5xx 1, network 0, timeouts 0, bad bodies 0); gave up 0" for the run log. */
export function formatRetryCounters(c: RetryCounters): string {
  return `S3 retries: ${c.retries} (throttled ${c.throttle}, 5xx ${c.server}, network ${c.network}, timeouts ${c.timeout}, bad bodies ${c.body}); gave up ${c.gaveUp}`;
}

/** A response body shorter or longer than the range asked for; retried. */
export class BodyLengthError extends Error {
  override name = 'BodyLengthError';
}

/** A read that received no bytes for too long and was aborted; retried. */
export class StallError extends Error {
  override name = 'StallError';
}

/**
 * Full-jitter backoff before attempt `attempt + 1` (attempt counts from 1): a uniform draw in
 * [0, min(maxDelayMs, baseDelayMs * 2^(attempt-1))). Full jitter spreads clients that were throttled
 * together, which is what S3 asks of them.
 */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

const THROTTLE_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequests',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
]);
const TIMEOUT_CODES = new Set(['RequestTimeout', 'RequestTimeoutException', 'TimeoutError', 'ETIMEDOUT', 'ESOCKETTIMEDOUT']);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

interface SdkLikeError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
  cause?: unknown;
}

/** The HTTP status an SDK error carries, if it came from an answer. */
export function httpStatusOf(err: unknown): number | undefined {
  const e = err as SdkLikeError | undefined;
  return e?.$metadata?.httpStatusCode ?? e?.$response?.statusCode;
}

/**
 * Whether a failed attempt is worth retrying, and why; undefined for errors that another attempt would
 * repeat (403, 404, 412, a refused connection, an unknown host, a bug). A refused connection is not
 * retried: it means the endpoint is wrong or down, and the user should hear it at once.
 */
export function retryReason(err: unknown): RetryReason | undefined {
  if (err instanceof BodyLengthError) return 'body';
  if (err instanceof StallError) return 'timeout';
  const e = err as SdkLikeError | undefined;
  if (!e || typeof e !== 'object') return undefined;
  const code = e.Code ?? e.code;
  const name = e.name;
  const status = httpStatusOf(err);
  if (status === 429 || (status === 503 && (code === 'SlowDown' || name === 'SlowDown')) || THROTTLE_CODES.has(name ?? '') || THROTTLE_CODES.has(code ?? ''))
    return 'throttle';
  if (TIMEOUT_CODES.has(name ?? '') || TIMEOUT_CODES.has(code ?? '')) return 'timeout';
  if (status !== undefined && status >= 500 && status !== 501) return 'server';
  if (NETWORK_CODES.has(code ?? '') || NETWORK_CODES.has(name ?? '')) return 'network';
  // A garbled HTTP response (Node's parser: HPE_INVALID_CONSTANT, HPE_INVALID_CHUNK_SIZE...) is a transport
  // fault like a reset: the next attempt opens a fresh connection.
  if (typeof code === 'string' && code.startsWith('HPE_')) return 'network';
  if (status === undefined && e.cause && e.cause !== err) return retryReason(e.cause);
  return undefined;
}

const attemptsMade = new WeakMap<object, number>();

/** How many attempts withRetry made before giving up with this error (undefined if it never retried it). */
export function attemptsOf(err: unknown): number | undefined {
  return err && typeof err === 'object' ? attemptsMade.get(err) : undefined;
}

/** The counters of `RetryOptions.counters` as a list (empty when absent). */
export function counterList(c: RetryOptions['counters']): readonly RetryCounters[] {
  if (c === undefined) return [];
  return Array.isArray(c) ? (c as readonly RetryCounters[]) : [c as RetryCounters];
}

/** `opts` counting also in `more`, besides the counters it already names (an object's own, say). */
export function alsoCountIn(opts: RetryOptions | undefined, more: RetryCounters): RetryOptions {
  return { ...opts, counters: [more, ...counterList(opts?.counters)] };
}

/**
 * Runs `fn` until it succeeds, a non-retryable error is thrown, or the attempts are used up; sleeps with
 * backoff between attempts and counts each retry in `opts.counters`. The last error is thrown as is, except
 * an abort: once `opts.signal` has fired (or `fn` failed with an abort error), withRetry throws an
 * AbortedError naming `what` at once, without another attempt and without counting anything.
 */
export async function withRetry<T>(what: string, fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const maxAttempts = Math.max(1, opts.maxAttempts ?? DEFAULT_RETRY.maxAttempts);
  const base = opts.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs;
  const max = opts.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs;
  const { signal } = opts;
  // Made at the first failure only (most calls succeed at once): a counter given twice still counts once.
  let counters: Set<RetryCounters> | undefined;
  for (let attempt = 1; ; attempt++) {
    throwIfAborted(signal, what);
    try {
      return await fn(attempt);
    } catch (error) {
      // An attempt cut short by the run's signal fails in whatever way its request did: it is an abort.
      if (signal?.aborted || isAbort(error)) throw asAborted(error, what);
      const reason = retryReason(error);
      if (reason === undefined) throw error;
      counters ??= new Set(counterList(opts.counters));
      if (attempt >= maxAttempts) {
        for (const c of counters) c.gaveUp += 1;
        if (error && typeof error === 'object') attemptsMade.set(error, attempt);
        throw error;
      }
      const delayMs = backoffDelay(attempt, base, max, opts.random);
      opts.onRetry?.({ what, attempt, reason, delayMs, error });
      if (delayMs > 0) {
        try {
          await sleepTimer(delayMs, undefined, { signal });
        } catch (err) {
          throw new AbortedError(what, { cause: err }); // the only way the sleep fails
        }
      }
      // Counted once the next attempt is sure to start: a backoff cut short by an abort retried nothing.
      for (const c of counters) {
        c.retries += 1;
        c[reason] += 1;
      }
    }
  }
}
