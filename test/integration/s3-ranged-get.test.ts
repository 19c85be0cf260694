/**
 * The lean path of ranged reads (src/storage/ranged-get.ts) against real s3rver processes, next to the AWS
 * SDK's path (DESI_QAD_S3_GET=sdk): the same bytes, signed (s3rver checks the SigV4 signature) and
 * anonymous; the same errors for a changed object, a missing one and a refused signature; abort, timeout
 * and resets as before; and a conversion over S3 whose Parquet output is byte-identical on both paths.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_SELECTION } from '../../src/desi/selection.js';
import { startFaultProxy } from '../../src/dev/fault-proxy.js';
import { LOCAL_S3_CREDENTIALS, uploadTree, type LocalS3 } from '../../src/dev/local-s3.js';
import { classify } from '../../src/pipeline/errors.js';
import { runConvert } from '../../src/pipeline/run.js';
import { AbortedError } from '../../src/storage/abort.js';
import { LocalIdentityStore } from '../../src/storage/identity-local.js';
import { LocalJournalStore } from '../../src/storage/journal-local.js';
import { LocalOutputStore } from '../../src/storage/output-local.js';
import { encodeKeyPath, rangedGetPath, type RangedGetPath } from '../../src/storage/ranged-get.js';
import { LocalRegistry } from '../../src/storage/registry-local.js';
import { newRetryCounters } from '../../src/storage/retry.js';
import { newRunId } from '../../src/storage/run-id.js';
import { S3Error } from '../../src/storage/s3-client.js';
import { ObjectChangedError, S3ObjectSource } from '../../src/storage/s3-source.js';
import { S3TileStore } from '../../src/storage/s3-tree.js';
import { FIXTURE_TREE, listFiles } from '../helpers/cli.js';
import {
  anonClient,
  FAST_RETRY,
  pseudoRandomBytes,
  putObject,
  S3_TEST_TIMEOUT,
  s3ErrorXml,
  signedClient,
  startFaultServer,
  startS3,
  type RecordedRequest,
} from '../helpers/s3.js';

const BUCKET = 'desi-lean';
const KEY = 'healpix/main/dark/230/23040/coadd main+dark (23040).fits'; // spaces, '+' and brackets: the key's path encoding is signed
const SIZE = 1024 * 1024 + 777;
const bytes = pseudoRandomBytes(SIZE, 11);
const PATHS: RangedGetPath[] = ['lean', 'sdk'];
let s3: LocalS3;
let signed: S3Client;
let etag: string;

before(async () => {
  s3 = await startS3([BUCKET, 'desi-lean-src']);
  signed = signedClient(s3.endpoint);
  await putObject(signed, BUCKET, KEY, bytes);
  etag = (await signed.send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY }))).ETag!;
});
after(async () => {
  delete process.env.DESI_QAD_S3_GET;
  await s3?.stop();
});

/** `fn` with DESI_QAD_S3_GET set to `path` (read when an S3ObjectSource is made). */
async function onPath<T>(path: RangedGetPath, fn: () => Promise<T>): Promise<T> {
  const before = process.env.DESI_QAD_S3_GET;
  process.env.DESI_QAD_S3_GET = path;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.DESI_QAD_S3_GET;
    else process.env.DESI_QAD_S3_GET = before;
  }
}

function source(client: S3Client, path: RangedGetPath, o: { key?: string; size?: number; etag?: string; signal?: AbortSignal; stallMs?: number } = {}) {
  return onPath(path, () =>
    Promise.resolve(
      new S3ObjectSource(client, BUCKET, o.key ?? KEY, o.size ?? SIZE, 'etag' in o ? o.etag : etag, {
        retry: { ...FAST_RETRY, counters: newRetryCounters() },
        signal: o.signal,
        stallMs: o.stallMs,
      }),
    ),
  );
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  assert.fail('the read succeeded');
}

test('the lean path is the default; DESI_QAD_S3_GET=sdk takes the SDK again, and a bad value is refused', () => {
  const c = anonClient(s3.endpoint);
  delete process.env.DESI_QAD_S3_GET;
  assert.equal(rangedGetPath(c), 'lean');
  process.env.DESI_QAD_S3_GET = 'sdk';
  assert.equal(rangedGetPath(c), 'sdk');
  process.env.DESI_QAD_S3_GET = 'fast';
  assert.throws(() => rangedGetPath(c), /DESI_QAD_S3_GET must be "sdk" or "lean"/);
  delete process.env.DESI_QAD_S3_GET;
  c.destroy();
});

