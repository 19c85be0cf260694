/**
 * A run that cannot finish must stop when asked and never pass for done: Ctrl-C during an S3 read that
 * stalls forever exits 4 within seconds (the read is aborted, not waited out through its retries), and a
 * resume completes the dataset; an endpoint that answers every request with an HTML page (a proxy or portal)
 * fails the run instead of "storing" the dataset.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uploadTree, type LocalS3 } from '../../src/dev/local-s3.js';
import { startFaultProxy } from '../../src/dev/fault-proxy.js';
import { collect, FIXTURE_TREE, latestLog, runCli, startCli } from '../helpers/cli.js';
import { assertSameDataset } from '../helpers/dataset.js';
import { S3_TEST_TIMEOUT, signedClient, startFaultServer, startS3 } from '../helpers/s3.js';

const ALL = ['--survey', 'main,sv3', '--program', 'dark,bright', '--quiet', '--threads', '2'];
const ENV = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
const SOURCE = 's3://desidata/dr1/spectro/redux/iron/healpix';
let s3: LocalS3;
let work: string;

before(async () => {
  s3 = await startS3(['desidata']);
  work = await mkdtemp(join(tmpdir(), 'desi-qad-signals-'));
  await uploadTree(signedClient(s3.endpoint), FIXTURE_TREE, 'desidata', 'dr1/spectro/redux/iron/healpix');
});
after(async () => {
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Resolves once the file at `path` contains `text`. */
async function waitForText(path: () => Promise<string>, text: RegExp, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (text.test(await path().catch(() => ''))) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${String(text)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  test(`${sig} during a read that stalls forever exits 4 within seconds; a resume completes the dataset`, { timeout: S3_TEST_TIMEOUT }, async () => {
    // Every GET of one coadd stalls before its first byte, for as long as the client waits.
    const proxy = await startFaultProxy({
      upstream: s3.endpoint,
      plan: { rules: [{ fault: 'stallFirstByte', methods: ['GET'], keys: /coadd-main-dark-23040/ }] },
    });
    const out = join(work, `out-${sig}`);
    const logs = join(work, `logs-${sig}`);
    const args = ['convert', '--source', SOURCE, '--no-sign-request', '--out', out, '--log-dir', logs, ...ALL];
    try {
      const child = startCli([...args, '--endpoint', proxy.endpoint, '--cli-read-timeout', '120'], undefined, ENV);
      const done = collect(child);
      await waitForText(() => latestLog(logs), /Starting Batch 1\//, 30_000);
      // Let the other tiles finish, so the one left is the stalled read.
      await new Promise((r) => setTimeout(r, 1500));
      const t0 = Date.now();
      child.kill(sig);
      const r = await done;
      const secs = (Date.now() - t0) / 1000;
      assert.equal(r.code, 4, r.stderr);
      assert.ok(secs < 10, `exited ${secs.toFixed(1)} s after ${sig}`);
      assert.match(await latestLog(logs), new RegExp(`Received ${sig}`));
    } finally {
      await proxy.stop();
    }
    const resumed = await runCli([...args, '--endpoint', s3.endpoint], undefined, ENV);
    assert.equal(resumed.code, 1, resumed.stderr);
    const clean = join(work, `clean-${sig}`);
    assert.equal((await runCli(['convert', '--source', FIXTURE_TREE, '--out', clean, '--log-dir', join(work, 'logs-clean'), ...ALL])).code, 1);
    await assertSameDataset(clean, out, 5);
  });
}

test('an --out endpoint that answers every request with an HTML page fails the run, exit 4', { timeout: S3_TEST_TIMEOUT }, async () => {
  const html = await startFaultServer(undefined, () => ({
    status: 200,
    headers: { 'content-type': 'text/html' },
    body: '<html><body>Sign in to the network</body></html>',
  }));
  try {
    const logs = join(work, 'logs-html');
    const r = await runCli(
      ['convert', '--source', FIXTURE_TREE, '--out', 's3://results/ds', '--endpoint', html.endpoint, '--log-dir', logs, '--max-attempts', '2', ...ALL],
      undefined,
      ENV,
    );
    assert.equal(r.code, 4, r.stdout + r.stderr);
    assert.doesNotMatch(await latestLog(logs), /Run finished/);
  } finally {
    await html.close();
  }
});
