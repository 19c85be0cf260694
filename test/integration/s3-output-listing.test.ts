/**
 * listFiles() of an S3 output splits its listing by folder (folders found by one-key LISTs down to
 * `{survey}/{program}/`, then one flat listing per folder, several in flight): it must find exactly the set
 * the one sequential walk finds (listFilesFlat), at every page size, on s3rver and on the lean server; and
 * a resume check over it must still find an output that is missing or of another size.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { LocalS3 } from '../../src/dev/local-s3.js';
import { startLeanS3 } from '../../src/dev/lean-s3-server.js';
import { outputPath, tileKey, type TileId } from '../../src/desi/layout.js';
import { checkResume } from '../../src/pipeline/resume-check.js';
import type { TileRecord } from '../../src/storage/journal-store.js';
import { LIST_FANOUT, S3OutputStore } from '../../src/storage/s3-output.js';
import { anonClient, FAST_RETRY, putObject, S3_TEST_TIMEOUT, signedClient, startFaultServer, startS3 } from '../helpers/s3.js';

const BUCKET = 'desi-listing';
let s3: LocalS3;
let client: S3Client;

before(async () => {
  s3 = await startS3([BUCKET]);
  client = signedClient(s3.endpoint);
});
after(async () => {
  await s3?.stop();
});

const TILES: TileId[] = [];
for (const [survey, program, n] of [
  ['main', 'dark', 7],
  ['main', 'bright', 3],
  ['sv1', 'backup', 1],
  ['sv3', 'dark', 5],
] as const)
  for (let j = 0; j < n; j++) TILES.push({ survey, program, healpix: 37 * j + 1 });

/** Relative paths (→ size) of a dataset with files at every depth, a wide `cumulative/`, and what is not a dataset file. */
function layout(): Map<string, number> {
  const all = new Map<string, number>();
  TILES.forEach((t, i) => all.set(outputPath(t), 10 + i));
  all.set('top.parquet', 3); // directly under the prefix
  all.set('A/before-the-tool-folder.parquet', 2); // 'A' sorts before '_'
  all.set('main/beside-the-programs.parquet', 4);
  all.set('main/dark/0/deeper/nested.parquet', 5);
  // More subfolders than LIST_FANOUT: listed flat as a whole.
  for (let k = 0; k <= LIST_FANOUT; k++) all.set(`cumulative/${1000 + k}/cumulative-${1000 + k}-0.parquet`, 6 + (k % 3));
  // Listed but not dataset files.
  all.set('main/dark/0/readme.txt', 1);
  all.set('main/dark/0/.desi-qad-tmp-x.parquet', 1);
  all.set('_desi-qad/journal/a.parquet', 1);
  all.set('_desi-qad/runs/r.json', 1);
  return all;
}

/** What listFiles must return of `layout()`. */
function expected(all: Map<string, number>): [string, number][] {
  return [...all].filter(([rel]) => rel.endsWith('.parquet') && !rel.startsWith('_desi-qad/') && !rel.includes('/.desi-qad-tmp-')).sort();
}

const sorted = (m: Map<string, number>) => [...m].sort();

test('listFiles (split by folder, in flight) finds exactly the flat listing set on s3rver, at every page size', { timeout: S3_TEST_TIMEOUT }, async () => {
  const all = layout();
  for (const [rel, size] of all) await putObject(client, BUCKET, `ds/${rel}`, new Uint8Array(size));
  await putObject(client, BUCKET, 'ds-other/main/dark/0/main-dark-1.parquet', 'beside the prefix, not under it');
  const want = expected(all);
  for (const maxKeys of [1, 2, 3, 7, undefined]) {
    const proxy = await startFaultServer(s3.endpoint, () => 'proxy');
    try {
      const out = new S3OutputStore(signedClient(proxy.endpoint), `s3://${BUCKET}/ds`, { maxKeys, listConcurrency: 3, retry: FAST_RETRY });
      const split = await out.listFiles();
      assert.deepEqual(sorted(split), want, `split listing, MaxKeys ${String(maxKeys)}`);
      const prefixes = proxy.requests.map((r) => new URL(r.url, 'http://x').searchParams.get('prefix'));
      if (maxKeys === undefined) {
        // It fits in a page: one LIST, as the flat walk makes.
        assert.equal(proxy.requests.length, 1, 'one page: no split');
        continue;
      }
      for (const p of ['ds/main/dark/', 'ds/main/bright/', 'ds/sv3/dark/', 'ds/cumulative/']) assert.ok(prefixes.includes(p), `a listing of ${p}`);
      assert.ok(!prefixes.some((p) => p?.startsWith('ds/_desi-qad/')), 'the tool folder is not listed');
      assert.ok(!prefixes.some((p) => p?.startsWith('ds/cumulative/1')), 'a folder wider than LIST_FANOUT is not split');
      assert.equal(out.stats.listRequests, proxy.requests.length);
      assert.deepEqual(sorted(await out.listFilesFlat()), want, `flat listing, MaxKeys ${String(maxKeys)}`);
    } finally {
      await proxy.close();
    }
  }
});

test('listFiles on the lean server finds the same set, at every page size', { timeout: S3_TEST_TIMEOUT }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'desi-qad-listing-'));
  try {
    const all = layout();
    for (const [rel, size] of all) {
      await mkdir(dirname(join(dir, rel)), { recursive: true });
      await writeFile(join(dir, rel), new Uint8Array(size));
    }
    const lean = await startLeanS3({ folder: dir, bucket: BUCKET, prefix: 'ds' });
    try {
      for (const maxKeys of [1, 2, 5, undefined]) {
        const out = new S3OutputStore(anonClient(lean.endpoint), `s3://${BUCKET}/ds`, { maxKeys, retry: FAST_RETRY });
        assert.deepEqual(sorted(await out.listFiles()), expected(all), `MaxKeys ${String(maxKeys)}`);
      }
    } finally {
      await lean.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a resume check over the split listing redoes an output that is missing or of another size', { timeout: S3_TEST_TIMEOUT }, async () => {
  const prefix = 'resumed';
  const done = new Map<string, TileRecord>();
  for (const [i, t] of TILES.entries()) {
    const size = 20 + i;
    await putObject(client, BUCKET, `${prefix}/${outputPath(t)}`, new Uint8Array(size));
    done.set(tileKey(t), { type: 'tile', tile: tileKey(t), status: 'ok', time: '2026-12-03T10:00:00.000Z', run: 'r', parquetBytes: size, path: outputPath(t) });
  }
  const [gone, resized] = [TILES[2], TILES[TILES.length - 1]];
  await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${outputPath(gone)}` }));
  await putObject(client, BUCKET, `${prefix}/${outputPath(resized)}`, new Uint8Array(3));
  const out = new S3OutputStore(client, `s3://${BUCKET}/${prefix}`, { maxKeys: 2, retry: FAST_RETRY });
  const r = await checkResume({ tiles: TILES, done, out, selection: 'any' });
  assert.deepEqual(
    r.damaged.map((d) => d.tile),
    [tileKey(gone), tileKey(resized)].sort(),
  );
  assert.match(r.damaged.find((d) => d.tile === tileKey(gone))?.why ?? '', /is missing/);
  assert.match(r.damaged.find((d) => d.tile === tileKey(resized))?.why ?? '', /has 3 bytes, the journal says/);
  assert.equal(r.done.size, TILES.length - 2);
  assert.ok(!r.done.has(tileKey(gone)) && !r.done.has(tileKey(resized)));
});
