/**
 * The run's AbortSignal stops S3 work that would otherwise wait out every timeout and retry: a read whose
 * body stalled (60 s stall timeout, 6 attempts), a read whose answer never comes, a discovery against a
 * silent endpoint, and a tile job stuck in its first read. Each rejects (or ends its tile as aborted) within
 * 2 s of controller.abort(), with an abort error, without counting a retry and without another request.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { LocalS3 } from '../../src/dev/local-s3.js';
import { DEFAULT_SELECTION } from '../../src/desi/selection.js';
import type { TileRef } from '../../src/desi/tile.js';
import { ByteBudget } from '../../src/pipeline/budget.js';
import { isAborted } from '../../src/pipeline/errors.js';
import { readLimits } from '../../src/pipeline/fetch.js';
import { WorkerPool } from '../../src/pipeline/pool.js';
import { runTile } from '../../src/pipeline/tile-job.js';
import { AbortedError, isAbort } from '../../src/storage/abort.js';
import { LocalOutputStore } from '../../src/storage/output-local.js';
import { newRetryCounters } from '../../src/storage/retry.js';
import { S3ObjectSource } from '../../src/storage/s3-source.js';
import { S3TileStore } from '../../src/storage/s3-tree.js';
import { anonClient, pseudoRandomBytes, putObject, S3_TEST_TIMEOUT, signedClient, startFaultServer, startS3, type FaultServer } from '../helpers/s3.js';

const BUCKET = 'desi-abort';
const KEY = 'healpix/main/dark/230/23040/coadd-main-dark-23040.fits';
const SIZE = 2 * 1024 * 1024;
/** The bound within which an abort must be honoured: far below any timeout or retry left running. */
const ABORT_BOUND_MS = 2_000;
let s3: LocalS3;
let signed: S3Client;
let etag: string;

before(async () => {
  s3 = await startS3([BUCKET]);
  signed = signedClient(s3.endpoint);
  await putObject(signed, BUCKET, KEY, pseudoRandomBytes(SIZE, 3));
  etag = (await signed.send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY }))).ETag!;
});
after(async () => {
  await s3?.stop();
});

/** Resolves once the fault server has seen `n` requests (polling; the test's own timeout bounds it). */
async function requestsSeen(fault: FaultServer, n: number): Promise<void> {
  while (fault.requests.length < n) await sleep(10);
}

/** Aborts `ac`, then awaits `p`'s rejection and returns it with the time it took after the abort. */
async function abortAndTime(ac: AbortController, p: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const settled = p.then(
    () => ({ error: undefined, done: performance.now() }),
    (error: unknown) => ({ error, done: performance.now() }),
  );
  const t0 = performance.now();
  ac.abort();
  const { error, done } = await settled;
  return { error, ms: done - t0 };
}

test('a read whose parts stalled mid-body (60 s stall timeout, 6 attempts) rejects within 2 s of abort', { timeout: S3_TEST_TIMEOUT }, async () => {
  // Every GET gets its headers and first 1000 bytes, then silence: only the stall timer (60 s) or the abort can end it.
  const fault = await startFaultServer(s3.endpoint, () => ({ stallAfter: 1000 }));
  try {
    const ac = new AbortController();
    const src = new S3ObjectSource(anonClient(fault.endpoint, { socketTimeoutMs: 120_000 }), BUCKET, KEY, SIZE, etag, {
      stallMs: 60_000,
      partSize: 256 * 1024,
      partConcurrency: 4,
      retry: { maxAttempts: 6 },
      signal: ac.signal,
    });
    const read = src.slice(0, SIZE); // 8 parts, 4 in flight
    await requestsSeen(fault, 4);
    await sleep(200); // the bodies have begun and stalled
    const { error, ms } = await abortAndTime(ac, read);
    assert.ok(error instanceof AbortedError, `an AbortedError, got ${String(error)}`);
    assert.ok(isAbort(error));
    assert.match(error.message, new RegExp(`s3://${BUCKET}/${KEY} bytes \\d+-\\d+: aborted`));
    assert.ok(ms < ABORT_BOUND_MS, `the read took ${Math.round(ms)} ms to honour the abort`);
    assert.deepEqual(src.retries, newRetryCounters(), 'an aborted read counts no retry');
    await sleep(100);
    assert.equal(fault.requests.length, 4, 'no part and no retry started after the abort');
  } finally {
    await fault.close();
  }
});

