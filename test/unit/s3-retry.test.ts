import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addRetryCounters,
  attemptsOf,
  backoffDelay,
  BodyLengthError,
  formatRetryCounters,
  newRetryCounters,
  retryReason,
  StallError,
  withRetry,
} from '../../src/storage/retry.js';
import { AbortedError, isAbort } from '../../src/storage/abort.js';

const sdkError = (name: string, status?: number, extra: object = {}) =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status }, ...extra });
const netError = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

test('backoffDelay: full jitter inside [0, min(max, base * 2^(attempt-1)))', () => {
  assert.equal(
    backoffDelay(1, 100, 10_000, () => 0),
    0,
  );
  assert.equal(
    backoffDelay(1, 100, 10_000, () => 0.999999),
    99,
  );
  assert.equal(
    backoffDelay(3, 100, 10_000, () => 0.5),
    200,
  );
  assert.equal(
    backoffDelay(4, 100, 10_000, () => 0.999999),
    799,
  );
  assert.equal(
    backoffDelay(20, 100, 10_000, () => 0.999999),
    9999,
  ); // capped at maxDelay
  for (let attempt = 1; attempt <= 12; attempt++) {
    const ceiling = Math.min(5000, 100 * 2 ** (attempt - 1));
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(attempt, 100, 5000);
      assert.ok(d >= 0 && d < ceiling, `attempt ${attempt}: ${d} outside [0, ${ceiling})`);
    }
  }
});

