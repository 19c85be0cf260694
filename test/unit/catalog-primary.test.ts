/**
 * DR1's primary-spectrum rule on hand-made rows (src/catalog/primary.ts): ZWARN == 0 first, then the
 * largest TSNR2_LRG (NaN last), ties by row order; NSPEC per flavour; rows outside a flavour get 0/false.
 * The same rule against the Python oracle on generated FITS is test/integration/catalog.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { catalogFiles } from '../../src/catalog/build.js';
import { findPrimary, primaryFlags, type RankRows } from '../../src/catalog/primary.js';
import type { TileRecord } from '../../src/storage/journal-store.js';

function rows(spec: [bigint, number, number][]): RankRows {
  return {
    targetid: BigInt64Array.from(spec.map((s) => s[0])),
    zwarnZero: Uint8Array.from(spec.map((s) => (s[1] === 0 ? 1 : 0))),
    tsnr2Lrg: Float64Array.from(spec.map((s) => s[2])),
  };
}

test('larger TSNR2_LRG wins, ZWARN 0 beats a larger TSNR2 (and a NaN one), any ZWARN != 0 counts alike, a lone row is primary', () => {
  // TARGETID, ZWARN, TSNR2_LRG, expected primary
  const cases: [bigint, number, number, number][] = [
    [10n, 0, 100, 0],
    [10n, 0, 200, 1],
    [20n, 4, 0, 1],
    [30n, 4, 100, 0],
    [30n, 0, 10, 1],
    [40n, 4, 100, 1],
    [40n, 8, 10, 0],
    [50n, 8, 100, 0],
    [50n, 0, Number.NaN, 1],
  ];
  const f = findPrimary(rows(cases.map(([t, z, s]) => [t, z, s])));
  assert.deepEqual(
    [...f.primary],
    cases.map((c) => c[3]),
  );
  assert.deepEqual([...f.nspec], [2, 2, 1, 2, 2, 2, 2, 2, 2]);
});

test('NaN TSNR2_LRG ranks after every number, also after 0 and negative values', () => {
  const f = findPrimary(
    rows([
      [7n, 0, Number.NaN],
      [7n, 0, 0],
      [8n, 0, Number.NaN],
      [8n, 0, -1],
    ]),
  );
  assert.deepEqual([...f.primary], [0, 1, 0, 1]);
});

test('exact ties go to the first row in the given order, whatever the TARGETID order', () => {
  const f = findPrimary(
    rows([
      [9n, 0, 5],
      [3n, 0, 5],
      [9n, 0, 5],
      [3n, 0, 5],
      [3n, 4, 99],
    ]),
  );
  assert.deepEqual([...f.primary], [1, 1, 0, 0, 0]);
  assert.deepEqual([...f.nspec], [2, 3, 2, 3, 3]);
});

test('TARGETIDs above 2^53 that differ in the last bit are different targets', () => {
  const big = 39628046226953218n;
  const f = findPrimary(
    rows([
      [big, 0, 1],
      [big + 1n, 0, 2],
    ]),
  );
  assert.deepEqual([...f.primary], [1, 1]);
  assert.deepEqual([...f.nspec], [1, 1]);
});

test('flavours: MAIN_ over main, SV_ over sv1/sv2/sv3 (not cmx, not special), ZCAT_ over all', () => {
  const r = rows([
    [1n, 0, 1], // main
    [1n, 0, 9], // sv1
    [1n, 0, 5], // sv3
    [1n, 0, 50], // special
    [2n, 0, 1], // cmx
    [2n, 0, 2], // sv2
  ]);
  const f = primaryFlags(r, ['main', 'sv1', 'sv3', 'special', 'cmx', 'sv2']);
  assert.deepEqual([...f.get('ZCAT')!.primary], [0, 0, 0, 1, 0, 1]);
  assert.deepEqual([...f.get('ZCAT')!.nspec], [4, 4, 4, 4, 2, 2]);
  assert.deepEqual([...f.get('MAIN')!.primary], [1, 0, 0, 0, 0, 0]);
  assert.deepEqual([...f.get('MAIN')!.nspec], [1, 0, 0, 0, 0, 0]);
  assert.deepEqual([...f.get('SV')!.primary], [0, 1, 0, 0, 0, 1]);
  assert.deepEqual([...f.get('SV')!.nspec], [0, 2, 2, 0, 0, 1]);
});

test('columns of different lengths are refused', () => {
  assert.throws(() => findPrimary({ targetid: new BigInt64Array(2), zwarnZero: new Uint8Array(1), tsnr2Lrg: new Float64Array(2) }), /different lengths/);
});

test('catalogFiles: the latest record of each tile, ok ones with rows only, in tile order (HEALPIX as a number)', () => {
  const rec = (tile: string, status: TileRecord['status'], extra: Partial<TileRecord> = {}): TileRecord => ({
    type: 'tile',
    tile,
    status,
    time: '2026-12-03T10:00:00Z',
    run: 'r',
    ...extra,
  });
  const files = catalogFiles([
    rec('sv1/dark/900', 'ok', { rows: 2, parquetBytes: 10 }),
    rec('main/dark/10000', 'ok', { rows: 1, parquetBytes: 11 }),
    rec('main/dark/9', 'ok', { rows: 3, parquetBytes: 12, path: 'main/dark/0/main-dark-9.parquet' }),
    rec('main/bright/5', 'ok', { rows: 1 }),
    rec('main/bright/5', 'failed'), // the latest record wins: no longer ok
    rec('main/dark/7', 'empty', { rows: 0 }),
    rec('special/dark/1', 'ok', { rows: 0 }),
  ]);
  assert.deepEqual(
    files.map((f) => [f.path, f.size, f.rows]),
    [
      ['main/dark/0/main-dark-9.parquet', 12, 3],
      ['main/dark/100/main-dark-10000.parquet', 11, 1],
      ['sv1/dark/9/sv1-dark-900.parquet', 10, 2],
    ],
  );
});
