/**
 * The S3 client against real HTTP: anonymous requests carry no Authorization header (checked on the wire),
 * signed ones do; a missing bucket, a refused connection and a silent endpoint fail fast with messages that
 * name the bucket and the endpoint and never the secret key.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { LocalS3 } from '../../src/dev/local-s3.js';
import { S3Error } from '../../src/storage/s3-client.js';
import { newRetryCounters } from '../../src/storage/retry.js';
import { S3TileStore } from '../../src/storage/s3-tree.js';
import { S3ObjectSource } from '../../src/storage/s3-source.js';
import { anonClient, closedPort, FAST_RETRY, putObject, S3_TEST_TIMEOUT, signedClient, startFaultServer, startS3 } from '../helpers/s3.js';
import { makeS3Client } from '../../src/storage/s3-client.js';

let s3: LocalS3;
before(async () => {
  s3 = await startS3(['desi-test']);
  await putObject(signedClient(s3.endpoint), 'desi-test', 'healpix/main/dark/230/23040/coadd-main-dark-23040.fits', 'x'.repeat(100));
});
after(async () => {
  await s3?.stop();
});

test('anonymous requests send no Authorization header; signed ones do', { timeout: S3_TEST_TIMEOUT }, async () => {
  const proxy = await startFaultServer(s3.endpoint, () => 'proxy');
  try {
    const anon = anonClient(proxy.endpoint);
    const page = await anon.send(new ListObjectsV2Command({ Bucket: 'desi-test', Prefix: 'healpix/' }));
    assert.equal(page.KeyCount, 1);
    const src = new S3ObjectSource(anon, 'desi-test', 'healpix/main/dark/230/23040/coadd-main-dark-23040.fits', 100);
    assert.equal((await src.slice(10, 20)).byteLength, 10);
    assert.equal(proxy.requests.length, 2);
    for (const r of proxy.requests) {
      assert.equal(r.headers.authorization, undefined, `${r.method} ${r.url} carried an Authorization header`);
      assert.equal(r.headers['x-amz-security-token'], undefined);
    }
    assert.equal(proxy.requests[1].headers.range, 'bytes=10-19');

    const signed = signedClient(proxy.endpoint);
    await signed.send(new ListObjectsV2Command({ Bucket: 'desi-test', Prefix: 'healpix/' }));
    assert.match(String(proxy.requests[2].headers.authorization), /^AWS4-HMAC-SHA256 Credential=S3RVER\//);
  } finally {
    await proxy.close();
  }
});

test('a bucket that does not exist: a thrown S3Error naming bucket, status and endpoint', { timeout: S3_TEST_TIMEOUT }, async () => {
  const store = new S3TileStore(anonClient(s3.endpoint), 's3://no-such-bucket/healpix', { retry: FAST_RETRY });
  await assert.rejects(store.discover({ surveys: ['main'], programs: ['dark'] }), (err: unknown) => {
    assert.ok(err instanceof S3Error);
    assert.equal(err.status, 404);
    assert.equal(err.code, 'NoSuchBucket');
    assert.equal(err.fatal, true);
    assert.match(err.message, /^s3:\/\/no-such-bucket\/healpix\/: ListObjectsV2 failed: HTTP 404 NoSuchBucket/);
    assert.ok(err.message.includes(`endpoint ${s3.endpoint}`), err.message);
    return true;
  });
});

test('an endpoint that refuses connections fails at once, without retries', { timeout: S3_TEST_TIMEOUT }, async () => {
  const endpoint = `http://127.0.0.1:${await closedPort()}`;
  const client = makeS3Client({ endpoint, credentials: { accessKeyId: 'AKIAABCDEFGHIJKLMNOP', secretAccessKey: 'very-secret-key-value' } });
  const store = new S3TileStore(client, 's3://desi-test/healpix', { retry: FAST_RETRY });
  const t0 = Date.now();
  await assert.rejects(store.discover({ surveys: ['main'], programs: ['dark'] }), (err: unknown) => {
    assert.ok(err instanceof S3Error);
    assert.equal(err.code, 'ECONNREFUSED');
    assert.match(err.message, /s3:\/\/desi-test\/healpix\/: ListObjectsV2 failed: .*ECONNREFUSED/);
    assert.ok(err.message.includes(endpoint), err.message);
    assert.ok(!err.message.includes('very-secret-key-value') && !err.message.includes('AKIAABCDEFGHIJKLMNOP'), err.message);
    return true;
  });
  assert.equal(store.stats.listRequests, 1, 'a refused connection is not retried');
  assert.ok(Date.now() - t0 < S3_TEST_TIMEOUT);
});

test('an endpoint that accepts but never answers: socket timeout, bounded retries, clear error', { timeout: S3_TEST_TIMEOUT }, async () => {
  const silent = await startFaultServer(undefined, () => 'silent');
  try {
    const client = anonClient(silent.endpoint, { socketTimeoutMs: 300 });
    const retries = newRetryCounters();
    const store = new S3TileStore(client, 's3://desi-test/healpix', { retry: { ...FAST_RETRY, maxAttempts: 3, counters: retries } });
    await assert.rejects(store.discover({ surveys: ['main'], programs: ['dark'] }), (err: unknown) => {
      assert.ok(err instanceof S3Error);
      assert.match(err.message, /s3:\/\/desi-test\/healpix\/: ListObjectsV2 failed after 2 attempts: .*timed out/);
      assert.ok(err.message.includes(silent.endpoint), err.message);
      return true;
    });
    assert.equal(silent.requests.length, 2, 'the first contact gets two attempts');
    assert.equal(retries.retries, 1, "the retry is counted in the store's counters");
    assert.equal(retries.gaveUp, 1);
  } finally {
    await silent.close();
  }
});