test('retryReason: which errors are retried', () => {
  assert.equal(retryReason(sdkError('SlowDown', 503)), 'throttle');
  assert.equal(retryReason(sdkError('TooManyRequests', 429)), 'throttle');
  assert.equal(retryReason(sdkError('ServiceUnavailable', 503)), 'server');
  assert.equal(retryReason(sdkError('InternalError', 500)), 'server');
  assert.equal(retryReason(sdkError('Unknown', 502)), 'server');
  assert.equal(retryReason(sdkError('RequestTimeout', 400)), 'timeout');
  assert.equal(retryReason(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' })), 'timeout');
  assert.equal(retryReason(netError('ECONNRESET')), 'network');
  assert.equal(retryReason(netError('EPIPE')), 'network');
  assert.equal(retryReason(new Error('wrapped', { cause: netError('ECONNRESET') })), 'network');
  assert.equal(retryReason(new BodyLengthError('short')), 'body');
  assert.equal(retryReason(new StallError('stalled')), 'timeout');
  // Not retried: another attempt would get the same answer.
  assert.equal(retryReason(sdkError('NotImplemented', 501)), undefined);
  assert.equal(retryReason(sdkError('AccessDenied', 403)), undefined);
  assert.equal(retryReason(sdkError('NoSuchBucket', 404)), undefined);
  assert.equal(retryReason(sdkError('PreconditionFailed', 412)), undefined);
  assert.equal(retryReason(netError('ECONNREFUSED')), undefined);
  assert.equal(retryReason(netError('ENOTFOUND')), undefined);
  assert.equal(retryReason(new TypeError('a bug')), undefined);
  assert.equal(retryReason(undefined), undefined);
});

test('withRetry: retries retryable errors, counts them, and stops at maxAttempts', async () => {
  const counters = newRetryCounters();
  let calls = 0;
  const delays: number[] = [];
  const value = await withRetry(
    'x',
    () => {
      calls += 1;
      if (calls <= 2) return Promise.reject(sdkError('SlowDown', 503));
      if (calls === 3) return Promise.reject(netError('ECONNRESET'));
      return Promise.resolve('done');
    },
    { baseDelayMs: 1, maxDelayMs: 4, onRetry: (i) => delays.push(i.delayMs), counters },
  );
  assert.equal(value, 'done');
  assert.equal(calls, 4);
  assert.deepEqual(counters, { retries: 3, throttle: 2, server: 0, network: 1, timeout: 0, body: 0, gaveUp: 0 });
  assert.ok(delays.every((d) => d >= 0 && d < 4));

  calls = 0;
  const err = sdkError('InternalError', 500);
  await assert.rejects(
    withRetry(
      'y',
      () => {
        calls += 1;
        return Promise.reject(err);
      },
      { maxAttempts: 3, baseDelayMs: 1, counters },
    ),
    (e) => e === err,
  );
  assert.equal(calls, 3);
  assert.equal(attemptsOf(err), 3);
  assert.equal(counters.gaveUp, 1);
  assert.equal(counters.server, 2);
  assert.match(formatRetryCounters(counters), /S3 retries: 5 \(throttled 2, 5xx 2, network 1/);

  calls = 0;
  await assert.rejects(
    withRetry(
      'z',
      () => {
        calls += 1;
        return Promise.reject(sdkError('AccessDenied', 403));
      },
      { baseDelayMs: 1, counters },
    ),
    /AccessDenied/,
  );
  assert.equal(calls, 1, 'a 403 is not retried');
  assert.equal(counters.retries, 5, 'a 403 is not counted');
  assert.deepEqual(newRetryCounters(), { retries: 0, throttle: 0, server: 0, network: 0, timeout: 0, body: 0, gaveUp: 0 });
});

test('retry counters belong to their owner: each counter given is counted once, others are untouched', async () => {
  const run = newRetryCounters();
  const object = newRetryCounters();
  const other = newRetryCounters();
  let calls = 0;
  await withRetry(
    'x',
    () => {
      if (++calls === 1) return Promise.reject(sdkError('SlowDown', 503));
      return Promise.resolve();
    },
    { baseDelayMs: 1, counters: [object, run, run] },
  );
  assert.deepEqual(object, { ...newRetryCounters(), retries: 1, throttle: 1 });
  assert.deepEqual(run, object, 'a counter named twice counts once');
  assert.deepEqual(other, newRetryCounters());
  assert.equal(addRetryCounters(other, run), other);
  addRetryCounters(other, object);
  assert.deepEqual(other, { ...newRetryCounters(), retries: 2, throttle: 2 });
  assert.equal(formatRetryCounters(other), 'S3 retries: 2 (throttled 2, 5xx 0, network 0, timeouts 0, bad bodies 0); gave up 0');
});

test('withRetry: an abort during a long backoff rejects at once with an AbortedError and counts nothing', async () => {
  const counters = newRetryCounters();
  const ac = new AbortController();
  let calls = 0;
  let retried = 0;
  const t0 = performance.now();
  const run = withRetry(
    'get s3://b/k',
    () => {
      calls += 1;
      return Promise.reject(sdkError('SlowDown', 503));
    },
    // A backoff of ~60 s (random pinned near 1): only the abort can end it within the test's time.
    { maxAttempts: 6, baseDelayMs: 60_000, maxDelayMs: 60_000, random: () => 0.999, counters, signal: ac.signal, onRetry: () => (retried += 1) },
  );
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(run, (e) => e instanceof AbortedError && e.code === 'ABORTED' && e.message.includes('get s3://b/k: aborted'));
  const ms = performance.now() - t0;
  assert.ok(ms < 1_000, `withRetry took ${Math.round(ms)} ms to honour the abort`);
  assert.equal(calls, 1, 'no attempt after the abort');
  assert.equal(retried, 1, 'the backoff had begun');
  assert.deepEqual(counters, newRetryCounters(), 'an aborted backoff counts no retry and no give-up');
});

test('withRetry: an attempt failing after the abort is not retried; an aborted signal starts no attempt', async () => {
  const counters = newRetryCounters();
  const ac = new AbortController();
  let calls = 0;
  await assert.rejects(
    withRetry(
      'x',
      () => {
        calls += 1;
        ac.abort();
        return Promise.reject(netError('ECONNRESET')); // what a destroyed socket looks like: retryable, but aborted
      },
      { baseDelayMs: 1, counters, signal: ac.signal },
    ),
    AbortedError,
  );
  assert.equal(calls, 1);
  assert.deepEqual(counters, newRetryCounters());
  calls = 0;
  await assert.rejects(
    withRetry(
      'y',
      () => {
        calls += 1;
        return Promise.resolve();
      },
      { signal: ac.signal },
    ),
    AbortedError,
  );
  assert.equal(calls, 0);
  // The SDK's own abort error, without our signal, is not retried either.
  const sdkAbort = Object.assign(new Error('Request aborted'), { name: 'AbortError' });
  calls = 0;
  await assert.rejects(
    withRetry(
      'z',
      () => {
        calls += 1;
        return Promise.reject(sdkAbort);
      },
      { baseDelayMs: 1, counters },
    ),
    (e) => e instanceof AbortedError && e.cause === sdkAbort,
  );
  assert.equal(calls, 1);
  assert.deepEqual(counters, newRetryCounters());
});

test("isAbort recognises ours, the SDK's, Node's and a wrapped one, and nothing else", async () => {
  assert.ok(isAbort(new AbortedError('x')));
  assert.ok(isAbort(Object.assign(new Error('Request aborted'), { name: 'AbortError' })));
  const ac = new AbortController();
  ac.abort();
  assert.ok(isAbort(ac.signal.reason), 'the DOMException of abort()');
  const { setTimeout: sleep } = await import('node:timers/promises');
  await assert.rejects(sleep(10, undefined, { signal: ac.signal }), (e) => isAbort(e) && (e as { code?: string }).code === 'ABORT_ERR');
  assert.ok(isAbort(new Error('wrapped', { cause: new AbortedError() })));
  assert.ok(!isAbort(new StallError('stalled')));
  assert.ok(!isAbort(sdkError('TimeoutError', undefined)));
  assert.ok(!isAbort(netError('ECONNRESET')));
  assert.ok(!isAbort(undefined));
  assert.ok(!isAbort('AbortError'));
});