test('keys are encoded in the path as the SDK does: segments escaped, slashes kept', () => {
  assert.equal(encodeKeyPath("a b/c+d/(e)!*'.fits"), 'a%20b/c%2Bd/%28e%29%21%2A%27.fits');
});

test('ranges read the same bytes as the object on both paths, signed and anonymous', { timeout: S3_TEST_TIMEOUT }, async () => {
  const ranges: [number, number][] = [
    [1, 2],
    [SIZE - 1, SIZE],
    [0, SIZE],
    [12_345, 12_345 + 65_536],
  ];
  for (let i = 0; i < 20; i++) {
    const a = (i * 52_711) % (SIZE - 70_000);
    ranges.push([a, a + 16_384 + ((i * 977) % 49_152)]);
  }
  for (const client of [signedClient(s3.endpoint), anonClient(s3.endpoint)])
    for (const path of PATHS) {
      const src = await source(client, path);
      assert.equal(src.getPath, path);
      for (const [a, b] of ranges) assert.deepEqual(await src.slice(a, b), bytes.subarray(a, b), `${path} bytes ${a}-${b - 1}`);
      assert.equal(src.stats.requests, ranges.length);
      client.destroy();
    }
});

test('a key id s3rver does not know: the same fatal 403 InvalidAccessKeyId on both paths', { timeout: S3_TEST_TIMEOUT }, async () => {
  const classes: string[] = [];
  for (const path of PATHS) {
    const c = signedClient(s3.endpoint, { credentials: { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'not-the-secret' } });
    const err = await failure((await source(c, path)).slice(0, 100));
    assert.ok(err instanceof S3Error, String(err));
    assert.equal(err.status, 403);
    assert.equal(err.fatal, true);
    assert.match(err.message, /GetObject bytes=0-99 failed: HTTP 403 InvalidAccessKeyId/);
    assert.doesNotMatch(err.message, /not-the-secret/);
    classes.push(classify(err).errorClass);
    c.destroy();
  }
  assert.deepEqual(classes, ['S3_InvalidAccessKeyId', 'S3_InvalidAccessKeyId']);
});

/**
 * Checks a recorded request's SigV4 Authorization header from first principles (node:crypto, not the
 * signer the code uses): s3rver accepts any V4 signature of a known key id, so it cannot tell.
 */
