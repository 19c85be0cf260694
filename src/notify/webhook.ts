/**
 * One webhook POST with bounded retries: each attempt has its own timeout, a refused or reset connection, a
 * timeout, 408, 425, 429 or a 5xx is tried again after a short backoff with jitter, any other answer is final.
 * It never throws; the result says what happened in words that never contain the URL (only its scheme and
 * host, see webhookLabel), so a caller can log it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { redactSecrets, registerSecret, registerUrlSecrets } from '../util/secrets.js';

export interface PostOptions {
  /** Milliseconds per attempt (connect, send, answer and its body). */
  timeoutMs: number;
  attempts: number;
  /** First backoff in ms (doubled each time, with jitter, at most MAX_BACKOFF_MS); default 250. */
  backoffMs?: number;
  /** Aborts the attempt in flight and any backoff: the result is then `aborted`. */
  signal?: AbortSignal;
}

export type PostResult = { ok: true; attempts: number; status: number } | { ok: false; attempts: number; error: string; aborted: boolean };

/** A backoff between attempts is at most this long (also a Retry-After's): a notification is not worth a long wait. */
export const MAX_BACKOFF_MS = 2000;

/** The default first backoff (ms); each next one doubles. */
export const BACKOFF_MS = 250;

/**
 * The longest one postWebhook call takes when the receiver never answers: every attempt timing out, and between
 * them the longest backoff the jitter can draw (a Retry-After only comes with an answer, so not from a dead receiver).
 */
export function longestPostMs(o: Pick<PostOptions, 'timeoutMs' | 'attempts' | 'backoffMs'>): number {
  let ms = o.timeoutMs * o.attempts;
  for (let attempt = 1; attempt < o.attempts; attempt++) ms += Math.min(MAX_BACKOFF_MS, (o.backoffMs ?? BACKOFF_MS) * 2 ** (attempt - 1) * 1.5);
  return ms;
}

/** POSTs `body` (JSON) to `url`, at most `attempts` times. */
export async function postWebhook(url: string, body: string, o: PostOptions): Promise<PostResult> {
  let error = '';
  for (let attempt = 1; attempt <= o.attempts; attempt++) {
    if (o.signal?.aborted) return { ok: false, attempts: attempt - 1, error: 'given up', aborted: true };
    let retryAfterMs: number | undefined;
    try {
      const timeout = AbortSignal.timeout(o.timeoutMs);
      const signal = o.signal ? AbortSignal.any([timeout, o.signal]) : timeout;
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal });
      // The body is read (a few bytes) so the connection can be reused, and said when the answer is an error.
      const answer = (await res.text()).slice(0, 200).replace(/\s+/g, ' ').trim();
      if (res.ok) return { ok: true, attempts: attempt, status: res.status };
      error = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${answer ? `: ${answer}` : ''}`;
      if (!RETRIED_STATUS.has(res.status) && res.status < 500) return { ok: false, attempts: attempt, error: redactSecrets(error), aborted: false };
      retryAfterMs = retryAfter(res.headers.get('retry-after'));
    } catch (err) {
      if (o.signal?.aborted) return { ok: false, attempts: attempt, error: 'given up', aborted: true };
      error = describeFetchError(err, o.timeoutMs);
    }
    if (attempt < o.attempts) {
      const base = (o.backoffMs ?? BACKOFF_MS) * 2 ** (attempt - 1) * (0.5 + Math.random());
      try {
        await sleep(Math.min(MAX_BACKOFF_MS, retryAfterMs ?? base), undefined, { signal: o.signal });
      } catch {
        return { ok: false, attempts: attempt, error: 'given up', aborted: true };
      }
    }
  }
  return { ok: false, attempts: o.attempts, error: redactSecrets(error), aborted: false };
}

const RETRIED_STATUS = new Set([408, 425, 429]);

/** Retry-After in ms (seconds or an HTTP date), or undefined. */
function retryAfter(h: string | null): number | undefined {
  if (!h) return undefined;
  const s = Number(h);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(h);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

/** "no answer within 5 s", "connection refused (ECONNREFUSED)", "the receiver closed the connection (UND_ERR_SOCKET)". */
export function describeFetchError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const code = e.cause?.code;
  const known = code ? FETCH_CODES[code] : undefined;
  const text = known ?? e.cause?.message ?? e.message ?? String(err);
  return redactSecrets(code ? `${text} (${code})` : text);
}

const FETCH_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'the connection was reset',
  UND_ERR_SOCKET: 'the receiver closed the connection',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved now',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  CERT_HAS_EXPIRED: 'its TLS certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its TLS certificate cannot be verified',
};

/** How a webhook is named in logs and messages: scheme and host only, `https://hooks.slack.com/…`. */
export function webhookLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return 'a webhook';
  }
}

/** Path segments at least this long are taken for tokens and registered on their own too (no ordinary word is this long). */
const TOKEN_SEGMENT_LENGTH = 16;

/**
 * Registers a webhook URL with util/secrets.ts: the URL as written and as normalized, its path with the query,
 * its query, every long path segment (the tokens of Slack, Mattermost and Discord URLs) and any userinfo. The
 * path is where a webhook's secret lives (registerUrlSecrets alone only knows userinfo).
 */
export function registerWebhookSecret(url: string): void {
  registerSecret(url, 'notify URL');
  registerUrlSecrets(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return;
  }
  registerSecret(u.href, 'notify URL');
  registerSecret(`${u.pathname}${u.search}`, 'notify URL path');
  registerSecret(u.search.slice(1), 'notify URL query');
  for (const segment of u.pathname.split('/')) if (segment.length >= TOKEN_SEGMENT_LENGTH) registerSecret(segment, 'notify URL token');
}