test('a read whose answer never comes rejects within 2 s of abort, and an aborted source reads nothing', { timeout: S3_TEST_TIMEOUT }, async () => {
  const fault = await startFaultServer(undefined, () => 'silent');
  try {
    const ac = new AbortController();
    const src = new S3ObjectSource(anonClient(fault.endpoint, { socketTimeoutMs: 120_000 }), BUCKET, KEY, SIZE, etag, {
      stallMs: 60_000,
      retry: { maxAttempts: 6 },
      signal: ac.signal,
    });
    const read = src.slice(0, 2880);
    await requestsSeen(fault, 1);
    const { error, ms } = await abortAndTime(ac, read);
    assert.ok(error instanceof AbortedError, `an AbortedError, got ${String(error)}`);
    assert.ok(ms < ABORT_BOUND_MS, `the read took ${Math.round(ms)} ms to honour the abort`);
    await assert.rejects(src.slice(0, 10), AbortedError);
    assert.equal(fault.requests.length, 1, 'a read after the abort sends no request');
    assert.equal(src.retries.retries, 0);
  } finally {
    await fault.close();
  }
});

test('S3TileStore.discover against an endpoint that never answers rejects within 2 s of abort', { timeout: S3_TEST_TIMEOUT }, async () => {
  const fault = await startFaultServer(undefined, () => 'silent');
  try {
    const ac = new AbortController();
    const counters = newRetryCounters();
    const store = new S3TileStore(anonClient(fault.endpoint, { socketTimeoutMs: 120_000 }), `s3://${BUCKET}/healpix`, { retry: { maxAttempts: 6, counters } });
    const listing = store.discover({ surveys: ['main'], programs: ['dark'] }, ac.signal);
    await requestsSeen(fault, 1);
    const { error, ms } = await abortAndTime(ac, listing);
    assert.ok(error instanceof AbortedError, `an AbortedError (not an S3Error), got ${String(error)}`);
    assert.match(error.message, /list s3:\/\/desi-abort\/healpix\/: aborted/);
    assert.ok(ms < ABORT_BOUND_MS, `discover took ${Math.round(ms)} ms to honour the abort`);
    assert.deepEqual(counters, newRetryCounters(), 'an aborted listing counts no retry and no give-up');
    await sleep(100);
    assert.equal(fault.requests.length, 1, 'no listing started after the abort');
  } finally {
    await fault.close();
  }
});

test('a tile stuck in its first S3 read ends within 2 s of abort as aborted (failed, ABORTED), not as a failure', { timeout: S3_TEST_TIMEOUT }, async () => {
  const fault = await startFaultServer(undefined, () => 'silent');
  const outDir = await mkdtemp(join(tmpdir(), 'desi-qad-abort-'));
  const pool = new WorkerPool(1);
  try {
    const ac = new AbortController();
    const store = new S3TileStore(anonClient(fault.endpoint, { socketTimeoutMs: 120_000 }), `s3://${BUCKET}/healpix`, {
      retry: { maxAttempts: 6 },
      source: { stallMs: 60_000 },
    });
    const tile: TileRef = {
      survey: 'main',
      program: 'dark',
      healpix: 23040,
      coadd: { path: KEY, size: SIZE, etag },
      redrock: { path: KEY.replace('coadd-', 'redrock-'), size: SIZE, etag },
    };
    const job = runTile(
      {
        store,
        out: new LocalOutputStore(outDir),
        pool,
        selection: DEFAULT_SELECTION,
        fetch: 'ranges',
        gapBytes: 1 << 20,
        version: 'desi-qad abort test',
        budget: new ByteBudget(64 * 2 ** 20),
        limits: readLimits(),
        signal: ac.signal,
      },
      tile,
    );
    await requestsSeen(fault, 1);
    const t0 = performance.now();
    ac.abort();
    const outcome = await job; // runTile never throws
    const ms = performance.now() - t0;
    assert.ok(ms < ABORT_BOUND_MS, `the tile took ${Math.round(ms)} ms to honour the abort`);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.errorClass, 'ABORTED');
    assert.equal(outcome.aborted, true);
    assert.match(outcome.error ?? '', /redrock-main-dark-23040\.fits bytes 0-\d+: aborted/);
    assert.equal(outcome.retries.retries, 0);
    assert.equal(outcome.requests, 1, 'the one stalled GET, and nothing after it');
    assert.ok(isAborted(new AbortedError('x')) && !isAborted(new Error('x')));
  } finally {
    await pool.close();
    await fault.close();
    await rm(outDir, { recursive: true, force: true });
  }
});
