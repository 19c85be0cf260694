/**
 * Discovery of a DESI-shaped tree in a real S3 server (s3rver): the same tiles, sizes and files as the local
 * discovery of the same tree, ETags, ignored side files, reported stray keys, a program listed in one flat page or
 * by pixgroup to the same tiles, and pagination with continuation tokens (more than 1,000 keys under one
 * pixgroup, and a small MaxKeys).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tileKey, type TileRef } from '../../src/desi/tile.js';
import { uploadTree, type LocalS3 } from '../../src/dev/local-s3.js';
import { LocalTileStore } from '../../src/storage/local-tree.js';
import { PIXGROUPS, S3TileStore } from '../../src/storage/s3-tree.js';
import { FIXTURE_TREE } from '../helpers/cli.js';
import { formatRetryCounters, newRetryCounters } from '../../src/storage/retry.js';
import { anonClient, FAST_RETRY, putObject, S3_TEST_TIMEOUT, s3ErrorXml, signedClient, startFaultServer, startS3 } from '../helpers/s3.js';

const BUCKET = 'desi-tree';
const ALL = { surveys: ['main', 'sv3'], programs: ['dark', 'bright'] };
let s3: LocalS3;
let work: string;

before(async () => {
  s3 = await startS3([BUCKET]);
  work = await mkdtemp(join(tmpdir(), 'desi-qad-s3-tree-'));
  const client = signedClient(s3.endpoint);
  const up = await uploadTree(client, FIXTURE_TREE, BUCKET, 'dr1/healpix', { concurrency: 8 });
  assert.ok(up.files >= 13);
  // Side files of a tile directory are ignored; stray keys are reported.
  await putObject(client, BUCKET, 'dr1/healpix/main/dark/230/23040/emline-main-dark-23040.fits', 'emline');
  await putObject(client, BUCKET, 'dr1/healpix/main/dark/230/23040/logs/coadd-main-dark-23040.log', 'log');
  await putObject(client, BUCKET, 'dr1/healpix/main/dark/230/README.txt', 'stray');
  await putObject(client, BUCKET, 'dr1/healpix/main/dark/230/abc/coadd-main-dark-abc.fits', 'stray');
  await putObject(client, BUCKET, 'dr1/healpix/main/dark/230/23140/coadd-main-dark-23140.fits', 'wrong group');
  await putObject(client, BUCKET, 'dr1/healpix/main/dark/230/23041/coadd-main-dark-23099.fits', 'misnamed');
  // A tile directory holding only a redrock file.
  await putObject(client, BUCKET, 'dr1/healpix/main/dark/230/23042/redrock-main-dark-23042.fits', 'rr only');
});
after(async () => {
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function summary(tiles: TileRef[]) {
  return tiles.map((t) => ({ key: tileKey(t), coadd: t.coadd?.size, redrock: t.redrock?.size }));
}

test('discovery finds the tiles the local discovery of the same tree finds, with sizes and ETags', { timeout: S3_TEST_TIMEOUT }, async () => {
  const local = await new LocalTileStore(FIXTURE_TREE).discover(ALL);
  const store = new S3TileStore(anonClient(s3.endpoint), `s3://${BUCKET}/dr1/healpix/`, { retry: FAST_RETRY });
  assert.equal(store.root, `s3://${BUCKET}/dr1/healpix`);
  const found = await store.discover(ALL);
  const expected = [...summary(local.tiles), { key: 'main/dark/23042', coadd: undefined, redrock: 7 }];
  const order = (x: { key: string }[]) => [...x].sort((a, b) => a.key.localeCompare(b.key));
  assert.deepEqual(order(summary(found.tiles)), order(expected));
  // Tiles come in filter order, then by healpix.
  const keys = found.tiles.map(tileKey);
  assert.deepEqual(
    keys,
    [...keys].sort((a, b) => {
      const [sa, pa, ha] = a.split('/');
      const [sb, pb, hb] = b.split('/');
      return ALL.surveys.indexOf(sa) - ALL.surveys.indexOf(sb) || ALL.programs.indexOf(pa) - ALL.programs.indexOf(pb) || Number(ha) - Number(hb);
    }),
  );
  const t = found.tiles.find((x) => tileKey(x) === 'main/dark/23040')!;
  assert.equal(t.coadd!.path, 'dr1/healpix/main/dark/230/23040/coadd-main-dark-23040.fits');
  assert.match(t.coadd!.etag ?? '', /^[0-9a-f]{32}$/);
  assert.equal(store.displayName(t.coadd!), `s3://${BUCKET}/dr1/healpix/main/dark/230/23040/coadd-main-dark-23040.fits`);
  assert.ok(found.tiles.find((x) => tileKey(x) === 'main/dark/27248') && !found.tiles.find((x) => tileKey(x) === 'main/dark/27248')!.redrock);

  const problems = found.problems.join('\n');
  assert.match(problems, /main\/dark\/230\/README\.txt: not inside a healpix directory/);
  assert.match(problems, /main\/dark\/230\/abc\/coadd-main-dark-abc\.fits: "abc" is not a healpix number/);
  assert.match(problems, /main\/dark\/230\/23140\/coadd-main-dark-23140\.fits: not a healpix directory of pixgroup 230/);
  assert.match(problems, /coadd-main-dark-23099\.fits is not named for tile main\/dark\/23041/);
  assert.doesNotMatch(problems, /emline|logs/);
  assert.equal(found.problems.length, 4);
  // One probe, then one flat page per survey and program: each fits in one.
  assert.equal(store.stats.listRequests, 1 + 4);

  // Pages of 5 keys: main/dark no longer fits in one, so it is listed by pixgroup, to the same tiles and problems.
  const paged = new S3TileStore(anonClient(s3.endpoint), `s3://${BUCKET}/dr1/healpix/`, { retry: FAST_RETRY, maxKeys: 5 });
  const again = await paged.discover(ALL);
  assert.deepEqual(summary(again.tiles), summary(found.tiles));
  assert.deepEqual([...again.problems].sort(), [...found.problems].sort());
  assert.ok(paged.stats.listRequests > 1 + 4 + PIXGROUPS, `${paged.stats.listRequests} listings`);
});

test('an opened tile object reads the same bytes as the local file', { timeout: S3_TEST_TIMEOUT }, async () => {
  const store = new S3TileStore(anonClient(s3.endpoint), `s3://${BUCKET}/dr1/healpix`);
  const { tiles } = await store.discover({ surveys: ['main'], programs: ['dark'] });
  const t = tiles.find((x) => tileKey(x) === 'main/dark/23040')!;
  const local = (await new LocalTileStore(FIXTURE_TREE).discover({ surveys: ['main'], programs: ['dark'] })).tiles.find(
    (x) => tileKey(x) === 'main/dark/23040',
  )!;
  const a = await store.open(t.redrock!);
  const b = await new LocalTileStore(FIXTURE_TREE).open(local.redrock!);
  try {
    assert.equal(a.byteLength, b.byteLength);
    assert.equal(a.name, `s3://${BUCKET}/${t.redrock!.path}`);
    assert.deepEqual(await a.slice(0, a.byteLength), await b.slice(0, b.byteLength));
    assert.equal(a.stats.requests, 1);
    assert.equal(a.stats.bytesFetched, a.byteLength);
  } finally {
    await a.close();
    await b.close();
  }
});

test("retries of listings and of opened objects count in the store's counters, and in each object's own", { timeout: S3_TEST_TIMEOUT }, async () => {
  // Every 50th listing and the first GET of an object are throttled once.
  let lists = 0;
  let gets = 0;
  let throttledLists = 0;
  const fault = await startFaultServer(s3.endpoint, (req) => {
    const listing = /[?&]list-type=2/.test(req.url);
    const throttle = req.method === 'GET' && (listing ? lists++ % 50 === 1 : gets++ === 0);
    if (throttle && listing) throttledLists += 1;
    return throttle
      ? { status: 503, headers: { 'content-type': 'application/xml' }, body: s3ErrorXml('SlowDown', 'Please reduce your request rate.') }
      : 'proxy';
  });
  try {
    const run = newRetryCounters();
    const store = new S3TileStore(anonClient(fault.endpoint), `s3://${BUCKET}/dr1/healpix`, { retry: { ...FAST_RETRY, counters: run } });
    const { tiles } = await store.discover({ surveys: ['main'], programs: ['dark'] });
    assert.ok(throttledLists >= 1);
    assert.deepEqual(run, { ...newRetryCounters(), retries: throttledLists, throttle: throttledLists }, formatRetryCounters(run));
    const o = await store.open(tiles.find((x) => tileKey(x) === 'main/dark/23040')!.redrock!);
    await o.slice(0, 100);
    await o.close();
    assert.deepEqual(o.retries, { ...newRetryCounters(), retries: 1, throttle: 1 });
    assert.deepEqual(run, { ...newRetryCounters(), retries: throttledLists + 1, throttle: throttledLists + 1 }, "the object's retry is also the store's");
  } finally {
    await fault.close();
  }
});

test('pagination: more than 1,000 keys under one pixgroup, and a small MaxKeys', { timeout: S3_TEST_TIMEOUT }, async () => {
  // 100 tiles of pixgroup 7, each with coadd, redrock and 9 side files: 1,100 keys under one listing prefix.
  const root = join(work, 'big');
  for (let pix = 700; pix < 800; pix++) {
    const dir = join(root, 'main', 'dark', '7', String(pix));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `coadd-main-dark-${pix}.fits`), `c${pix}`);
    await writeFile(join(dir, `redrock-main-dark-${pix}.fits`), `rr${pix}`);
    for (let k = 0; k < 9; k++) await writeFile(join(dir, `side${k}-main-dark-${pix}.fits`), '');
  }
  const up = await uploadTree(signedClient(s3.endpoint), root, BUCKET, 'big', { concurrency: 16 });
  assert.equal(up.files, 1100);

  const store = new S3TileStore(anonClient(s3.endpoint), `s3://${BUCKET}/big`, { retry: FAST_RETRY });
  const found = await store.discover({ surveys: ['main'], programs: ['dark'] });
  assert.equal(found.tiles.length, 100);
  assert.ok(found.tiles.every((t, i) => t.healpix === 700 + i && t.coadd?.size === `c${t.healpix}`.length && t.redrock?.size === `rr${t.healpix}`.length));
  assert.deepEqual(found.problems, []);
  // The probe, a flat page of main/dark that does not hold it all, then each pixgroup: 7 took two pages (1,000 + 100 keys).
  assert.equal(store.stats.listRequests, 1 + 1 + PIXGROUPS + 1);
  assert.equal(store.stats.keys, 1 + 1000 + 1100);

  const small = new S3TileStore(anonClient(s3.endpoint), `s3://${BUCKET}/big`, { maxKeys: 97, retry: FAST_RETRY });
  const again = await small.discover({ surveys: ['main'], programs: ['dark'] });
  assert.deepEqual(summary(again.tiles), summary(found.tiles));
  assert.equal(small.stats.listRequests, 1 + 1 + PIXGROUPS + Math.ceil(1100 / 97) - 1);
});
