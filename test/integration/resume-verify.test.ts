/**
 * Resume checks what it skips: a journaled Parquet file deleted, truncated or overwritten by hand is redone,
 * and so is a tile whose coadd or redrock changed since it was converted (DESI re-releases files); the log
 * says how many. The dataset ends exact.
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, stat, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURE_TREE, latestLog, readLocalJournal, runCli } from '../helpers/cli.js';
import { assertSameDataset } from '../helpers/dataset.js';

const ALL = ['--survey', 'main,sv3', '--program', 'dark,bright', '--quiet', '--threads', '2'];
let work: string;
let tree: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'desi-qad-resume-verify-'));
  tree = join(work, 'tree');
  await cp(FIXTURE_TREE, tree, { recursive: true, preserveTimestamps: true });
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const convert = (out: string, logs: string) => runCli(['convert', '--source', tree, '--out', out, '--log-dir', logs, ...ALL]);

test('a journaled file deleted, truncated or overwritten is redone, and the log counts it', async () => {
  const out = join(work, 'damaged');
  const first = await convert(out, join(work, 'logs-1'));
  assert.equal(first.code, 1, first.stderr);
  const clean = join(work, 'clean');
  assert.equal((await convert(clean, join(work, 'logs-clean'))).code, 1);

  await unlink(join(out, 'main/dark/230/main-dark-23040.parquet'));
  const f2 = join(out, 'main/dark/103/main-dark-10304.parquet');
  await truncate(f2, (await stat(f2)).size - 100);
  // Same size, other bytes: only the footer check can see it.
  const f3 = join(out, 'main/dark/272/main-dark-27247.parquet');
  await writeFile(f3, Buffer.alloc((await stat(f3)).size, 0x41));

  const again = await convert(out, join(work, 'logs-2'));
  assert.equal(again.code, 1, again.stderr);
  const log = await latestLog(join(work, 'logs-2'));
  assert.match(log, /3 journaled tiles were missing or damaged; redone/);
  assert.match(log, /Discovered 4 tiles remaining/); // the 3 damaged ones and the tile without a redrock
  await assertSameDataset(clean, out, 5);

  const third = await convert(out, join(work, 'logs-3'));
  assert.doesNotMatch(await latestLog(join(work, 'logs-3')), /missing or damaged/);
  assert.equal(third.code, 1);
});

test('a source file that changed since its tile was converted is redone', async () => {
  const out = join(work, 'changed');
  assert.equal((await convert(out, join(work, 'logs-c1'))).code, 1);
  const coadd = join(tree, 'main/dark/230/23040/coadd-main-dark-23040.fits');
  const later = new Date(Date.now() + 60_000);
  await utimes(coadd, later, later);
  const again = await convert(out, join(work, 'logs-c2'));
  assert.equal(again.code, 1, again.stderr);
  const log = await latestLog(join(work, 'logs-c2'));
  assert.match(log, /1 tiles whose coadd or redrock changed since they were converted; redone \(e\.g\. main\/dark\/23040\)/);
  assert.match(log, /Tile 23040: .*Status=ok/);
});

test('a tile whose changed sources now select no row loses its earlier file: the dataset keeps no rows its sources no longer give', async () => {
  const own = join(work, 'tree-empty');
  await cp(FIXTURE_TREE, own, { recursive: true, preserveTimestamps: true });
  const out = join(work, 'now-empty');
  const run = (logs: string) => runCli(['convert', '--source', own, '--out', out, '--log-dir', logs, ...ALL]);
  assert.equal((await run(join(work, 'logs-e1'))).code, 1);
  const records = await readLocalJournal(out);
  const latest = new Map(records.flatMap((r) => (r.type === 'tile' ? [[r.tile, r] as const] : [])));
  const empty = [...latest.values()].find((r) => r.status === 'empty');
  assert.ok(empty, 'the fixture has a tile with no selected row');
  assert.equal(latest.get('main/dark/23040')?.status, 'ok');
  const file = join(out, 'main/dark/230/main-dark-23040.parquet');
  await stat(file); // there after the first run
  // DESI re-releases the tile's redrock, and it now classifies no target as a good quasar: the redrock of
  // the empty tile stands in for it (the coadd is not read when no row is selected).
  const [survey, program, healpix] = empty.tile.split('/');
  const emptyRedrock = join(own, survey, program, String(Math.floor(Number(healpix) / 100)), healpix, `redrock-${survey}-${program}-${healpix}.fits`);
  await cp(emptyRedrock, join(own, 'main/dark/230/23040/redrock-main-dark-23040.fits'));

  const again = await run(join(work, 'logs-e2'));
  assert.equal(again.code, 1, again.stderr);
  assert.match(await latestLog(join(work, 'logs-e2')), /Tile 23040: .*Status=empty/);
  await assert.rejects(stat(file), { code: 'ENOENT' }, 'the earlier file of the tile is removed');
  const after = (await readLocalJournal(out)).flatMap((r) => (r.type === 'tile' && r.tile === 'main/dark/23040' ? [r.status] : []));
  assert.equal(after[after.length - 1], 'empty');
  // And verify agrees: nothing stray, nothing missing.
  const v = await runCli(['verify', '--out', out, '--json']);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});
