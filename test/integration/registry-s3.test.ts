/**
 * The run registry on a real S3 server (s3rver): many runs racing for the same tiles (no tile has two
 * winners while they hold it), a run whose heartbeat stops being renewed expires after its lease and its
 * claims are then ignored, stop() leaves no object behind, and an endpoint that is not S3 is refused.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { LocalS3 } from '../../src/dev/local-s3.js';
import { S3Registry } from '../../src/storage/registry-s3.js';
import { newRunId } from '../../src/storage/run-id.js';
import { tileSegment } from '../../src/storage/run-registry.js';
import { anonClient, FAST_RETRY, S3_TEST_TIMEOUT, s3ErrorXml, signedClient, startFaultServer, startS3 } from '../helpers/s3.js';

const BUCKET = 'desi-reg';
let s3: LocalS3;
let client: S3Client;

before(async () => {
  s3 = await startS3([BUCKET]);
  client = signedClient(s3.endpoint);
});
after(async () => {
  await s3?.stop();
});

async function keysUnder(prefix: string): Promise<string[]> {
  const r = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key ?? '').sort();
}

const tilesOf = (n: number) => Array.from({ length: n }, (_, i) => `main/dark/${23040 + i}`);

test('8 runs racing for 20 tiles: no tile has two winners while they hold it', { timeout: S3_TEST_TIMEOUT }, async () => {
  const out = `s3://${BUCKET}/race`;
  const regs = Array.from({ length: 8 }, () => new S3Registry(client, out, newRunId(), { leaseMs: 10_000, retry: FAST_RETRY }));
  await Promise.all(regs.map((r) => r.start()));
  assert.equal((await keysUnder('race/_desi-qad/runs/')).length, 8, 'one heartbeat per run');
  const tiles = tilesOf(20);
  const results = await Promise.all(regs.map((reg) => Promise.all(tiles.map(async (t) => ({ t, run: reg.run, r: await reg.claim(t) })))));
  const winners = new Map<string, string[]>();
  for (const { t, run, r } of results.flat()) {
    if (r.ok) winners.set(t, [...(winners.get(t) ?? []), run]);
    else assert.ok(r.holder !== run && regs.some((x) => x.run === r.holder), `${t}: yielded to ${r.holder}, another live run`);
  }
  for (const [t, w] of winners) assert.equal(w.length, 1, `${t} won by ${w.join(', ')}`);
  // What is stored agrees: a won tile has exactly its winner's claim; a tile nobody won has none.
  for (const t of tiles) {
    const claims = (await keysUnder(`race/_desi-qad/claims/${tileSegment(t)}/`)).map((k) => k.split('/').pop());
    assert.deepEqual(claims, winners.get(t) ?? [], t);
  }
  // Retrying the tiles nobody won (all yielded), one run after another, gives each an owner.
  for (const t of tiles.filter((x) => !winners.has(x))) {
    const r = await regs[0].claim(t);
    assert.deepEqual(r, { ok: true }, t);
  }
  await Promise.all(regs.map((r) => r.stop()));
  assert.deepEqual(await keysUnder('race/_desi-qad/'), [], 'stop() removed every claim and heartbeat');
  for (const r of regs) assert.equal(r.lastError, undefined);
});

test(
  'a run that can no longer renew its heartbeat expires after its lease; its claims are then ignored and removed',
  { timeout: S3_TEST_TIMEOUT },
  async () => {
    const out = `s3://${BUCKET}/expiry`;
    const leaseMs = 1_500;
    let broken = false;
    const proxy = await startFaultServer(s3.endpoint, () => (broken ? { status: 500, body: s3ErrorXml('InternalError', 'down') } : 'proxy'));
    try {
      const stuck = new S3Registry(signedClient(proxy.endpoint), out, newRunId(), { leaseMs, retry: { ...FAST_RETRY, maxAttempts: 2 } });
      await stuck.start();
      assert.deepEqual(await stuck.claim('sv1/dark/7'), { ok: true });
      broken = true; // from now on its renewals fail (a partition, a suspended machine)
      const me = new S3Registry(client, out, newRunId(), { leaseMs, goneCacheMs: 0, retry: FAST_RETRY });
      await me.start();
      assert.deepEqual(await me.claim('sv1/dark/7'), { ok: false, holder: stuck.run }, 'within its lease it holds');
      assert.equal(await me.heldByOther('sv1/dark/7'), true);
      await sleep(leaseMs + 500);
      assert.ok(stuck.lastError, 'its failed renewals were kept, not thrown');
      assert.equal(await me.isGone(stuck.run), true);
      assert.equal(await me.heldByOther('sv1/dark/7'), false);
      assert.deepEqual(await me.claim('sv1/dark/7'), { ok: true });
      assert.deepEqual(
        (await keysUnder(`expiry/_desi-qad/claims/${tileSegment('sv1/dark/7')}/`)).map((k) => k.split('/').pop()),
        [me.run],
        'the expired claim was removed',
      );
      await me.stop();
      await stuck.stop(); // its requests fail: kept in lastError, not thrown
    } finally {
      await proxy.close();
    }
  },
);

test('an endpoint that answers 200 and a page to everything: start() and claim() fail, nothing is "claimed"', { timeout: S3_TEST_TIMEOUT }, async () => {
  const portal = await startFaultServer(undefined, () => ({ status: 200, headers: { 'content-type': 'text/html' }, body: '<html>portal</html>' }));
  try {
    const reg = new S3Registry(anonClient(portal.endpoint), `s3://${BUCKET}/portal`, newRunId(), { retry: FAST_RETRY });
    await assert.rejects(reg.start(), /desi-reg\/portal\/_desi-qad\/runs\/.*heartbeat PutObject failed.*no ETag/);
  } finally {
    await portal.close();
  }
  // Writes answered, listings not: the claim must not be taken as won.
  const half = await startFaultServer(s3.endpoint, (req) =>
    req.method === 'GET' && req.url.includes('list-type=2') ? { status: 200, headers: { 'content-type': 'text/html' }, body: '<html>portal</html>' } : 'proxy',
  );
  try {
    const reg = new S3Registry(signedClient(half.endpoint), `s3://${BUCKET}/portal`, newRunId(), { retry: FAST_RETRY });
    await reg.start();
    await assert.rejects(reg.claim('main/dark/1'), /claims ListObjectsV2 failed.*not an S3 listing/);
    await reg.stop();
  } finally {
    await half.close();
  }
  assert.deepEqual(await keysUnder('portal/'), [], 'the failed claim was taken back');
});
