import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  coaddName,
  folderNumber,
  HEALPIX_PIXELS,
  healpixInPixgroup,
  isCanonicalNumber,
  isHealpix,
  MAX_HEALPIX,
  outputPath,
  parseTileObjectKey,
  parseTilePath,
  pixgroup,
  PIXGROUPS,
  redrockName,
  tileDir,
  tileFileKind,
  tileFileName,
  tileKey,
} from '../../src/desi/layout.js';
import * as tile from '../../src/desi/tile.js';

const T = { survey: 'main', program: 'dark', healpix: 23040 };

test('the healpix tree: pixgroups, directories, file names, the output path', () => {
  assert.equal(HEALPIX_PIXELS, 49152);
  assert.equal(MAX_HEALPIX, 49151);
  assert.equal(PIXGROUPS, 492);
  assert.deepEqual([0, 99, 100, 23040, 49151].map(pixgroup), [0, 0, 1, 230, 491]);
  assert.ok(isHealpix(0) && isHealpix(49151) && !isHealpix(49152) && !isHealpix(-1) && !isHealpix(1.5));
  assert.ok(healpixInPixgroup(23040, 230) && !healpixInPixgroup(23140, 230) && !healpixInPixgroup(49152, 491));
  assert.equal(tileKey(T), 'main/dark/23040');
  assert.equal(tileDir(T), 'main/dark/230/23040');
  assert.equal(tileDir({ survey: 'sv3', program: 'dark', healpix: 95 }), 'sv3/dark/0/95');
  assert.equal(coaddName(T), 'coadd-main-dark-23040.fits');
  assert.equal(redrockName(T), 'redrock-main-dark-23040.fits');
  assert.equal(tileFileName('redrock', T), redrockName(T));
  assert.equal(outputPath(T), 'main/dark/230/main-dark-23040.parquet');
});

test('tile.ts re-exports the layout the pipeline imports from it', () => {
  assert.equal(tile.tileKey, tileKey);
  assert.equal(tile.outputPath, outputPath);
  assert.equal(tile.tileDir, tileDir);
  assert.equal(tile.coaddName, coaddName);
  assert.equal(tile.tileFitsBytes({ ...T, coadd: { path: 'c', size: 5 }, redrock: { path: 'r', size: 7 } }), 12);
  assert.deepEqual([...tile.SURVEYS], ['cmx', 'sv1', 'sv2', 'sv3', 'main', 'special']);
  assert.deepEqual([...tile.PROGRAMS], ['dark', 'bright', 'backup', 'other']);
});

test('tileFileKind: the coadd, the redrock, side files, and files named for another tile', () => {
  assert.equal(tileFileKind(T, 'coadd-main-dark-23040.fits'), 'coadd');
  assert.equal(tileFileKind(T, 'redrock-main-dark-23040.fits'), 'redrock');
  assert.equal(tileFileKind(T, 'emline-main-dark-23040.fits'), 'other');
  assert.equal(tileFileKind(T, 'logs/coadd-main-dark-23040.fits'), 'other');
  assert.deepEqual(tileFileKind(T, 'coadd-sv3-dark-23040.fits'), { problem: 'coadd-sv3-dark-23040.fits is not named for tile main/dark/23040' });
});

