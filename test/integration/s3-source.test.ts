/**
 * Ranged reads of one object from a real S3 server (s3rver), and through a loopback server that injects
 * faults in front of it: random ranges equal the local bytes, large slices split into parts, ETag pinning,
 * throttling answered with backoff (retries counted), short bodies and stalled reads retried.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { LocalS3 } from '../../src/dev/local-s3.js';
import { S3Error } from '../../src/storage/s3-client.js';
import { ObjectChangedError, S3ObjectSource } from '../../src/storage/s3-source.js';
import { newRetryCounters } from '../../src/storage/retry.js';
import { anonClient, FAST_RETRY, pseudoRandomBytes, putObject, S3_TEST_TIMEOUT, s3ErrorXml, signedClient, startFaultServer, startS3 } from '../helpers/s3.js';

const BUCKET = 'desi-src';
const KEY = 'healpix/main/dark/230/23040/coadd-main-dark-23040.fits';
const SIZE = 3 * 1024 * 1024 + 12345;
const bytes = pseudoRandomBytes(SIZE, 7);
let s3: LocalS3;
let signed: S3Client;
let etag: string;

before(async () => {
  s3 = await startS3([BUCKET]);
  signed = signedClient(s3.endpoint);
  await putObject(signed, BUCKET, KEY, bytes);
  etag = (await signed.send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY }))).ETag!;
});
after(async () => {
  await s3?.stop();
});

function random(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

test('random ranges read the same bytes as the object, each in one GET', { timeout: S3_TEST_TIMEOUT }, async () => {
  const src = new S3ObjectSource(anonClient(s3.endpoint), BUCKET, KEY, SIZE, etag, { retry: FAST_RETRY });
  assert.equal(src.name, `s3://${BUCKET}/${KEY}`);
  const rnd = random(3);
  // Not [0, 1): s3rver 3.7.1 answers `Range: bytes=0-0` with the whole object (its end 0 reads as "none");
  // S3 does not, and the source refuses such a body as longer than asked.
  const ranges: [number, number][] = [
    [1, 2],
    [SIZE - 1, SIZE],
    [0, 2880],
    [2880, 5760],
    [0, SIZE],
  ];
  for (let i = 0; i < 40; i++) {
    const a = Math.floor(rnd() * SIZE);
    const b = Math.min(SIZE, a + 1 + Math.floor(rnd() * 200_000));
    ranges.push([a, b]);
  }
  let fetched = 0;
  for (const [a, b] of ranges) {
    const got = await src.slice(a, b);
    assert.equal(got.byteOffset, 0);
    assert.equal(got.byteLength, b - a);
    assert.ok(Buffer.from(got).equals(Buffer.from(bytes.subarray(a, b))), `bytes ${a}-${b} differ`);
    fetched += b - a;
  }
  assert.equal(src.stats.requests, ranges.length);
  assert.equal(src.stats.bytesFetched, fetched);
  assert.equal((await src.slice(5, 5)).byteLength, 0);
  assert.equal(src.stats.requests, ranges.length, 'an empty slice makes no request');
  await assert.rejects(src.slice(0, SIZE + 1), RangeError);
  await assert.rejects(src.slice(-1, 3), RangeError);
});

test('a large slice is split into parallel ranged GETs that tile the range exactly', { timeout: S3_TEST_TIMEOUT }, async () => {
  const proxy = await startFaultServer(s3.endpoint, () => 'proxy');
  try {
    const part = 256 * 1024;
    const src = new S3ObjectSource(anonClient(proxy.endpoint), BUCKET, KEY, SIZE, etag, { partSize: part, partConcurrency: 3, retry: FAST_RETRY });
    const [a, b] = [1000, SIZE - 7];
    const got = await src.slice(a, b);
    assert.ok(Buffer.from(got).equals(Buffer.from(bytes.subarray(a, b))));
    const parts = Math.ceil((b - a) / part);
    assert.equal(src.stats.requests, parts);
    const asked = proxy.requests.map((r) => /^bytes=(\d+)-(\d+)$/.exec(String(r.headers.range))!.slice(1).map(Number)).sort((x, y) => x[0] - y[0]);
    assert.equal(asked.length, parts);
    assert.equal(asked[0][0], a);
    assert.equal(asked[asked.length - 1][1], b - 1);
    for (let i = 1; i < asked.length; i++) assert.equal(asked[i][0], asked[i - 1][1] + 1, 'parts are contiguous and do not overlap');
    for (const r of proxy.requests) assert.equal(r.headers['if-match'], etag, 'every GET is pinned to the ETag');
  } finally {
    await proxy.close();
  }
});

test('an object replaced between two slices fails with ObjectChangedError', { timeout: S3_TEST_TIMEOUT }, async () => {
  const key = 'pin/coadd.fits';
  const v1 = pseudoRandomBytes(100_000, 1);
  await putObject(signed, BUCKET, key, v1);
  const e1 = (await signed.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ETag!;
  const src = new S3ObjectSource(anonClient(s3.endpoint), BUCKET, key, v1.byteLength, e1, { retry: FAST_RETRY });
  assert.ok(Buffer.from(await src.slice(0, 5000)).equals(Buffer.from(v1.subarray(0, 5000))));
  await putObject(signed, BUCKET, key, pseudoRandomBytes(100_000, 2)); // same size, new content
  const before = { ...src.retries };
  await assert.rejects(src.slice(5000, 10_000), (err: unknown) => {
    assert.ok(err instanceof ObjectChangedError);
    assert.equal(err.code, 'OBJECT_CHANGED');
    assert.equal(err.bucket, BUCKET);
    assert.equal(err.key, key);
    assert.match(err.message, /^s3:\/\/desi-src\/pin\/coadd\.fits: the object changed since it was discovered \(ETag/);
    return true;
  });
  assert.equal(src.retries.retries, before.retries, 'a changed object is not retried');

  // Without an ETag from discovery, the first answer's ETag is pinned; a size that differs is a change too.
  const unpinned = new S3ObjectSource(anonClient(s3.endpoint), BUCKET, key, 99_999, undefined, { retry: FAST_RETRY });
  await assert.rejects(unpinned.slice(0, 10), /changed since it was discovered \(size 100000 bytes, expected 99999\)/);
});

test('HTTP 412 to If-Match is an ObjectChangedError, not retried', { timeout: S3_TEST_TIMEOUT }, async () => {
  const fault = await startFaultServer(s3.endpoint, () => ({
    status: 412,
    headers: { 'content-type': 'application/xml' },
    body: s3ErrorXml('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold'),
  }));
  try {
    const src = new S3ObjectSource(anonClient(fault.endpoint), BUCKET, KEY, SIZE, etag, { retry: FAST_RETRY });
    await assert.rejects(src.slice(0, 100), (err: unknown) => err instanceof ObjectChangedError && err.message.includes('HTTP 412'));
    assert.equal(fault.requests.length, 1);
  } finally {
    await fault.close();
  }
});

test('503 SlowDown is answered with backoff, and the retries are counted', { timeout: S3_TEST_TIMEOUT }, async () => {
  const slowDowns = 3;
  const fault = await startFaultServer(s3.endpoint, (_req, i) =>
    i < slowDowns ? { status: 503, headers: { 'content-type': 'application/xml' }, body: s3ErrorXml('SlowDown', 'Please reduce your request rate.') } : 'proxy',
  );
  try {
    const run = newRetryCounters();
    const delays: number[] = [];
    const src = new S3ObjectSource(anonClient(fault.endpoint), BUCKET, KEY, SIZE, etag, {
      retry: { ...FAST_RETRY, counters: run, onRetry: (r) => delays.push(r.delayMs) },
    });
    const got = await src.slice(4096, 70_000);
    assert.ok(Buffer.from(got).equals(Buffer.from(bytes.subarray(4096, 70_000))));
    assert.equal(fault.requests.length, slowDowns + 1);
    assert.equal(src.stats.requests, slowDowns + 1);
    assert.equal(src.retries.throttle, slowDowns);
    assert.equal(src.retries.retries, slowDowns);
    assert.deepEqual(run, src.retries, "the counters given (the run's) count the object's retries too");
    assert.equal(delays.length, slowDowns);
    delays.forEach((d, i) => assert.ok(d >= 0 && d < Math.min(FAST_RETRY.maxDelayMs, FAST_RETRY.baseDelayMs * 2 ** i), `delay ${d} of retry ${i + 1}`));
  } finally {
    await fault.close();
  }
});

test('a server that keeps throttling: an S3Error after the last attempt, naming object and status', { timeout: S3_TEST_TIMEOUT }, async () => {
  const fault = await startFaultServer(s3.endpoint, () => ({
    status: 503,
    headers: { 'content-type': 'application/xml' },
    body: s3ErrorXml('SlowDown', 'Please reduce your request rate.'),
  }));
  try {
    const src = new S3ObjectSource(anonClient(fault.endpoint), BUCKET, KEY, SIZE, etag, { retry: FAST_RETRY });
    await assert.rejects(src.slice(0, 10), (err: unknown) => {
      assert.ok(err instanceof S3Error);
      assert.equal(err.status, 503);
      assert.equal(err.fatal, false);
      assert.match(
        err.message,
        /^s3:\/\/desi-src\/healpix\/main\/dark\/230\/23040\/coadd-main-dark-23040\.fits: GetObject bytes=0-9 failed after 6 attempts: HTTP 503 SlowDown/,
      );
      return true;
    });
    assert.equal(fault.requests.length, 6);
    assert.equal(src.retries.gaveUp, 1);
  } finally {
    await fault.close();
  }
});

test('a body shorter than the range asked for is retried', { timeout: S3_TEST_TIMEOUT }, async () => {
  const [a, b] = [100, 5100];
  const short = bytes.subarray(a, b - 10);
  const fault = await startFaultServer(s3.endpoint, (_req, i) =>
    i === 0 ? { status: 206, headers: { 'content-range': `bytes ${a}-${b - 1}/${SIZE}`, etag }, body: short } : 'proxy',
  );
  try {
    const src = new S3ObjectSource(anonClient(fault.endpoint), BUCKET, KEY, SIZE, etag, { retry: FAST_RETRY });
    const got = await src.slice(a, b);
    assert.ok(Buffer.from(got).equals(Buffer.from(bytes.subarray(a, b))));
    assert.equal(src.retries.body, 1);
    assert.equal(fault.requests.length, 2);
  } finally {
    await fault.close();
  }
});

test('a read that stalls is aborted and retried', { timeout: S3_TEST_TIMEOUT }, async () => {
  const fault = await startFaultServer(s3.endpoint, (_req, i) => (i === 0 ? { stallAfter: 1000 } : 'proxy'));
  try {
    const src = new S3ObjectSource(anonClient(fault.endpoint), BUCKET, KEY, SIZE, etag, { stallMs: 300, retry: FAST_RETRY });
    const got = await src.slice(0, 200_000);
    assert.ok(Buffer.from(got).equals(Buffer.from(bytes.subarray(0, 200_000))));
    assert.equal(src.retries.timeout, 1);
    assert.equal(fault.requests.length, 2);
    assert.equal(src.stats.bytesFetched, 1000 + 200_000, 'bytes of the stalled attempt count as fetched');
  } finally {
    await fault.close();
  }
});
