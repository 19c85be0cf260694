/**
 * The TSNR2 columns of selectRows: matched to REDSHIFTS by TARGETID (the generator writes TSNR2 in FIBERMAP
 * order, REDSHIFTS shuffled), null without a TSNR2 HDU, and a TSNR2 table that does not describe the
 * REDSHIFTS targets fails with an error naming the file, the HDU and the cause.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SELECTION } from '../../src/desi/selection.js';
import { selectRows, type SelectResult } from '../../src/desi/tile-rows.js';
import { findHdu, findColumn, readColumn, readHduData, scanHdus, tableInfo, type Hdu } from '../../src/fits/index.js';
import { MemorySource } from '../../src/storage/source.js';
import { synthTree } from '../../src/synth/index.js';

let dir = '';
let file = '';
let redshifts: Hdu;
let tsnr2: Hdu;
let zData: Uint8Array;
let tData: Uint8Array;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'desi-qad-tsnr2-'));
  const report = await synthTree({
    out: dir,
    tiles: [{ survey: 'main', program: 'dark', healpix: 5000, targets: 8, goodQso: 3, seed: 4 }],
    wavelength: 'short',
  });
  file = report.tiles[0].redrockPath;
  const src = new MemorySource(file, new Uint8Array(await readFile(file)));
  const hdus = await scanHdus(src);
  redshifts = findHdu(file, hdus, 'REDSHIFTS');
  tsnr2 = findHdu(file, hdus, 'TSNR2');
  zData = await readHduData(src, redshifts);
  tData = await readHduData(src, tsnr2);
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const values = (r: SelectResult, name: string) => {
  const v = r.redshifts.find((c) => c.name === name);
  assert.ok(v, name);
  return v;
};

test('TSNR2 values follow each selected target, found by TARGETID', () => {
  const r = selectRows(file, redshifts, zData, DEFAULT_SELECTION, 'default', { hdu: tsnr2, data: tData.slice() });
  assert.equal(r.targetids.length, 3);
  const info = tableInfo(file, tsnr2);
  const ids = readColumn(file, tsnr2, info, findColumn(info, 'TARGETID')!, tData).values as BigInt64Array;
  const lrg = readColumn(file, tsnr2, info, findColumn(info, 'TSNR2_LRG')!, tData).values as Float32Array;
  const got = values(r, 'TSNR2_LRG');
  assert.ok(!('absent' in got));
  r.targetids.forEach((t, i) => assert.equal((got.values as Float32Array)[i], lrg[ids.indexOf(t)]));
  // The rows really are in another order than REDSHIFTS' (else the test would not show the matching).
  const zInfo = tableInfo(file, redshifts);
  const zIds = readColumn(file, redshifts, zInfo, findColumn(zInfo, 'TARGETID')!, zData).values as BigInt64Array;
  assert.notDeepEqual([...zIds], [...ids]);
});

test('a redrock without a TSNR2 HDU gives null TSNR2 columns', () => {
  const r = selectRows(file, redshifts, zData, DEFAULT_SELECTION, 'default');
  const v = values(r, 'TSNR2_QSO');
  assert.ok('absent' in v);
  assert.equal(r.redshifts.filter((c) => c.name.startsWith('TSNR2_')).length, 32);
});

test('a TSNR2 table of other targets, or with a target twice, fails naming the file and HDU', () => {
  const rowBytes = tsnr2.header.get('NAXIS1') as number;
  const other = tData.slice();
  other[7] ^= 0xff; // the last byte of row 0's TARGETID (big-endian)
  assert.throws(
    () => selectRows(file, redshifts, zData, DEFAULT_SELECTION, 'default', { hdu: tsnr2, data: other }),
    (e: Error) => e.message.includes(file) && e.message.includes('TSNR2') && e.message.includes('has no TSNR2 row'),
  );
  const twice = tData.slice();
  twice.copyWithin(0, rowBytes, rowBytes + 8); // row 0 gets row 1's TARGETID
  assert.throws(
    () => selectRows(file, redshifts, zData, DEFAULT_SELECTION, 'default', { hdu: tsnr2, data: twice }),
    (e: Error) => e.message.includes(file) && e.message.includes('TSNR2') && e.message.includes('appears more than once'),
  );
});
