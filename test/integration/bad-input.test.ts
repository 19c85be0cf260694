/**
 * Bad input, as the issue lists it: truncated files, a file that is not FITS, a header with no END, a size
 * that exceeds the file, coadd and redrock that disagree on TARGETIDs. Each tile gets a clear error naming
 * the file and the HDU; the other tiles finish; what was already written stays as it was.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURE_TREE, latestLog, runCli, readLocalJournal } from '../helpers/cli.js';
import { removeEnd, scrambleTargetIds, setCard, truncateInside } from '../helpers/corrupt.js';
import type { TileRecord } from '../../src/storage/journal-store.js';

const ALL = ['--survey', 'main,sv3', '--program', 'dark,bright', '--quiet', '--threads', '2'];

test('each broken tile is journaled as failed with its cause; the rest finish; nothing written is lost', async () => {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-bad-'));
  const tree = join(work, 'tree');
  const out = join(work, 'out');
  const logs = join(work, 'logs');
  await cp(FIXTURE_TREE, tree, { recursive: true });

  // A first run writes one good tile.
  const first = await runCli(['convert', '--source', tree, '--out', out, '--log-dir', logs, '--tiles', '27247', ...ALL]);
  assert.equal(first.code, 0, first.stderr);
  const goodPath = join(out, 'main/dark/272/main-dark-27247.parquet');
  const goodBytes = await readFile(goodPath);

  // Then the other tiles are broken in different ways.
  const f = (rel: string) => join(tree, rel);
  await truncateInside(f('main/dark/230/23040/coadd-main-dark-23040.fits'), 'B_FLUX');
  await writeFile(f('main/bright/100/10000/redrock-main-bright-10000.fits'), 'this is not a FITS file\n'.repeat(200));
  await scrambleTargetIds(f('sv3/dark/95/9500/coadd-sv3-dark-9500.fits'), 'FIBERMAP');
  await setCard(f('main/dark/103/10304/redrock-main-dark-10304.fits'), 'REDSHIFTS', 'NAXIS2', '900000000000');
  // A copy of a good tile whose redrock header lost its END card.
  await cp(f('main/dark/272/27247'), f('main/dark/272/27249'), { recursive: true });
  await rename(f('main/dark/272/27249/coadd-main-dark-27247.fits'), f('main/dark/272/27249/coadd-main-dark-27249.fits'));
  await rename(f('main/dark/272/27249/redrock-main-dark-27247.fits'), f('main/dark/272/27249/redrock-main-dark-27249.fits'));
  await removeEnd(f('main/dark/272/27249/redrock-main-dark-27249.fits'), 'REDSHIFTS');

  const second = await runCli(['convert', '--source', tree, '--out', out, '--log-dir', logs, ...ALL]);
  assert.equal(second.code, 1, 'done with failed tiles');
  const journal = await readLocalJournal(out);
  const latest = new Map<string, TileRecord>();
  for (const r of journal) if (r.type === 'tile') latest.set(r.tile, r);
  const expectFail = (tile: string, classes: string[], file: RegExp, hdu: RegExp) => {
    const r = latest.get(tile);
    assert.ok(r, `${tile} journaled`);
    assert.equal(r.status, 'failed', `${tile}: ${JSON.stringify(r)}`);
    assert.ok(classes.includes(r.errorClass!), `${tile}: class ${r.errorClass} in ${classes.join(',')}`);
    assert.match(r.error!, file, `${tile}: the message names the file`);
    assert.match(r.error!, hdu, `${tile}: the message names the HDU`);
  };
  expectFail('main/dark/23040', ['TRUNCATED'], /coadd-main-dark-23040\.fits/, /B_FLUX/);
  expectFail('main/bright/10000', ['NOT_FITS'], /redrock-main-bright-10000\.fits/, /HDU (#0|PRIMARY)/);
  expectFail('sv3/dark/9500', ['TARGET_MISMATCH'], /coadd-sv3-dark-9500\.fits/, /FIBERMAP/);
  expectFail('main/dark/10304', ['SIZE_LIMIT', 'TRUNCATED'], /redrock-main-dark-10304\.fits/, /REDSHIFTS/);
  expectFail('main/dark/27249', ['NO_END', 'BAD_HEADER'], /redrock-main-dark-27249\.fits/, /REDSHIFTS/);
  assert.equal(latest.get('main/dark/23041')?.status, 'empty', 'the good tiles finish');
  assert.equal(latest.get('main/dark/27248')?.status, 'missing');
  assert.ok((await readFile(goodPath)).equals(goodBytes), 'the file written before is unchanged');
  const log = await latestLog(logs);
  assert.match(log, /Found 1 completed tiles\./);
  assert.match(log, /TRUNCATED : 1 \(e\.g\. main\/dark\/23040: /);
  assert.match(log, /failed {9}: 5 tiles/);
});
