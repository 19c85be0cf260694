/**
 * `desi-qad convert` as users run it against S3: a real s3rver process on loopback holding the
 * astropy-written fixture tree, read anonymously (--no-sign-request), written to a folder or to a bucket,
 * resumed from the S3 journal, through a proxy that throttles, and against a bucket or endpoint that is not there.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uploadTree, type LocalS3 } from '../../src/dev/local-s3.js';
import { startFaultProxy } from '../../src/dev/fault-proxy.js';
import { FIXTURE_TREE, latestLog, runCli } from '../helpers/cli.js';
import { assertSameDataset } from '../helpers/dataset.js';
import { closedPort, S3_TEST_TIMEOUT, signedClient, startS3 } from '../helpers/s3.js';

const ALL = ['--survey', 'main,sv3', '--program', 'dark,bright', '--quiet', '--threads', '2'];
const CREDS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
let s3: LocalS3;
let work: string;
let localOut: string;

before(async () => {
  s3 = await startS3(['desidata', 'results']);
  work = await mkdtemp(join(tmpdir(), 'desi-qad-s3-cli-'));
  await uploadTree(signedClient(s3.endpoint), FIXTURE_TREE, 'desidata', 'dr1/spectro/redux/iron/healpix');
  localOut = join(work, 'local-out');
  const r = await runCli(['convert', '--source', FIXTURE_TREE, '--out', localOut, '--log-dir', join(work, 'logs-local'), ...ALL]);
  assert.equal(r.code, 1, r.stderr);
});
after(async () => {
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test("--source s3://… --endpoint … --no-sign-request gives the local run's dataset, bit for bit", { timeout: S3_TEST_TIMEOUT }, async () => {
  const out = join(work, 's3-out');
  const logs = join(work, 'logs-s3');
  const r = await runCli([
    'convert',
    '--source',
    's3://desidata/dr1/spectro/redux/iron/healpix',
    '--endpoint',
    s3.endpoint,
    '--no-sign-request',
    '--out',
    out,
    '--log-dir',
    logs,
    ...ALL,
  ]);
  assert.equal(r.code, 1, r.stderr);
  await assertSameDataset(localOut, out, 5);
  const log = await latestLog(logs);
  assert.match(log, /Tile 27248: .*Status=missing \[MISSING_SOURCE\]/);
  assert.match(log, /S3 retries: 0/);
  assert.doesNotMatch(log + r.stdout + r.stderr, /S3RVER|X-Amz-Signature|Authorization/i, 'no credentials or signatures in the output');
});

test('--out s3://… writes the dataset and its journal to the bucket; a second run resumes from it', { timeout: S3_TEST_TIMEOUT }, async () => {
  const logs = join(work, 'logs-s3out');
  const args = ['convert', '--source', FIXTURE_TREE, '--out', 's3://results/qso', '--endpoint', s3.endpoint, '--log-dir', logs, ...ALL];
  const env = { ...process.env, ...CREDS };
  const first = await runCli(args, undefined, env);
  assert.equal(first.code, 1, first.stderr);
  const again = await runCli(args, undefined, env);
  assert.equal(again.code, 1, again.stderr);
  const log = await latestLog(logs);
  assert.match(log, /Found 6 completed tiles\./);
  assert.match(log, /Discovered 1 tiles remaining to be processed\./);
  assert.doesNotMatch(log, /S3RVER/);
});

test('throttling answered with backoff: through a proxy that sends SlowDown bursts, the same dataset', { timeout: S3_TEST_TIMEOUT }, async () => {
  const proxy = await startFaultProxy({
    upstream: s3.endpoint,
    plan: { seed: 5, rules: [{ fault: 'slowDown', methods: ['GET'], probability: 0.3, burst: 2, maxPerKey: 2 }] },
  });
  try {
    const out = join(work, 'throttled-out');
    const logs = join(work, 'logs-throttled');
    const r = await runCli([
      'convert',
      '--source',
      's3://desidata/dr1/spectro/redux/iron/healpix',
      '--endpoint',
      proxy.endpoint,
      '--no-sign-request',
      '--out',
      out,
      '--log-dir',
      logs,
      ...ALL,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(proxy.stats().injected.slowDown > 0, 'faults were injected');
    await assertSameDataset(localOut, out, 5);
    const retries = Number(/TOTALS:[\s\S]*S3 retries: (\d+) \(throttled (\d+)/.exec(await latestLog(logs))![1]);
    assert.ok(retries >= proxy.stats().injected.slowDown, `${retries} retries logged for ${proxy.stats().injected.slowDown} SlowDowns`);
  } finally {
    await proxy.stop();
  }
});

test('a bucket that does not exist, and an endpoint that does not answer: a clear error and exit 4', { timeout: S3_TEST_TIMEOUT }, async () => {
  const logs = join(work, 'logs-bad');
  const r = await runCli([
    'convert',
    '--source',
    's3://no-such-bucket/healpix',
    '--endpoint',
    s3.endpoint,
    '--no-sign-request',
    '--out',
    join(work, 'bad-out'),
    '--log-dir',
    logs,
    '--quiet',
  ]);
  assert.equal(r.code, 4);
  assert.match(await latestLog(logs), /no-such-bucket.*NoSuchBucket/);
  const port = await closedPort();
  const r2 = await runCli([
    'convert',
    '--source',
    's3://desidata/x',
    '--endpoint',
    `http://127.0.0.1:${port}`,
    '--no-sign-request',
    '--out',
    join(work, 'bad-out2'),
    '--log-dir',
    logs,
    '--quiet',
  ]);
  assert.equal(r2.code, 4);
  assert.match(await latestLog(logs), /ECONNREFUSED/);
  const r3 = await runCli(['convert', '--source', 's3://Bad_Bucket!/x', '--out', join(work, 'bad-out3'), '--log-dir', logs, '--quiet']);
  assert.equal(r3.code, 2);
  assert.match(r3.stderr, /Bad_Bucket!/);
});
