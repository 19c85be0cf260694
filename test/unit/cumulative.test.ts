/** The tile layout's path, key and --tiles rules (src/desi/cumulative.ts) and the LASTNIGHT rule of discovery. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cumulativeKey,
  cumulativeOutputPath,
  parseCumulativeFile,
  parseCumulativeKey,
  parseCumulativeOutputPath,
  parseCumulativeSpecs,
} from '../../src/desi/cumulative.js';
import { outputPath, tileKey } from '../../src/desi/layout.js';
import { parseOutputPath } from '../../src/desi/output-path.js';
import { unitsOfTile } from '../../src/storage/cumulative-units.js';

test('keys and output paths of the tile layout round-trip, and never take a healpix shape', () => {
  const c = { tileid: 80605, petal: 3, lastnight: 20210517 };
  assert.equal(cumulativeKey(c), 'cumulative/80605/3');
  assert.deepEqual(parseCumulativeKey('cumulative/80605/3'), { tileid: 80605, petal: 3 });
  assert.equal(parseCumulativeKey('cumulative/80605/10'), undefined);
  assert.equal(parseCumulativeKey('cumulative/080605/3'), undefined);
  assert.equal(cumulativeOutputPath(c), 'cumulative/80605/cumulative-80605-3.parquet');
  assert.deepEqual(parseCumulativeOutputPath('cumulative/80605/cumulative-80605-3.parquet'), { tileid: 80605, petal: 3 });
  assert.equal(parseCumulativeOutputPath('cumulative/80606/cumulative-80605-3.parquet'), undefined);
  const tile = { survey: '', program: '', healpix: -1, cumulative: c };
  assert.equal(tileKey(tile), 'cumulative/80605/3');
  assert.equal(outputPath(tile), 'cumulative/80605/cumulative-80605-3.parquet');
  assert.equal(tileKey(parseOutputPath(outputPath(tile))!), tileKey(tile));
});

test('file names of a LASTNIGHT folder: coadd/redrock of a petal, others ignored, misnamed ones reported', () => {
  assert.deepEqual(parseCumulativeFile(80605, 20210517, 'coadd-3-80605-thru20210517.fits'), { kind: 'coadd', petal: 3 });
  assert.deepEqual(parseCumulativeFile(80605, 20210517, 'redrock-0-80605-thru20210517.fits'), { kind: 'redrock', petal: 0 });
  assert.deepEqual(parseCumulativeFile(80605, 20210517, 'qso_qn-3-80605-thru20210517.fits'), { kind: 'other' });
  assert.equal(parseCumulativeFile(80605, 20210517, 'coadd-3-80605-thru20210516.fits').kind, 'problem');
  assert.equal(parseCumulativeFile(80605, 20210517, 'coadd-12-80605-thru20210517.fits').kind, 'problem');
});

test('--tiles of the tile layout: TILEID or TILEID/PETAL, duplicates once, anything else refused', () => {
  assert.deepEqual(parseCumulativeSpecs(['80605', '80605/3', ' 80605 ']), [{ tileid: 80605 }, { tileid: 80605, petal: 3 }]);
  assert.throws(() => parseCumulativeSpecs(['80605/10']), /TILEID or TILEID\/PETAL/);
  assert.throws(() => parseCumulativeSpecs(['main/dark/1']), /TILEID or TILEID\/PETAL/);
});

test('the latest LASTNIGHT wins; a petal only in an older night is reported, a bad night folder too', () => {
  const ref = (path: string) => ({ path, size: 1 });
  const entries = [
    { night: '20210516', file: 'coadd-1-7-thru20210516.fits', ref: ref('old1') },
    { night: '20210516', file: 'coadd-9-7-thru20210516.fits', ref: ref('old9') },
    { night: '20210517', file: 'coadd-1-7-thru20210517.fits', ref: ref('new1') },
    { night: '20210517', file: 'redrock-1-7-thru20210517.fits', ref: ref('new1rr') },
    { night: '20210517', file: 'redrock-2-7-thru20210517.fits', ref: ref('new2rr') },
    { night: 'latest', file: 'coadd-1-7-thrulatest.fits', ref: ref('x') },
  ];
  const problems: string[] = [];
  const units = unitsOfTile(
    7,
    entries,
    (n, f) => `${n}/${f ?? ''}`,
    (p) => problems.push(p),
  );
  assert.deepEqual(
    units.map((u) => [u.cumulative, u.coadd?.path, u.redrock?.path]),
    [
      [{ tileid: 7, petal: 1, lastnight: 20210517 }, 'new1', 'new1rr'],
      [{ tileid: 7, petal: 2, lastnight: 20210517 }, undefined, 'new2rr'],
    ],
  );
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.match(problems.join('\n'), /latest\/?: not a LASTNIGHT folder/);
  assert.match(problems.join('\n'), /petal 9 is in LASTNIGHT 20210516 but not in the latest, 20210517/);
});