test('parseTilePath: a path of the tree back into survey, program, pixgroup, healpix and kind', () => {
  assert.deepEqual(parseTilePath('main/dark/230/23040/coadd-main-dark-23040.fits'), {
    kind: 'coadd',
    survey: 'main',
    program: 'dark',
    pixgroup: 230,
    healpix: 23040,
    file: 'coadd-main-dark-23040.fits',
  });
  assert.deepEqual(parseTilePath('sv3/bright/95/9500/redrock-sv3-bright-9500.fits'), {
    kind: 'redrock',
    survey: 'sv3',
    program: 'bright',
    pixgroup: 95,
    healpix: 9500,
    file: 'redrock-sv3-bright-9500.fits',
  });
  assert.equal(parseTilePath('main/dark/230/23040/logs/x.txt').kind, 'other');
  // Every path the tree's own rules write reads back to its tile.
  for (const t of [T, { survey: 'special', program: 'backup', healpix: 0 }, { survey: 'cmx', program: 'other', healpix: 49151 }]) {
    for (const kind of ['coadd', 'redrock'] as const) {
      const p = parseTilePath(`${tileDir(t)}/${tileFileName(kind, t)}`);
      assert.deepEqual(p, { kind, ...t, pixgroup: pixgroup(t.healpix), file: tileFileName(kind, t) });
    }
  }
  const problem = (path: string) => {
    const p = parseTilePath(path);
    return p.kind === 'problem' ? p.problem : undefined;
  };
  assert.equal(problem('main/dark/230/README'), 'not inside a healpix directory of pixgroup 230');
  assert.equal(problem('main/dark/230/abc/coadd-main-dark-abc.fits'), '"abc" is not a healpix number');
  assert.equal(problem('main/dark/230/23140/coadd-main-dark-23140.fits'), 'not a healpix directory of pixgroup 230 (nside 64)');
  assert.equal(problem('main/dark/491/49152/coadd-main-dark-49152.fits'), 'not a healpix directory of pixgroup 491 (nside 64)');
  assert.equal(problem('main/dark/230/23040/coadd-main-dark-23041.fits'), 'coadd-main-dark-23041.fits is not named for tile main/dark/23040');
  assert.equal(problem('main/dark/x/23040/coadd-main-dark-23040.fits'), '"x" is not a pixgroup number');
  assert.ok(problem('main/dark/230'));
  assert.ok(problem('/dark/230/23040/coadd--dark-23040.fits'));
});

test('folder names: only the canonical decimal of a number is a pixgroup or pixel folder', () => {
  for (const good of ['0', '7', '97', '9766', '49151', '491']) assert.ok(isCanonicalNumber(good), good);
  for (const bad of [
    '',
    ' ',
    '09766',
    '00',
    '+9766',
    '-0',
    '-1',
    '9766 ',
    ' 9766',
    '9 766',
    '1e3',
    '0x10',
    '1.5',
    '9766.0',
    'Infinity',
    'NaN',
    'abc',
    '99999999999999999999',
  ])
    assert.ok(!isCanonicalNumber(bad), JSON.stringify(bad));
  assert.equal(folderNumber('9766', 'healpix'), 9766);
  assert.equal(folderNumber('0', 'pixgroup'), 0);
  assert.deepEqual(folderNumber('09766', 'healpix'), { problem: '"09766" is not the canonical pixel number 9766' });
  assert.deepEqual(folderNumber('+9766', 'healpix'), { problem: '"+9766" is not the canonical pixel number 9766' });
  assert.deepEqual(folderNumber('9766 ', 'healpix'), { problem: '"9766 " is not the canonical pixel number 9766' });
  assert.deepEqual(folderNumber('097', 'pixgroup'), { problem: '"097" is not the canonical pixgroup number 97' });
  assert.deepEqual(folderNumber('abc', 'healpix'), { problem: '"abc" is not a healpix number' });
  assert.deepEqual(folderNumber('1.5', 'pixgroup'), { problem: '"1.5" is not a pixgroup number' });
  assert.deepEqual(folderNumber(' ', 'pixgroup'), { problem: '" " is not a pixgroup number' });
  assert.deepEqual(folderNumber('-1', 'healpix'), { problem: '"-1" is not a healpix number' });
});

test('S3 keys and tree paths read folder names by the same rule as local discovery', () => {
  const key = (rest: string) => parseTileObjectKey('main', 'dark', 97, rest);
  assert.deepEqual(key('9766/coadd-main-dark-9766.fits'), { kind: 'coadd', healpix: 9766, file: 'coadd-main-dark-9766.fits' });
  assert.deepEqual(key('09766/coadd-main-dark-9766.fits'), { kind: 'problem', problem: '"09766" is not the canonical pixel number 9766' });
  assert.deepEqual(key('+9766/redrock-main-dark-9766.fits'), { kind: 'problem', problem: '"+9766" is not the canonical pixel number 9766' });
  assert.deepEqual(key('9766 /x.txt'), { kind: 'problem', problem: '"9766 " is not the canonical pixel number 9766' });
  const path = (p: string) => {
    const r = parseTilePath(p);
    return r.kind === 'problem' ? r.problem : r.kind;
  };
  assert.equal(path('main/dark/97/9766/coadd-main-dark-9766.fits'), 'coadd');
  assert.equal(path('main/dark/097/9766/coadd-main-dark-9766.fits'), '"097" is not the canonical pixgroup number 97');
  assert.equal(path('main/dark/97/09766/coadd-main-dark-9766.fits'), '"09766" is not the canonical pixel number 9766');
});
