/**
 * Crash consistency with S3 output: `desi-qad convert --out s3://…` killed with SIGKILL at random moments and
 * resumed from the journal in the bucket ends with the same objects, byte for byte, as an uninterrupted run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { LocalS3 } from '../../src/dev/local-s3.js';
import { smallSpecs, synthTree } from '../../src/synth/index.js';
import { mulberry32 } from '../../src/util/prng.js';
import { collect, FIXTURE_TREE, runCli, startCli } from '../helpers/cli.js';
import { getObjectBytes, S3_TEST_TIMEOUT, signedClient, startS3 } from '../helpers/s3.js';

let s3: LocalS3;
let client: S3Client;
let work: string;
let tree: string;
const env = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

before(async () => {
  s3 = await startS3(['out']);
  client = signedClient(s3.endpoint);
  work = await mkdtemp(join(tmpdir(), 'desi-qad-s3-kill-'));
  tree = join(work, 'tree');
  await synthTree({ out: tree, tiles: smallSpecs({ tiles: 10, seed: 21 }).map((s) => ({ ...s, survey: 'main', program: 'dark' })), wavelength: 'full' });
});
after(async () => {
  client?.destroy();
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The Parquet objects under a prefix, with their bytes. */
async function objects(prefix: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: 'out', Prefix: `${prefix}/`, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      if (o.Key!.endsWith('.parquet')) out.set(o.Key!.slice(prefix.length + 1), Buffer.from(await getObjectBytes(client, 'out', o.Key!)));
    }
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

test('kill -9 at random moments with --out s3://…, resume each time: the same objects as a clean run', { timeout: S3_TEST_TIMEOUT * 3 }, async () => {
  const args = (prefix: string) => [
    'convert',
    '--source',
    tree,
    '--out',
    `s3://out/${prefix}`,
    '--endpoint',
    s3.endpoint,
    '--log-dir',
    join(work, 'logs'),
    '--quiet',
    '--threads',
    '2',
    '--batch-size',
    '3',
    '--downloads',
    '2',
  ];
  const clean = await runCli(args('clean'), undefined, env);
  assert.equal(clean.code, 0, clean.stderr);
  const rnd = mulberry32(7);
  let kills = 0;
  for (let attempt = 0; attempt < 12; attempt++) {
    const child = startCli(args('killed'), undefined, env);
    const done = collect(child);
    const timer = setTimeout(() => child.kill('SIGKILL'), 300 + Math.floor(rnd() * 1200));
    const r = await done;
    clearTimeout(timer);
    if (r.signal === 'SIGKILL') kills += 1;
    else {
      assert.equal(r.code, 0, r.stderr);
      break;
    }
  }
  assert.ok(kills >= 1, 'at least one run was killed');
  const final = await runCli(args('killed'), undefined, env);
  assert.equal(final.code, 0, final.stderr);
  const [a, b] = [await objects('clean'), await objects('killed')];
  assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
  for (const [k, v] of a) assert.ok(b.get(k)!.equals(v), `${k}: same bytes`);
});

test('--out s3://…: a tile whose changed sources now select no row has its earlier object deleted', { timeout: S3_TEST_TIMEOUT }, async () => {
  const own = join(work, 'fixture');
  await cp(FIXTURE_TREE, own, { recursive: true, preserveTimestamps: true });
  const args = ['convert', '--source', own, '--out', 's3://out/now-empty', '--endpoint', s3.endpoint, '--survey', 'main', '--program', 'dark', '--quiet'];
  const first = await runCli([...args, '--log-dir', join(work, 'logs-e1')], undefined, env);
  assert.equal(first.code, 1, first.stderr); // the fixture's tile without a redrock
  assert.ok((await objects('now-empty')).has('main/dark/230/main-dark-23040.parquet'));
  // The redrock of main/dark/23041 (no good quasar) stands in for a re-released 23040 that selects none.
  await cp(join(own, 'main/dark/230/23041/redrock-main-dark-23041.fits'), join(own, 'main/dark/230/23040/redrock-main-dark-23040.fits'));
  const again = await runCli([...args, '--log-dir', join(work, 'logs-e2')], undefined, env);
  assert.equal(again.code, 1, again.stderr);
  const left = await objects('now-empty');
  assert.ok(!left.has('main/dark/230/main-dark-23040.parquet'), [...left.keys()].join(', '));
  assert.ok(left.size > 0, 'the other tiles keep their objects');
  const v = await runCli(['verify', '--out', 's3://out/now-empty', '--endpoint', s3.endpoint, '--json'], undefined, env);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});
