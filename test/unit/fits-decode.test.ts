/**
 * Decoding details the golden files cannot hold (astropy disagrees or refuses) and the reading strategy:
 * headers only, partial image rows, untouched inputs, byte-order helpers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemorySource } from '../../src/storage/source.js';
import {
  decodeImage,
  FitsError,
  imageInfo,
  imageRowsRange,
  int64ToFloat64,
  readColumn,
  readHduData,
  scanHdus,
  swapInPlace,
  tableInfo,
  type ColumnData,
  type Hdu,
  type TableInfo,
} from '../../src/fits/index.js';
import { be, card, cat, fitsFile, hdu, imageCards, primaryCards, raw, tableCards } from '../golden/fits/build.js';

const FILE = 'unit.fits';

async function table(
  columns: [string, string, Record<string, string | number | bigint>?][],
  rowBytes: number,
  rows: number,
  main: Uint8Array,
  heap: Uint8Array = new Uint8Array(0),
): Promise<{ hdu: Hdu; info: TableInfo; data: Uint8Array; col: (name: string) => ColumnData }> {
  const f = fitsFile(hdu(primaryCards()), hdu(tableCards('T', rowBytes, rows, columns, heap.byteLength), cat(main, heap)));
  const src = new MemorySource(FILE, f);
  const [, t] = await scanHdus(src);
  const info = tableInfo(FILE, t);
  const data = await readHduData(src, t);
  const col = (name: string) =>
    readColumn(
      FILE,
      t,
      info,
      info.columns.find((c) => c.name === name)!,
      data,
    );
  return { hdu: t, info, data, col };
}

test('scanHdus reads headers only, and stops once the names in `until` are seen', async () => {
  const big = new Uint8Array(100 * 2880);
  const f = fitsFile(
    hdu(primaryCards()),
    hdu(imageCards('A', 8, [big.byteLength]), big),
    hdu(imageCards('B', 8, [big.byteLength]), big),
    hdu(imageCards('C', 8, [3]), new Uint8Array(3)),
  );
  const all = new MemorySource(FILE, f);
  const hdus = await scanHdus(all);
  assert.deepEqual(
    hdus.map((h) => h.name),
    ['PRIMARY', 'A', 'B', 'C'],
  );
  assert.ok(all.stats.bytesFetched <= 4 * 4 * 2880, `fetched ${all.stats.bytesFetched} of ${f.byteLength}`);
  const some = new MemorySource(FILE, f);
  const firstTwo = await scanHdus(some, { until: ['a'] });
  assert.deepEqual(
    firstTwo.map((h) => h.name),
    ['PRIMARY', 'A'],
  );
  assert.ok(some.stats.requests < all.stats.requests);
});

test('small HDUs read in one chunk are not fetched again; long headers span several chunks', async () => {
  const many = Array.from({ length: 300 }, (_, i) => card(`KEY${i}`, i));
  const f = fitsFile(hdu(primaryCards(8, [], many)), hdu(imageCards('A', 16, [2]), be('i16', [1, 2])), hdu(imageCards('B', 16, [2]), be('i16', [3, 4])));
  const src = new MemorySource(FILE, f);
  const hdus = await scanHdus(src);
  assert.equal(hdus[0].header.int('KEY299'), 299);
  assert.equal(hdus[0].dataStart, Math.ceil((305 * 80 + 80) / 2880) * 2880);
  assert.deepEqual(
    hdus.map((h) => h.name),
    ['PRIMARY', 'A', 'B'],
  );
  assert.ok(src.stats.bytesFetched <= f.byteLength, `fetched ${src.stats.bytesFetched} of ${f.byteLength}`);
});

test('imageRowsRange: decoding some rows gives the same values as the whole image', async () => {
  const values = Array.from({ length: 5 * 7 }, (_, i) => i * 1.25 - 3);
  const f = fitsFile(hdu(primaryCards()), hdu(imageCards('FLUX', -32, [5, 7]), be('f32', values)));
  const src = new MemorySource(FILE, f);
  const [, flux] = await scanHdus(src);
  const info = imageInfo(FILE, flux);
  assert.equal(info.rows, 7);
  assert.equal(info.rowLength, 5);
  const whole = decodeImage(FILE, flux, info, await readHduData(src, flux)) as Float32Array;
  const { start, end } = imageRowsRange(info, flux, 2, 4);
  assert.equal(end - start, 2 * 5 * 4);
  const part = decodeImage(FILE, flux, info, await src.slice(start, end));
  assert.deepEqual([...part], [...whole.subarray(10, 20)]);
  assert.throws(() => imageRowsRange(info, flux, 3, 8), RangeError);
  // an unaligned buffer (a subarray at an odd offset) is copied, not refused
  const odd = new Uint8Array(1 + 8);
  odd.set(be('f32', [1.5, -2]), 1);
  assert.deepEqual([...decodeImage(FILE, flux, info, odd.subarray(1))], [1.5, -2]);
});

test('1-D and empty images: rows and row lengths', async () => {
  const f = fitsFile(hdu(primaryCards()), hdu(imageCards('WAVE', -64, [4]), be('f64', [1, 2, 3, 4])), hdu(imageCards('NONE', 16, [])));
  const [, wave, none] = await scanHdus(new MemorySource(FILE, f));
  assert.deepEqual([imageInfo(FILE, wave).rows, imageInfo(FILE, wave).rowLength], [1, 4]);
  assert.deepEqual([imageInfo(FILE, none).rows, imageInfo(FILE, none).rowLength], [0, 0]);
  assert.throws(
    () => imageInfo(FILE, { ...wave, kind: 'bintable' }),
    (e: unknown) => e instanceof FitsError && e.code === 'BAD_HEADER',
  );
});

test('BLANK with the signed-byte convention is UNSUPPORTED (astropy fails there too)', async () => {
  const f = fitsFile(hdu(primaryCards()), hdu(imageCards('S8', 8, [2], [card('BZERO', -128), card('BLANK', 0)]), new Uint8Array(2)));
  const [, s8] = await scanHdus(new MemorySource(FILE, f));
  assert.throws(
    () => imageInfo(FILE, s8),
    (e: unknown) => e instanceof FitsError && e.code === 'UNSUPPORTED' && e.key === 'BLANK',
  );
});

test('readColumn leaves the data it is given untouched', async () => {
  const t = await table(
    [
      ['A', 'J'],
      ['B', 'D'],
    ],
    12,
    2,
    cat(be('i32', [1]), be('f64', [2.5]), be('i32', [3]), be('f64', [4.5])),
  );
  const before = Buffer.from(t.data).toString('hex');
  assert.deepEqual([...(t.col('A').values as Int32Array)], [1, 3]);
  assert.deepEqual([...(t.col('B').values as Float64Array)], [2.5, 4.5]);
  assert.equal(Buffer.from(t.data).toString('hex'), before);
});

test('scaled P columns are scaled like fixed columns (astropy casts them back to the stored type)', async () => {
  const heap = cat(be('i16', [-32768, 32767, 0]), be('i32', [1, 2, -4]));
  const main = cat(be('i32', [2, 0]), be('i32', [2, 6]), be('i32', [1, 4]), be('i32', [1, 14]));
  const t = await table(
    [
      ['PIU', 'PI(2)', { TZERO: 32768 }],
      ['PJS', 'PJ(2)', { TSCAL: 0.25, TZERO: 100 }],
    ],
    16,
    2,
    main,
    heap,
  );
  const piu = t.col('PIU').values as ColumnData[];
  assert.equal(piu[0].type, 'uint16');
  assert.deepEqual([...(piu[0].values as Uint16Array)], [0, 65535]);
  assert.deepEqual([...(piu[1].values as Uint16Array)], [32768]);
  const pjs = t.col('PJS').values as ColumnData[];
  assert.equal(pjs[0].type, 'float64');
  assert.deepEqual([...(pjs[0].values as Float64Array)], [100.25, 100.5]);
  assert.deepEqual([...(pjs[1].values as Float64Array)], [99]);
});

test('PX gives bits, PL bools with nulls, PA one string per row', async () => {
  const heap = new Uint8Array([0b10100000, 0b11000000, 0x54, 0x00, 0x46, 0x61, 0x62, 0x20, 0x00]);
  const main = cat(be('i32', [3, 0]), be('i32', [3, 2]), be('i32', [4, 5]), be('i32', [10, 0]), be('i32', [0, 0]), be('i32', [0, 9]));
  const t = await table(
    [
      ['PX', 'PX(10)'],
      ['PL', 'PL(3)'],
      ['PA', 'PA(4)'],
    ],
    24,
    2,
    main,
    heap,
  );
  const px = t.col('PX').values as ColumnData[];
  assert.deepEqual([px[0].type, px[0].repeat, [...(px[0].values as Uint8Array)]], ['bits', 3, [1, 0, 1]]);
  assert.deepEqual([...(px[1].values as Uint8Array)], [1, 0, 1, 0, 0, 0, 0, 0, 1, 1]);
  const pl = t.col('PL').values as ColumnData[];
  assert.equal(pl[0].type, 'bool');
  assert.deepEqual([...pl[0].values], [1, 0, 0]);
  assert.deepEqual([...((pl[0] as { nulls?: Uint8Array }).nulls ?? [])], [0, 1, 0]);
  assert.deepEqual([...(pl[1].values as Uint8Array)], []);
  const pa = t.col('PA').values as ColumnData[];
  assert.deepEqual(
    pa.map((r) => r.values),
    [['ab'], ['']],
  );
});

test('K with a TZERO other than 2^63 gives float64, rounded like numpy (astropy 5.2 fails here)', async () => {
  const raw64 = [-(2n ** 63n), -1n, 2n ** 53n + 1n, 2n ** 63n - 1n];
  const f = await table(
    [
      ['KS', 'K', { TZERO: 1.5 }],
      ['KZ', 'K', { TZERO: 9223372036854775807n }],
    ],
    16,
    4,
    cat(...raw64.flatMap((v) => [be('i64', [v]), be('i64', [v])])),
  );
  const ks = f.col('KS');
  assert.equal(ks.type, 'float64');
  assert.deepEqual(
    [...(ks.values as Float64Array)],
    raw64.map((v) => Number(v) + 1.5),
  );
  const kz = f.col('KZ');
  assert.equal(kz.type, 'float64');
  assert.deepEqual(
    [...(kz.values as Float64Array)],
    raw64.map((v) => Number(v) + 2 ** 63),
  );
});

test('unsigned TZERO with TSCAL != 1 and scaled complex columns are UNSUPPORTED, other columns still read', async () => {
  const t = await table(
    [
      ['U', 'I', { TZERO: 32768, TSCAL: 2 }],
      ['C', 'C', { TSCAL: 2 }],
      ['OK', 'B'],
    ],
    11,
    1,
    new Uint8Array(11).fill(1),
  );
  const unsupported = (name: string) =>
    assert.throws(
      () => t.col(name),
      (e: unknown) => e instanceof FitsError && e.code === 'UNSUPPORTED' && e.key === name && e.hdu === 'T',
    );
  unsupported('U');
  unsupported('C');
  assert.deepEqual([...(t.col('OK').values as Uint8Array)], [1]);
});

test("strings: trailing NULs then Python's whitespace are stripped; a byte >= 0x80 switches to bytes rules", async () => {
  const rows = ['ab\t\x1c  ', 'a\0b\0\0\0', ' \0 \0  ', 'x\x0b\0\0\0\0'];
  const t = await table([['S', '6A']], 6, 4, new Uint8Array(Buffer.from(rows.join(''), 'latin1')));
  assert.deepEqual(t.col('S').values, ['ab', 'a\0b', ' \0 \0', 'x']);
  const latin = ['ab\x1c   ', 'caf\xe9  '];
  const u = await table([['S', '6A']], 6, 2, new Uint8Array(Buffer.from(latin.join(''), 'latin1')));
  assert.deepEqual(u.col('S').values, ['ab\x1c', 'caf\xe9']);
});

test('TDIM: strings split by the first axis; a product below the repeat keeps that many values', async () => {
  const t = await table(
    [
      ['S', '6A', { TDIM: '(3,2)' }],
      ['I', '4I', { TDIM: '(2)' }],
      ['W', '2I', { TDIM: '(3)' }],
    ],
    18,
    1,
    cat(new Uint8Array(Buffer.from('ab cd\0')), be('i16', [1, 2, 3, 4]), be('i16', [5, 6])),
  );
  const s = t.col('S');
  assert.deepEqual([s.repeat, s.values], [2, ['ab', 'cd']]);
  const i = t.col('I');
  assert.deepEqual([i.repeat, [...(i.values as Int16Array)]], [2, [1, 2]]);
  assert.equal(t.info.columns[2].dims, undefined); // (3) does not fit in 2 values: ignored, as astropy does
  assert.deepEqual([...(t.col('W').values as Int16Array)], [5, 6]);
});

test('ASCII TABLE HDUs are sized and skipped; decoding them is UNSUPPORTED', async () => {
  const ascii = [
    card('XTENSION', 'TABLE'),
    card('BITPIX', 8),
    card('NAXIS', 2),
    card('NAXIS1', 6),
    card('NAXIS2', 2),
    card('PCOUNT', 0),
    card('GCOUNT', 1),
    card('TFIELDS', 1),
    card('TTYPE1', 'N'),
    card('TFORM1', 'I6'),
    card('TBCOL1', 1),
    card('EXTNAME', 'ASC'),
  ];
  const f = fitsFile(hdu(primaryCards()), hdu(ascii, new Uint8Array(Buffer.from('     1    22'))), hdu(imageCards('AFTER', 8, [1]), new Uint8Array([7])));
  const hdus = await scanHdus(new MemorySource(FILE, f));
  assert.deepEqual(
    hdus.map((h) => [h.name, h.kind, h.dataLength]),
    [
      ['PRIMARY', 'primary', 0],
      ['ASC', 'table', 12],
      ['AFTER', 'image', 1],
    ],
  );
  assert.throws(
    () => tableInfo(FILE, hdus[1]),
    (e: unknown) => e instanceof FitsError && e.code === 'UNSUPPORTED' && e.hdu === 'ASC',
  );
});

test('THEAP leaves a gap before the heap; descriptors count from THEAP', async () => {
  const heap = cat(new Uint8Array(8).fill(0xee), be('i32', [42, 43]));
  const f = fitsFile(
    hdu(primaryCards()),
    hdu(tableCards('T', 8, 1, [['V', 'PJ(2)']], heap.byteLength, [raw('THEAP   =                   16')]), cat(be('i32', [2, 0]), heap)),
  );
  const src = new MemorySource(FILE, f);
  const [, t] = await scanHdus(src);
  const info = tableInfo(FILE, t);
  assert.deepEqual([info.heapOffset, info.heapLength], [16, 8]);
  const v = readColumn(FILE, t, info, info.columns[0], await readHduData(src, t)).values as ColumnData[];
  assert.deepEqual([...(v[0].values as Int32Array)], [42, 43]);
});

test('byte order helpers: int64ToFloat64 rounds like Number(BigInt); swapInPlace swaps', () => {
  const values = [0n, -1n, 1n, 2n ** 53n + 1n, -(2n ** 53n) - 3n, 2n ** 63n - 1n, -(2n ** 63n), 123456789012345678n, -987654321098765432n];
  const bytes = swapInPlace(be('i64', values), 8);
  assert.deepEqual(
    [...int64ToFloat64(bytes)],
    values.map((v) => Number(v)),
  );
  const unsigned = [0n, 2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n];
  const ub = swapInPlace(
    be(
      'i64',
      unsigned.map((v) => BigInt.asIntN(64, v)),
    ),
    8,
  );
  assert.deepEqual(
    [...int64ToFloat64(ub, true)],
    unsigned.map((v) => Number(v)),
  );
  assert.deepEqual([...swapInPlace(new Uint8Array([1, 2, 3, 4]), 2)], [2, 1, 4, 3]);
  assert.deepEqual([...swapInPlace(new Uint8Array([1, 2, 3, 4]), 4)], [4, 3, 2, 1]);
});
