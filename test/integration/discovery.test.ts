/**
 * Discovery that never hides a hole: non-canonical folder names (`97/09766` beside `97/9766`) are problems,
 * not a second tile, on a local disk and on S3 alike; a folder that cannot be listed is `unreadable`; a
 * --source root that is not there throws; misspelt or repeated --survey/--program names neither end a run
 * with "no tiles" nor convert a tile twice; and an endpoint that answers ListObjectsV2 with 200 and an HTML
 * page makes discovery fail instead of finding nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tileKey } from '../../src/desi/tile.js';
import { uploadTree } from '../../src/dev/local-s3.js';
import { LocalTileStore } from '../../src/storage/local-tree.js';
import { S3Error } from '../../src/storage/s3-client.js';
import { S3TileStore } from '../../src/storage/s3-tree.js';
import { SourceError } from '../../src/storage/tile-store.js';
import { synthTile } from '../../src/synth/index.js';
import { FIXTURE_TREE, latestLog, runCli } from '../helpers/cli.js';
import { anonClient, FAST_RETRY, S3_TEST_TIMEOUT, signedClient, startFaultServer, startS3 } from '../helpers/s3.js';

const MAIN_DARK = { surveys: ['main'], programs: ['dark'] };
let work: string;
/** A tree with main/dark/97/9766 (a real synthetic tile) and, beside it, the same files under 97/09766. */
let tree: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'desi-qad-discovery-'));
  tree = join(work, 'tree');
  const tile = await synthTile(tree, { survey: 'main', program: 'dark', healpix: 9766, targets: 4, goodQso: 1, seed: 7 }, 'short');
  const twin = join(tree, 'main', 'dark', '97', '09766');
  await mkdir(twin, { recursive: true });
  await writeFile(join(twin, 'coadd-main-dark-9766.fits'), 'a copy');
  await writeFile(join(twin, 'redrock-main-dark-9766.fits'), 'a copy');
  assert.ok(tile.coaddBytes > 0);
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test('local: 97/09766 beside 97/9766 is one tile and a problem, not two outcomes for tile 9766', async () => {
  const found = await new LocalTileStore(tree).discover(MAIN_DARK);
  assert.deepEqual(found.tiles.map(tileKey), ['main/dark/9766']);
  assert.equal(found.tiles[0].coadd?.path, join(tree, 'main', 'dark', '97', '9766', 'coadd-main-dark-9766.fits'), 'the canonical folder is the one read');
  assert.deepEqual(found.problems, [`${join(tree, 'main', 'dark', '97', '09766')}: "09766" is not the canonical pixel number 9766, skipped`]);
  assert.deepEqual(found.unreadable, []);
});

test('local: stray and non-canonical names under program and pixgroup folders are problems, as on S3', async () => {
  const root = join(work, 'stray');
  const dark = join(root, 'main', 'dark');
  await mkdir(join(dark, '97', '9766'), { recursive: true });
  await mkdir(join(dark, 'abc'), { recursive: true });
  await mkdir(join(dark, '097', '9766'), { recursive: true });
  await mkdir(join(dark, '97', 'xyz'), { recursive: true });
  await mkdir(join(dark, '97', '+9767'), { recursive: true });
  await writeFile(join(dark, '97', 'README.txt'), 'stray');
  await writeFile(join(dark, '97', '9766', 'notes.txt'), 'a side file of the tile: quiet');
  const found = await new LocalTileStore(root).discover(MAIN_DARK);
  assert.deepEqual(found.tiles, [{ survey: 'main', program: 'dark', healpix: 9766, coadd: undefined, redrock: undefined }]);
  assert.deepEqual([...found.problems].sort(), [
    `${join(dark, '097')}: "097" is not the canonical pixgroup number 97, skipped`,
    `${join(dark, '97', '+9767')}: "+9767" is not the canonical pixel number 9767, skipped`,
    `${join(dark, '97', 'README.txt')}: not inside a healpix directory of pixgroup 97, skipped`,
    `${join(dark, '97', 'xyz')}: "xyz" is not a healpix number, skipped`,
    `${join(dark, 'abc')}: "abc" is not a pixgroup number, skipped`,
  ]);
  assert.deepEqual(found.unreadable, []);
});

test('local: a file where a pixgroup folder should be is unreadable, apart from the problems; a missing program is quiet', async () => {
  const root = join(work, 'notdir');
  await synthTile(root, { survey: 'main', program: 'dark', healpix: 9766, targets: 3, goodQso: 1, seed: 3 }, 'short');
  await writeFile(join(root, 'main', 'dark', '98'), 'a file, not a folder');
  const found = await new LocalTileStore(root).discover({ surveys: ['main', 'sv3'], programs: ['dark', 'bright'] });
  assert.deepEqual(found.tiles.map(tileKey), ['main/dark/9766']);
  assert.equal(found.unreadable.length, 1, found.unreadable.join('\n'));
  assert.match(found.unreadable[0], /\/main\/dark\/98: cannot list the folder \(ENOTDIR: not a directory\)$/);
  assert.ok(found.unreadable[0].startsWith(join(root, 'main', 'dark', '98')));
  assert.deepEqual(found.problems, [], 'sv3 and main/bright are missing: not a problem, not unreadable');
});

