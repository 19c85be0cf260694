/**
 * `--with resolution` in the read plan: each arm's RESOLUTION rows (11 x nwave float32) are planned like the
 * FLUX rows, after every arm's FLUX/IVAR/MASK, and only when asked for; a RESOLUTION HDU whose shape does not
 * fit the arm's grid, DESI's 11 diagonals or the FIBERMAP fails the plan (so the tile) naming file, HDU and key.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DesiError } from '../../src/desi/errors.js';
import { planBytes, planSpectraReads } from '../../src/desi/read-plan.js';
import { FitsError, Header, scanHdus, type CardValue, type Hdu } from '../../src/fits/index.js';
import { MemorySource } from '../../src/storage/source.js';
import { synthTree } from '../../src/synth/index.js';

let work = '';
let hdus: Hdu[] = [];
let nspec = 0;
const FILE = 'coadd-main-dark-23040.fits';
const ARMS = ['B', 'R', 'Z'];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'desi-qad-resolution-'));
  const report = await synthTree({
    out: work,
    tiles: [{ survey: 'main', program: 'dark', healpix: 23040, targets: 6, goodQso: 3, seed: 3 }],
    wavelength: 'short',
  });
  const bytes = new Uint8Array(await readFile(report.tiles[0].coaddPath));
  hdus = await scanHdus(new MemorySource(FILE, bytes));
  nspec = report.tiles[0].targets;
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const hdu = (name: string) => hdus.find((h) => h.name === name)!;
const nwave = (arm: string) => hdu(`${arm}_WAVELENGTH`).header.requireInt('NAXIS1');

/** The coadd's HDUs with `name`'s header cards changed (the data where it was). */
function withCards(name: string, changes: Record<string, CardValue>): Hdu[] {
  return hdus.map((h) => {
    if (h.name !== name) return h;
    const cards = h.header.cards.map((c) => (c.key in changes ? { ...c, value: changes[c.key] } : c));
    return { ...h, name: typeof changes.EXTNAME === 'string' ? changes.EXTNAME : h.name, header: new Header(cards, FILE, h.name) };
  });
}

test('without --with resolution nothing of a RESOLUTION HDU is planned; with it, its selected rows after every FLUX/IVAR/MASK', () => {
  const rows = Int32Array.from([1, 4]);
  const plain = planSpectraReads(FILE, hdus, nspec, rows, 0);
  const res = planSpectraReads(FILE, hdus, nspec, rows, 0, true);
  const names = ARMS.flatMap((a) => ['FLUX', 'IVAR', 'MASK'].map((k) => `${a}_${k}`));
  assert.deepEqual(
    plain.images.map((i) => i.name),
    names,
  );
  assert.deepEqual(
    res.images.map((i) => i.name),
    [...names, 'B_RESOLUTION', 'R_RESOLUTION', 'Z_RESOLUTION'],
  );
  const inside = (name: string, p: typeof plain) => p.reads.filter((r) => r.start >= hdu(name).dataStart && r.end <= hdu(name).end);
  for (const a of ARMS) {
    const name = `${a}_RESOLUTION`;
    assert.equal(inside(name, plain).length, 0, `${name} is never read without --with resolution`);
    const reads = inside(name, res);
    // Two rows apart (gap 0): two reads of one row each, 11 x nwave float32 at the row's offset.
    const rowBytes = 11 * nwave(a) * 4;
    assert.deepEqual(
      reads.map((r) => [r.start - hdu(name).dataStart, r.end - r.start]),
      [
        [1 * rowBytes, rowBytes],
        [4 * rowBytes, rowBytes],
      ],
    );
    const img = res.images.find((i) => i.name === name)!;
    assert.equal(img.kind, 'RESOLUTION');
    assert.equal(img.info.rowLength, 11 * nwave(a));
  }
  // The budget is taken for the whole plan: with resolution it grows by 11 FLUX rows per arm and row.
  const fluxRows = ARMS.reduce((s, a) => s + 2 * nwave(a) * 4, 0);
  assert.equal(planBytes(res) - planBytes(plain), 11 * fluxRows);
});

test('a RESOLUTION HDU of the wrong shape or type fails the plan, naming the file, the HDU and the key', () => {
  const rows = Int32Array.from([0]);
  const w = nwave('B');
  const cases: [Record<string, CardValue>, string, RegExp][] = [
    [{ NAXIS1: w + 1 }, 'NAXIS1', new RegExp(`has ${w + 1} wavelengths \\(NAXIS1\\) but the WAVELENGTH HDU has ${w}`)],
    [{ NAXIS1: 11, NAXIS2: w }, 'NAXIS1', /wavelengths \(NAXIS1\)/],
    [{ NAXIS2: 10 }, 'NAXIS2', /has 10 diagonals \(NAXIS2\), expected DESI's 11/],
    [{ NAXIS3: nspec + 1 }, 'NAXIS3', new RegExp(`has ${nspec + 1} spectra \\(NAXIS3\\) but FIBERMAP has ${nspec} rows`)],
    [{ NAXIS: 2 }, 'NAXIS', /expected a 3-D image \(nwave, 11, nspec\), found NAXIS=2/],
    [{ BITPIX: 32 }, 'BITPIX', /expected float32 \(BITPIX -32, no scaling\), found BITPIX 32/],
  ];
  for (const [changes, key, reason] of cases) {
    const broken = withCards('B_RESOLUTION', changes);
    assert.throws(
      () => planSpectraReads(FILE, broken, nspec, rows, 0, true),
      (e: unknown) => {
        assert.ok(e instanceof DesiError, `${JSON.stringify(changes)}: ${String(e)}`);
        assert.equal(e.hdu, 'B_RESOLUTION');
        assert.equal(e.key, key);
        assert.match(e.message, new RegExp(`^${FILE}: HDU B_RESOLUTION: ${key}: `));
        assert.match(e.message, reason);
        return true;
      },
    );
    // Without --with resolution the same file plans as before: the HDU is not looked at.
    assert.equal(planSpectraReads(FILE, broken, nspec, rows, 0).images.length, 9);
  }
});

test("--with resolution on a coadd without an arm's RESOLUTION HDU fails with MISSING_HDU naming it", () => {
  const broken = withCards('R_RESOLUTION', { EXTNAME: 'R_RESOLUTION_OLD' });
  assert.throws(
    () => planSpectraReads(FILE, broken, nspec, Int32Array.from([0]), 0, true),
    (e: unknown) => e instanceof FitsError && e.code === 'MISSING_HDU' && /coadd-main-dark-23040\.fits.*R_RESOLUTION/.test(e.message),
  );
  assert.equal(planSpectraReads(FILE, broken, nspec, Int32Array.from([0]), 0).images.length, 9);
});
