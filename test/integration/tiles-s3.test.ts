/**
 * `--layout tiles` discovery on S3 (S3CumulativeStore, on s3rver) finds what the local discovery finds in the
 * same generated tree: the same units with the same LASTNIGHT, object sizes and the superseded-petal problem,
 * the tile-style afterburners beside them, and stray keys (at the prefix's top, in a folder that is not a
 * TILEID) are reported, not taken.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tileKey, type TileRef } from '../../src/desi/tile.js';
import { uploadTree, type LocalS3 } from '../../src/dev/local-s3.js';
import { LocalCumulativeStore } from '../../src/storage/cumulative-local.js';
import { S3CumulativeStore } from '../../src/storage/cumulative-s3.js';
import { synthTree, tileLayoutSpecs } from '../../src/synth/index.js';
import { anonClient, FAST_RETRY, putObject, S3_TEST_TIMEOUT, signedClient, startS3 } from '../helpers/s3.js';

const BUCKET = 'tiles-src';
let s3: LocalS3;
let work: string;
/** Keys under the prefix: the tree's files and three strays. */
let KEYS = 0;

before(async () => {
  s3 = await startS3([BUCKET]);
  work = await mkdtemp(join(tmpdir(), 'desi-qad-tiles-s3-'));
  await synthTree({ out: join(work, 'cumulative'), tiles: tileLayoutSpecs({ tiles: 6, seed: 3, superseded: true }), wavelength: 'short' });
  const client = signedClient(s3.endpoint);
  await uploadTree(client, join(work, 'cumulative'), BUCKET, 'iron/tiles/cumulative', { concurrency: 8 });
  await putObject(client, BUCKET, 'iron/tiles/cumulative/README.txt', 'stray');
  await putObject(client, BUCKET, 'iron/tiles/cumulative/notes/a.txt', 'stray');
  await putObject(client, BUCKET, 'iron/tiles/cumulative/notes/b.txt', 'stray');
  KEYS = (await readdir(join(work, 'cumulative'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length + 3;
});

after(async () => {
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const view = (t: TileRef) => ({
  key: tileKey(t),
  lastnight: t.cumulative?.lastnight,
  coadd: t.coadd?.size,
  redrock: t.redrock?.size,
  afterburners: Object.fromEntries(Object.entries(t.afterburners ?? {}).map(([k, r]) => [k, r.size])),
});

// Discovery is one plain paged listing of the prefix (no delimiter): s3rver answers a delimited listing of a
// prefix whose objects lie two folders deeper with nothing, and a plain listing is fewer requests anyway.
test("S3 discovery of a tile-layout tree finds the local discovery's units, nights, sizes and afterburners", { timeout: S3_TEST_TIMEOUT }, async () => {
  const local = await new LocalCumulativeStore(join(work, 'cumulative')).discover();
  // Small pages, so the listing's paging is exercised: 7 keys a page.
  const store = new S3CumulativeStore(anonClient(s3.endpoint), `s3://${BUCKET}/iron/tiles/cumulative`, { retry: FAST_RETRY, maxKeys: 7 });
  const remote = await store.discover();
  assert.ok(local.tiles.length > 0);
  const byKey = (a: ReturnType<typeof view>, b: ReturnType<typeof view>) => (a.key < b.key ? -1 : 1);
  assert.deepEqual(remote.tiles.map(view).sort(byKey), local.tiles.map(view).sort(byKey));
  for (const t of remote.tiles) {
    assert.ok(t.coadd?.etag, `${tileKey(t)}: the coadd's ETag is kept`);
    assert.deepEqual(Object.keys(t.afterburners ?? {}).sort(), ['emline', 'qso_mgii', 'qso_qn'], `${tileKey(t)}: its tile-style afterburners are found`);
    assert.ok(t.afterburners!.qso_qn!.path.endsWith(`/qso_qn-${t.cumulative!.petal}-${t.cumulative!.tileid}-thru${t.cumulative!.lastnight}.fits`));
  }
  assert.ok(
    remote.problems.some((p) => /petal 9 is in LASTNIGHT \d+ but not in the latest/.test(p)),
    remote.problems.join('\n'),
  );
  assert.ok(
    remote.problems.some((p) => p.includes('README.txt') && p.includes('not inside a TILEID folder')),
    remote.problems.join('\n'),
  );
  assert.ok(
    remote.problems.some((p) => p.endsWith('/notes/: not a TILEID folder, skipped')),
    remote.problems.join('\n'),
  );
  assert.equal(remote.problems.filter((p) => p.includes('/notes/')).length, 1, 'a folder that is not a TILEID is named once, not per key');
  // Every key under the prefix, 7 a page: that many LISTs and no more (none per TILEID folder).
  assert.equal(store.stats.keys, KEYS);
  assert.equal(store.stats.listRequests, Math.ceil(KEYS / 7));
});
