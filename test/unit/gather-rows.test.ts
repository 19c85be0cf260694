/**
 * gatherRows: when the one fetched chunk holds exactly the wanted rows (a cut that keeps every spectrum), the
 * decoded chunk is returned as it is (no copy); its bits must be those of the copying path, which runs when
 * the same rows come in two chunks, for the float32 FLUX and the uint32 (BZERO 2^31) MASK alike.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatherRows, spectraImageInfo, type RowChunk } from '../../src/desi/spectra.js';
import { spectraKindOf } from '../../src/desi/schema.js';
import { imageRowsRange, scanHdus, type Hdu } from '../../src/fits/index.js';
import { MemorySource } from '../../src/storage/source.js';
import { synthTree } from '../../src/synth/index.js';

let work = '';
let hdus: Hdu[] = [];
let bytes = new Uint8Array(0);
let nspec = 0;
const FILE = 'coadd-main-dark-23041.fits';

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'desi-qad-gather-'));
  const report = await synthTree({
    out: work,
    tiles: [{ survey: 'main', program: 'dark', healpix: 23041, targets: 7, goodQso: 3, seed: 5 }],
    wavelength: 'short',
  });
  bytes = new Uint8Array(await readFile(report.tiles[0].coaddPath));
  hdus = await scanHdus(new MemorySource(FILE, bytes));
  nspec = report.tiles[0].targets;
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

function chunk(hdu: Hdu, info: ReturnType<typeof spectraImageInfo>, firstRow: number, endRow: number): RowChunk {
  const { start, end } = imageRowsRange(info, hdu, firstRow, endRow);
  return { firstRow, endRow, bytes: bytes.slice(start, end) }; // a copy: the decode swaps it in place
}

for (const suffix of ['FLUX', 'MASK'] as const) {
  test(`every row of one chunk gives the same ${suffix} bits as the same rows in two chunks`, () => {
    const hdu = hdus.find((h) => h.name === `B_${suffix}`)!;
    const info = spectraImageInfo(FILE, hdu, nspec, undefined);
    const kind = spectraKindOf(suffix)!;
    const rows = Int32Array.from({ length: nspec }, (_, i) => i);
    const one = [chunk(hdu, info, 0, nspec)];
    const whole = gatherRows(FILE, hdu, info, kind, one, rows);
    assert.equal(whole.buffer, one[0].bytes.buffer, 'the whole-chunk path returns the decoded chunk itself');
    const two = [chunk(hdu, info, 0, 3), chunk(hdu, info, 3, nspec)];
    const copied = gatherRows(FILE, hdu, info, kind, two, rows);
    assert.notEqual(copied.buffer, two[0].bytes.buffer);
    assert.equal(whole.constructor, copied.constructor);
    assert.equal(whole.length, nspec * info.rowLength);
    assert.deepEqual(new Uint32Array(whole.buffer, whole.byteOffset, whole.length), new Uint32Array(copied.buffer, copied.byteOffset, copied.length));
    // A subset of the chunk's rows takes the copying path and keeps only those rows.
    const some = gatherRows(FILE, hdu, info, kind, [chunk(hdu, info, 0, nspec)], Int32Array.of(1, 4));
    const w = info.rowLength;
    assert.deepEqual(
      new Uint32Array(some.buffer, some.byteOffset, some.length),
      Uint32Array.from([...new Uint32Array(copied.buffer, copied.byteOffset + 4 * w, w), ...new Uint32Array(copied.buffer, copied.byteOffset + 16 * w, w)]),
    );
  });
}