function sigV4Valid(req: RecordedRequest, secret: string): boolean {
  const auth = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
    String(req.headers.authorization),
  );
  if (!auth) return false;
  const [, , day, region, service, signedHeaders, signature] = auth;
  const names = signedHeaders.split(';');
  const canonical = [
    req.method,
    req.url.split('?')[0],
    '',
    ...names.map((n) => `${n}:${String(req.headers[n]).trim()}`),
    '',
    signedHeaders,
    String(req.headers['x-amz-content-sha256']),
  ].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', String(req.headers['x-amz-date']), scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${secret}`).update(day).digest();
  for (const part of [region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(toSign).digest('hex') === signature;
}

test('requests: signed ones carry SigV4 and If-Match, anonymous ones no Authorization', { timeout: S3_TEST_TIMEOUT }, async () => {
  const server = await startFaultServer(s3.endpoint, () => 'proxy');
  try {
    const a = await source(signedClient(server.endpoint), 'lean');
    await a.slice(10, 20);
    const b = await source(anonClient(server.endpoint), 'lean');
    await b.slice(10, 20);
    const [sig, anon] = server.requests;
    assert.match(
      String(sig.headers.authorization),
      /^AWS4-HMAC-SHA256 Credential=S3RVER\/\d{8}\/us-west-2\/s3\/aws4_request, SignedHeaders=\S*if-match\S*, Signature=[0-9a-f]{64}$/,
    );
    assert.equal(sig.headers['if-match'], etag);
    assert.equal(sig.headers.range, 'bytes=10-19');
    assert.equal(sig.url, `/${BUCKET}/${encodeKeyPath(KEY)}`);
    assert.ok(sigV4Valid(sig, LOCAL_S3_CREDENTIALS.secretAccessKey), 'the signature verifies with the secret');
    assert.ok(!sigV4Valid(sig, 'another secret'), 'and not with another one');
    assert.ok(!sigV4Valid({ ...sig, url: `/${BUCKET}/other` }, LOCAL_S3_CREDENTIALS.secretAccessKey), 'nor for another key');
    assert.equal(anon.headers.authorization, undefined);
    assert.equal(anon.headers['if-match'], etag);
  } finally {
    await server.close();
  }
});

test('an object replaced after discovery: the same ObjectChangedError on both paths', { timeout: S3_TEST_TIMEOUT }, async () => {
  const key = 'healpix/changing.fits';
  const first = pseudoRandomBytes(4096, 1);
  await putObject(signed, BUCKET, key, first);
  const tag = (await signed.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).ETag!;
  const srcs = await Promise.all(PATHS.map((p) => source(signed, p, { key, size: 4096, etag: tag })));
  for (const s of srcs) assert.deepEqual(await s.slice(0, 10), first.subarray(0, 10));
  await putObject(signed, BUCKET, key, pseudoRandomBytes(4096, 2));
  // s3rver ignores If-Match: the answer's own ETag tells the change.
  const msgs: string[] = [];
  for (const s of srcs) {
    const err = await failure(s.slice(0, 10));
    assert.ok(err instanceof ObjectChangedError, `${s.getPath}: ${String(err)}`);
    assert.equal(classify(err).errorClass, 'OBJECT_CHANGED');
    assert.equal(s.retries.retries, 0);
    msgs.push(err.message);
  }
  assert.equal(msgs[0], msgs[1]);
  assert.match(msgs[0], /changing\.fits: the object changed since it was discovered \(ETag [0-9a-f]{32}, expected [0-9a-f]{32}\)/);
});

test('a 412 to If-Match: the same ObjectChangedError on both paths, not retried', { timeout: S3_TEST_TIMEOUT }, async () => {
  const server = await startFaultServer(undefined, () => ({
    status: 412,
    body: s3ErrorXml('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold'),
  }));
  try {
    const msgs: string[] = [];
    for (const path of PATHS) {
      const s = await source(anonClient(server.endpoint), path);
      const err = await failure(s.slice(0, 10));
      assert.ok(err instanceof ObjectChangedError, `${path}: ${String(err)}`);
      assert.equal(s.retries.retries, 0);
      msgs.push(err.message);
    }
    assert.equal(msgs[0], msgs[1]);
    assert.match(msgs[0], /HTTP 412 to If-Match/);
    assert.equal(server.requests.length, 2);
  } finally {
    await server.close();
  }
});

test('a missing object: the same S3Error (404 NoSuchKey, not retried) on both paths', { timeout: S3_TEST_TIMEOUT }, async () => {
  const got: string[] = [];
  for (const path of PATHS) {
    const s = await source(signed, path, { key: 'healpix/none.fits', etag: undefined });
    const err = await failure(s.slice(0, 10));
    assert.ok(err instanceof S3Error, String(err));
    assert.equal(err.status, 404);
    assert.equal(s.retries.retries, 0);
    got.push(`${classify(err).errorClass} ${err.message.replace(/ \(endpoint .*\)$/, '')}`);
  }
  assert.equal(got[0], got[1]);
  assert.match(got[0], /^S3_NoSuchKey s3:\/\/desi-lean\/healpix\/none\.fits: GetObject bytes=0-9 failed: HTTP 404 NoSuchKey/);
});

test('5xx answers and resets mid-body are retried on the lean path, and the bytes are right', { timeout: S3_TEST_TIMEOUT }, async () => {
  const proxy = await startFaultProxy({
    upstream: s3.endpoint,
    plan: {
      rules: [
        { fault: 'internalError', count: 1, methods: ['GET'] },
        { fault: 'resetMidBody', count: 1, methods: ['GET'], afterBytes: 1000 },
        { fault: 'slowDown', count: 1, methods: ['GET'] },
      ],
    },
  });
  try {
    const s = await source(signedClient(proxy.endpoint), 'lean');
    for (let i = 0; i < 3; i++) assert.deepEqual(await s.slice(i * 100_000, i * 100_000 + 60_000), bytes.subarray(i * 100_000, i * 100_000 + 60_000));
    assert.equal(s.retries.server, 1);
    assert.equal(s.retries.throttle, 1);
    assert.equal(s.retries.network + s.retries.body, 1, JSON.stringify(s.retries));
    assert.equal(proxy.stats().injected.resetMidBody, 1);
  } finally {
    await proxy.stop();
  }
});

test('a server that answers nothing: the socket timeout, retried, then an S3Error naming the timeout', { timeout: S3_TEST_TIMEOUT }, async () => {
  const server = await startFaultServer(undefined, () => 'silent');
  try {
    const s = await source(anonClient(server.endpoint, { socketTimeoutMs: 200 }), 'lean');
    const err = await failure(s.slice(0, 10));
    assert.ok(err instanceof S3Error, String(err));
    assert.match(err.message, /GetObject bytes=0-9 failed after 6 attempts: Connection timed out after 200 ms/);
    assert.equal(s.retries.timeout, 5);
    assert.equal(server.requests.length, 6);
  } finally {
    await server.close();
  }
});

test('the run signal aborts a lean GET waiting for headers, and one streaming its body', { timeout: S3_TEST_TIMEOUT }, async () => {
  for (const action of ['silent', { stallAfter: 100 }] as const) {
    const server = await startFaultServer(s3.endpoint, () => action);
    try {
      const ac = new AbortController();
      const s = await source(anonClient(server.endpoint), 'lean', { signal: ac.signal });
      const p = failure(s.slice(0, 50_000));
      setTimeout(() => ac.abort(), 150);
      const err = await p;
      assert.ok(err instanceof AbortedError, String(err));
      assert.equal(classify(err).errorClass, 'ABORTED');
      assert.equal(s.retries.retries, 0);
      assert.equal(server.requests.length, 1);
    } finally {
      await server.close();
    }
  }
});

test('an answer for another range than asked is refused, never copied into the slice', { timeout: S3_TEST_TIMEOUT }, async () => {
  const body = bytes.subarray(0, 10);
  const server = await startFaultServer(undefined, () => ({ status: 206, headers: { 'content-range': `bytes 0-9/${SIZE}`, etag }, body }));
  try {
    for (const path of PATHS) {
      const s = await source(anonClient(server.endpoint), path);
      const err = await failure(s.slice(100, 110));
      assert.match((err as Error).message, /answered bytes 0-9 to a request for bytes 100-109/, path);
    }
  } finally {
    await server.close();
  }
});

test('an error answer is read for its code, and a 403 is fatal with the same message on both paths', { timeout: S3_TEST_TIMEOUT }, async () => {
  const server = await startFaultServer(undefined, () => ({
    status: 403,
    body: s3ErrorXml('AccessDenied', 'Access Denied'),
    headers: { 'content-type': 'application/xml' },
  }));
  try {
    const msgs: string[] = [];
    for (const path of PATHS) {
      const err = await failure((await source(anonClient(server.endpoint), path)).slice(0, 10));
      assert.ok(err instanceof S3Error && err.fatal && err.code === 'AccessDenied', String(err));
      msgs.push(err.message);
    }
    assert.equal(msgs[0], msgs[1]);
  } finally {
    await server.close();
  }
});

test('a conversion over S3 writes byte-identical Parquet on the lean path and on the SDK path', { timeout: S3_TEST_TIMEOUT * 3 }, async () => {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-lean-'));
  try {
    await uploadTree(signed, FIXTURE_TREE, 'desi-lean-src', 'dr1/healpix');
    const outs: Record<string, string> = {};
    const requests: Record<string, number> = {};
    for (const path of PATHS) {
      const out = join(work, path);
      const run = newRunId();
      const result = await onPath(path, () =>
        runConvert({
          store: new S3TileStore(anonClient(s3.endpoint), 's3://desi-lean-src/dr1/healpix', { retry: FAST_RETRY }),
          out: new LocalOutputStore(out, { run }),
          journal: new LocalJournalStore(join(out, '_desi-qad/journal'), run),
          identity: new LocalIdentityStore(out),
          registry: new LocalRegistry(out, run),
          run,
          selection: DEFAULT_SELECTION,
          surveys: ['main', 'sv3'],
          programs: ['dark', 'bright'],
          seed: 42,
          batchSize: 4,
          threads: 2,
          downloads: 4,
          logDir: join(work, `logs-${path}`),
          maxFailureRate: 1,
          minReduction: 0,
          fetch: 'ranges',
          gapBytes: 1 << 20,
          memoryBytes: 256 * 1024 * 1024,
          version: 'test',
          quiet: true,
        }),
      );
      assert.ok(
        result.outcomes.some((o) => o.status === 'ok' && o.rows > 0),
        JSON.stringify(result.outcomes.map((o) => o.error)),
      );
      requests[path] = result.outcomes.reduce((n, o) => n + o.requests, 0);
      outs[path] = out;
    }
    assert.ok(requests.lean > 0);
    assert.equal(requests.lean, requests.sdk);
    const files = (await listFiles(outs.lean)).filter((f) => f.endsWith('.parquet'));
    assert.ok(files.length > 1);
    assert.deepEqual(
      (await listFiles(outs.sdk)).filter((f) => f.endsWith('.parquet')),
      files,
    );
    for (const f of files) assert.ok((await readFile(join(outs.lean, f))).equals(await readFile(join(outs.sdk, f))), `${f}: not byte-identical`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