test('local: a --source root that does not exist, or is a file, throws SourceError NO_SOURCE naming it', async () => {
  const missing = join(work, 'no-such-tree');
  await assert.rejects(new LocalTileStore(missing).discover(MAIN_DARK), (err: unknown) => {
    assert.ok(err instanceof SourceError, String(err));
    assert.equal(err.code, 'NO_SOURCE');
    assert.equal(err.fatal, true);
    assert.ok(err.message.includes(missing) && err.message.includes('does not exist'), err.message);
    return true;
  });
  const file = join(work, 'a-file');
  await writeFile(file, 'x');
  await assert.rejects(new LocalTileStore(file).discover(MAIN_DARK), (err: unknown) => {
    assert.ok(err instanceof SourceError && err.code === 'NO_SOURCE', String(err));
    assert.ok(err.message.includes(file) && err.message.includes('not a folder'), err.message);
    return true;
  });
});

test('CLI: a missing --source ends non-zero, naming the folder', async () => {
  const missing = join(work, 'no-such-tree');
  const r = await runCli(['convert', '--source', missing, '--out', join(work, 'out-missing'), '--log-dir', join(work, 'logs-missing'), '--quiet']);
  assert.notEqual(r.code, 0, r.stderr);
  assert.match(await latestLog(join(work, 'logs-missing')), new RegExp(`${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*does not exist`));
});

test('CLI: --program darkk and --survey mian are usage errors (exit 2) with a suggestion', async () => {
  const program = await runCli(['convert', '--source', FIXTURE_TREE, '--out', join(work, 'out-darkk'), '--program', 'darkk', '--quiet']);
  assert.equal(program.code, 2, program.stderr);
  assert.ok(program.stderr.includes('--program "darkk" is not a DESI program (dark, bright, backup, other); did you mean "dark"?'), program.stderr);
  const survey = await runCli(['convert', '--source', FIXTURE_TREE, '--out', join(work, 'out-mian'), '--survey', 'main,mian', '--quiet']);
  assert.equal(survey.code, 2, survey.stderr);
  assert.ok(survey.stderr.includes('did you mean "main"?'), survey.stderr);
});

test('CLI: --survey main,main --program dark,dark converts each tile once', async () => {
  const logs = join(work, 'logs-twice');
  const r = await runCli([
    'convert',
    '--source',
    FIXTURE_TREE,
    '--out',
    join(work, 'out-twice'),
    '--log-dir',
    logs,
    '--survey',
    'main,main',
    '--program',
    'dark, dark',
    '--tiles',
    '23040,27248',
    '--quiet',
    '--threads',
    '2',
  ]);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  const log = await latestLog(logs);
  const tiles = [...log.matchAll(/\bTile (\d+): FITS Size=/g)].map((m) => m[1]).sort();
  assert.deepEqual(tiles, ['23040', '27248'], log);
});

test('S3: 09766/ beside 9766/ is one tile and a problem there too', { timeout: S3_TEST_TIMEOUT }, async () => {
  const s3 = await startS3(['desi']);
  try {
    await uploadTree(signedClient(s3.endpoint), tree, 'desi', 'healpix');
    const found = await new S3TileStore(anonClient(s3.endpoint), 's3://desi/healpix', { retry: FAST_RETRY }).discover(MAIN_DARK);
    assert.deepEqual(found.tiles.map(tileKey), ['main/dark/9766']);
    assert.equal(found.tiles[0].coadd?.path, 'healpix/main/dark/97/9766/coadd-main-dark-9766.fits');
    assert.deepEqual([...found.problems].sort(), [
      's3://desi/healpix/main/dark/97/09766/coadd-main-dark-9766.fits: "09766" is not the canonical pixel number 9766',
      's3://desi/healpix/main/dark/97/09766/redrock-main-dark-9766.fits: "09766" is not the canonical pixel number 9766',
    ]);
    assert.deepEqual(found.unreadable, []);
  } finally {
    await s3.stop();
  }
});

test(
  'S3: an endpoint that answers every request with 200 and an HTML page fails discovery instead of finding nothing',
  { timeout: S3_TEST_TIMEOUT },
  async () => {
    const page = '<!DOCTYPE html><html><head><title>Welcome</title></head><body><p>Please log in to use this network.</p></body></html>';
    const portal = await startFaultServer(undefined, () => ({ status: 200, headers: { 'content-type': 'text/html' }, body: page }));
    try {
      const store = new S3TileStore(anonClient(portal.endpoint), 's3://desidata/dr1/healpix', { retry: FAST_RETRY });
      await assert.rejects(store.discover(MAIN_DARK), (err: unknown) => {
        assert.ok(err instanceof S3Error, String(err));
        assert.match(err.message, /s3:\/\/desidata\/dr1\/healpix\/.*not an S3 listing/);
        return true;
      });
      assert.ok(portal.requests.length >= 2, 'the probe was retried as a bad body');

      const logs = join(work, 'logs-portal');
      const r = await runCli([
        'convert',
        '--source',
        's3://desidata/dr1/healpix',
        '--endpoint',
        portal.endpoint,
        '--no-sign-request',
        '--max-attempts',
        '2',
        '--out',
        join(work, 'out-portal'),
        '--log-dir',
        logs,
        '--quiet',
      ]);
      assert.notEqual(r.code, 0, r.stderr);
      assert.match(await latestLog(logs), /not an S3 listing/);
    } finally {
      await portal.close();
    }
  },
);
