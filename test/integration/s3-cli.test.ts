/**
 * `desi-qad convert` as users run it against S3: a real s3rver process on loopback holding the
 * astropy-written fixture tree, read anonymously (--no-sign-request), written to a folder or to a bucket
 * (also from a source whose path is over 200 characters long), resumed from the S3 journal, through a proxy
 * that throttles, and against a bucket or endpoint that is not there.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uploadTree, type LocalS3 } from '../../src/dev/local-s3.js';
import { startFaultProxy } from '../../src/dev/fault-proxy.js';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { assertExit, FIXTURE_TREE, latestLog, runCli } from '../helpers/cli.js';
import { assertSameDataset } from '../helpers/dataset.js';
import { closedPort, S3_TEST_TIMEOUT, signedClient, startS3 } from '../helpers/s3.js';

const ALL = ['--survey', 'main,sv3', '--program', 'dark,bright', '--quiet', '--threads', '2'];
const CREDS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
let s3: LocalS3;
let work: string;
let localOut: string;

/** Keys of the dataset files under a prefix of the results bucket, relative to it (the journal left out). */
async function datasetKeys(prefix: string): Promise<string[]> {
  const client = signedClient(s3.endpoint);
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: 'results', Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key && !o.Key.startsWith(`${prefix}_desi-qad/`)) keys.push(o.Key.slice(prefix.length));
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

before(async () => {
  s3 = await startS3(['desidata', 'results']);
  work = await mkdtemp(join(tmpdir(), 'desi-qad-s3-cli-'));
  await uploadTree(signedClient(s3.endpoint), FIXTURE_TREE, 'desidata', 'dr1/spectro/redux/iron/healpix');
  localOut = join(work, 'local-out');
  const r = await runCli(['convert', '--source', FIXTURE_TREE, '--out', localOut, '--log-dir', join(work, 'logs-local'), ...ALL]);
  await assertExit(r, 1, join(work, 'logs-local'));
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
  await assertExit(r, 1, logs);
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
  await assertExit(first, 1, logs);
  assert.ok((await datasetKeys('qso/')).length >= 5, 'the dataset files are in the bucket');
  const again = await runCli(args, undefined, env);
  await assertExit(again, 1, logs);
  const log = await latestLog(logs);
  assert.match(log, /Found 6 completed tiles\./);
  assert.match(log, /Discovered 1 tiles remaining to be processed\./);
  assert.doesNotMatch(log, /S3RVER/);
});

test('--out s3://… from a source folder whose path is over 200 characters: the same result as the short path', { timeout: S3_TEST_TIMEOUT }, async () => {
  // Nested long folder names: the run's source path (in its run record) is far longer than a key segment
  // that filesystem-backed servers accept (255 bytes), which the journal's names must not depend on.
  let deep = join(work, 'deep');
  while (deep.length <= 260) deep = join(deep, 'a-rather-long-folder-name-of-a-checkout-in-a-deep-place');
  const source = join(deep, 'tree');
  await mkdir(deep, { recursive: true });
  await cp(FIXTURE_TREE, source, { recursive: true });
  assert.ok(source.length > 200);
  const logs = join(work, 'logs-deep');
  const args = ['convert', '--source', source, '--out', 's3://results/deep', '--endpoint', s3.endpoint, '--log-dir', logs, ...ALL];
  const env = { ...process.env, ...CREDS };
  await assertExit(await runCli(args, undefined, env), 1, logs);
  const deepKeys = await datasetKeys('deep/');
  assert.ok(deepKeys.length >= 5, `dataset files in the bucket: ${deepKeys.join(', ')}`);
  // The run record (with the long source) is read back: a second run resumes, with the same selection.
  await assertExit(await runCli(args, undefined, env), 1, logs);
  assert.match(await latestLog(logs), /Found 6 completed tiles\./);
  // The same dataset files as the short-path run to qso/ (made here when this test runs alone).
  if ((await datasetKeys('qso/')).length === 0) {
    const short = ['convert', '--source', FIXTURE_TREE, '--out', 's3://results/qso', '--endpoint', s3.endpoint, '--log-dir', logs, ...ALL];
    await assertExit(await runCli(short, undefined, env), 1, logs);
  }
  assert.deepEqual(deepKeys, await datasetKeys('qso/'));
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
    await assertExit(r, 1, logs);
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
  await assertExit(r, 4, logs);
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
  await assertExit(r2, 4, logs);
  assert.match(await latestLog(logs), /ECONNREFUSED/);
  const r3 = await runCli(['convert', '--source', 's3://Bad_Bucket!/x', '--out', join(work, 'bad-out3'), '--log-dir', logs, '--quiet']);
  await assertExit(r3, 2);
  assert.match(r3.stderr, /Bad_Bucket!/);
});
