/**
 * Faults injected between desi-qad and a real S3 server (s3rver behind the fault proxy, all on loopback):
 * 500s, resets mid-body, short bodies, stalled reads and SlowDown bursts are retried and the dataset is the
 * same as a clean run's; a tile that exhausts its retries, or whose object changes between two ranged reads,
 * is journaled as failed with its cause, and the next run completes it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uploadTree, type LocalS3 } from '../../src/dev/local-s3.js';
import { startFaultProxy, type FaultProxy } from '../../src/dev/fault-proxy.js';
import { FIXTURE_TREE, latestLog, runCli, readLocalJournal } from '../helpers/cli.js';
import { assertSameDataset } from '../helpers/dataset.js';
import { S3_TEST_TIMEOUT, signedClient, startS3 } from '../helpers/s3.js';
import type { TileRecord } from '../../src/storage/journal-store.js';

const ALL = ['--survey', 'main,sv3', '--program', 'dark,bright', '--quiet', '--threads', '2'];
let s3: LocalS3;
let proxy: FaultProxy;
let work: string;
let clean: string;

before(async () => {
  s3 = await startS3(['desidata']);
  work = await mkdtemp(join(tmpdir(), 'desi-qad-faults-'));
  await uploadTree(signedClient(s3.endpoint), FIXTURE_TREE, 'desidata', 'healpix');
  proxy = await startFaultProxy({ upstream: s3.endpoint });
  clean = join(work, 'clean');
  const r = await runCli(['convert', '--source', FIXTURE_TREE, '--out', clean, '--log-dir', join(work, 'logs'), ...ALL]);
  assert.equal(r.code, 1, r.stderr);
});
after(async () => {
  await proxy?.stop();
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function convert(out: string, logs: string, extra: string[] = []) {
  return runCli([
    'convert',
    '--source',
    's3://desidata/healpix',
    '--endpoint',
    proxy.endpoint,
    '--no-sign-request',
    '--out',
    out,
    '--log-dir',
    logs,
    '--cli-read-timeout',
    '1',
    ...ALL,
    ...extra,
  ]);
}

async function latestRecords(out: string): Promise<Map<string, TileRecord>> {
  const m = new Map<string, TileRecord>();
  for (const r of await readLocalJournal(out)) if (r.type === 'tile') m.set(r.tile, r);
  return m;
}

test('500s, resets, short bodies, stalls and SlowDown bursts are retried: the same dataset as a clean run', { timeout: S3_TEST_TIMEOUT * 2 }, async () => {
  proxy.setPlan({
    seed: 11,
    rules: [
      { fault: 'internalError', methods: ['GET'], probability: 0.08, maxPerKey: 2 },
      { fault: 'resetMidBody', methods: ['GET'], probability: 0.08, maxPerKey: 2 },
      { fault: 'shortBody', methods: ['GET'], probability: 0.08, maxPerKey: 2 },
      { fault: 'stallMidBody', methods: ['GET'], probability: 0.04, maxPerKey: 1 },
      { fault: 'stallFirstByte', methods: ['GET'], probability: 0.02, maxPerKey: 1, stallMs: 3000 },
      { fault: 'slowDown', probability: 0.05, burst: 3, maxPerKey: 3 },
    ],
  });
  const out = join(work, 'faulty');
  const logs = join(work, 'logs-faulty');
  const r = await convert(out, logs);
  const injected = proxy.stats().injected;
  const total = Object.values(injected).reduce((s, n) => s + n, 0);
  assert.ok(total >= 5, `faults injected: ${JSON.stringify(injected)}`);
  assert.equal(r.code, 1, `only the missing-source tile is not done; ${r.stderr}`);
  await assertSameDataset(clean, out, 5);
  const retries = Number(/TOTALS:[\s\S]*S3 retries: (\d+)/.exec(await latestLog(logs))![1]);
  assert.ok(retries > 0, 'retries are counted in the log');
});

test('a tile that exhausts its retries is journaled as failed with its cause, and the next run completes it', { timeout: S3_TEST_TIMEOUT * 2 }, async () => {
  proxy.setPlan({ rules: [{ fault: 'slowDown', methods: ['GET'], keys: /coadd-main-dark-23040\.fits$/, probability: 1, maxPerKey: 1000 }] });
  const out = join(work, 'exhaust');
  const logs = join(work, 'logs-exhaust');
  const first = await convert(out, logs, ['--max-attempts', '2']);
  assert.equal(first.code, 1);
  const rec = (await latestRecords(out)).get('main/dark/23040')!;
  assert.equal(rec.status, 'failed');
  assert.equal(rec.errorClass, 'S3_SlowDown');
  assert.match(rec.error!, /s3:\/\/desidata\/healpix\/main\/dark\/230\/23040\/coadd-main-dark-23040\.fits/);
  assert.match(await latestLog(logs), /S3_SlowDown : 1 \(e\.g\. main\/dark\/23040: /);

  proxy.setPlan({ rules: [] });
  const second = await convert(out, logs);
  assert.equal(second.code, 1);
  assert.equal((await latestRecords(out)).get('main/dark/23040')!.status, 'ok');
  await assertSameDataset(clean, out, 5);
});

test('an object replaced between two ranged reads fails its tile (OBJECT_CHANGED), never mixes versions', { timeout: S3_TEST_TIMEOUT * 2 }, async () => {
  proxy.setPlan({ rules: [{ fault: 'replaceObject', keys: /coadd-main-dark-27247\.fits$/ }] });
  const out = join(work, 'replaced');
  const logs = join(work, 'logs-replaced');
  await convert(out, logs);
  const rec = (await latestRecords(out)).get('main/dark/27247')!;
  assert.equal(rec.status, 'failed');
  assert.equal(rec.errorClass, 'OBJECT_CHANGED');
  proxy.setPlan({ rules: [] });
  await convert(out, logs);
  assert.equal((await latestRecords(out)).get('main/dark/27247')!.status, 'ok');
  await assertSameDataset(clean, out, 5);
});
