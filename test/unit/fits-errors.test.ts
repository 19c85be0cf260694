/**
 * Bad input: every problem is a FitsError with the right code whose message names the file and the HDU,
 * and no size a header claims is allocated or read before it is checked against the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ByteSource } from '../../src/fits/source.js';
import { MemorySource } from '../../src/storage/source.js';
import { FitsError, findHdu, readColumn, readHduData, scanHdus, tableInfo, type FitsErrorCode } from '../../src/fits/index.js';
import { be, card, cat, fitsFile, hdu, header, imageCards, primaryCards, raw, tableCards } from '../golden/fits/build.js';

const FILE = 'bad.fits';

/** Asserts that `p` rejects with a FitsError of `code` whose message names the file and `hduLabel`. */
async function rejects(p: Promise<unknown> | (() => unknown), code: FitsErrorCode, hduLabel?: string | number, key?: string) {
  const run =
    typeof p === 'function'
      ? () =>
          new Promise<unknown>((resolve) => {
            resolve(p());
          })
      : async () => p;
  await assert.rejects(run, (e: unknown) => {
    assert.ok(e instanceof FitsError, `expected a FitsError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.startsWith(`${FILE}: `), `message names the file: ${e.message}`);
    if (hduLabel !== undefined) {
      assert.equal(e.hdu, hduLabel, e.message);
      const label = typeof hduLabel === 'number' ? `HDU #${hduLabel}` : `HDU ${hduLabel}`;
      assert.ok(e.message.includes(label), `message names the HDU (${label}): ${e.message}`);
    }
    if (key !== undefined) assert.equal(e.key, key, e.message);
    return true;
  });
}

/** A source that records the largest slice asked for and the bytes read. */
class SpySource implements ByteSource {
  readonly byteLength: number;
  maxSlice = 0;
  fetched = 0;
  constructor(
    readonly name: string,
    private readonly inner: ByteSource,
  ) {
    this.byteLength = inner.byteLength;
  }
  async slice(start: number, end: number): Promise<Uint8Array> {
    this.maxSlice = Math.max(this.maxSlice, end - start);
    this.fetched += end - start;
    return this.inner.slice(start, end);
  }
}

const good = () =>
  fitsFile(
    hdu(primaryCards()),
    hdu(imageCards('FLUX', -32, [4, 3]), be('f32', [...Array(12).keys()])),
    hdu(tableCards('CAT', 4, 2, [['ID', 'J']]), be('i32', [1, 2])),
  );

test('a good file scans: the control for the cases below', async () => {
  const hdus = await scanHdus(new MemorySource(FILE, good()));
  assert.deepEqual(
    hdus.map((h) => [h.name, h.kind, h.headerStart, h.dataStart, h.dataLength, h.end]),
    [
      ['PRIMARY', 'primary', 0, 2880, 0, 2880],
      ['FLUX', 'image', 2880, 5760, 48, 8640],
      ['CAT', 'bintable', 8640, 11520, 8, 14400],
    ],
  );
});

test('NOT_FITS: empty file, other formats, SIMPLE = F', async () => {
  await rejects(scanHdus(new MemorySource(FILE, new Uint8Array(0))), 'NOT_FITS', 0);
  await rejects(scanHdus(new MemorySource(FILE, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10, 0, 0]))), 'NOT_FITS', 0);
  await rejects(scanHdus(new MemorySource(FILE, new Uint8Array(Buffer.from('hello world, this is not FITS at all')))), 'NOT_FITS', 0);
  const simpleF = fitsFile(header([card('SIMPLE', false), card('BITPIX', 8), card('NAXIS', 0)]));
  await rejects(scanHdus(new MemorySource(FILE, simpleF)), 'NOT_FITS', 0);
  const xtensionFirst = fitsFile(hdu(imageCards('FLUX', 8, [])));
  await rejects(scanHdus(new MemorySource(FILE, xtensionFirst)), 'NOT_FITS', 0);
});

test('TRUNCATED: inside the primary header, inside an extension header, inside data', async () => {
  const f = good();
  await rejects(scanHdus(new MemorySource(FILE, f.subarray(0, 100))), 'TRUNCATED', 0);
  await rejects(scanHdus(new MemorySource(FILE, f.subarray(0, 2000))), 'TRUNCATED', 0);
  // the FLUX header starts at 2880: its EXTNAME card is at card 7, so cut after it names the HDU
  await rejects(scanHdus(new MemorySource(FILE, f.subarray(0, 2880 + 80 * 8))), 'TRUNCATED', 'FLUX');
  await rejects(scanHdus(new MemorySource(FILE, f.subarray(0, 2880 + 80 * 2))), 'TRUNCATED', 1);
  await rejects(scanHdus(new MemorySource(FILE, f.subarray(0, 2880 + 4))), 'TRUNCATED', 1);
  await rejects(scanHdus(new MemorySource(FILE, f.subarray(0, 5760 + 20))), 'TRUNCATED', 'FLUX');
  await rejects(scanHdus(new MemorySource(FILE, f.subarray(0, 11520 + 7))), 'TRUNCATED', 'CAT');
});

test('a file cut at an HDU boundary scans, and the lost HDU is MISSING_HDU', async () => {
  const f = good();
  const hdus = await scanHdus(new MemorySource(FILE, f.subarray(0, 8640)));
  assert.deepEqual(
    hdus.map((h) => h.name),
    ['PRIMARY', 'FLUX'],
  );
  assert.throws(
    () => findHdu(FILE, hdus, 'CAT'),
    (e: unknown) => e instanceof FitsError && e.code === 'MISSING_HDU' && e.message.includes('CAT'),
  );
  // the last data block without its zero padding is still accepted
  const unpadded = await scanHdus(new MemorySource(FILE, f.subarray(0, 11520 + 8)));
  assert.equal(unpadded.length, 3);
});

test('bytes after the last HDU that do not start an XTENSION are ignored (special records, padding)', async () => {
  const f = cat(good(), new Uint8Array(2880), new Uint8Array(Buffer.from('SPECIAL RECORD'.padEnd(2880))));
  const hdus = await scanHdus(new MemorySource(FILE, f));
  assert.equal(hdus.length, 3);
});

test('NO_END: a header without END within 10,000 blocks; the file is not read past that bound', async () => {
  const blank = Buffer.alloc(2880, 0x20);
  const first = header(primaryCards(), false);
  const claimed = 20_000 * 2880;
  const endless: ByteSource = {
    name: FILE,
    byteLength: claimed,
    slice(start, end) {
      const out = new Uint8Array(end - start);
      for (let at = start; at < end; at += 2880) out.set(at < 2880 ? first : blank, at - start);
      return Promise.resolve(out);
    },
  };
  const spy = new SpySource(FILE, endless);
  await rejects(scanHdus(spy), 'NO_END', 0);
  assert.ok(spy.fetched <= 10_000 * 2880, `read ${spy.fetched} bytes`);
  // a short file without END is TRUNCATED, not NO_END
  await rejects(scanHdus(new MemorySource(FILE, fitsFile(header(primaryCards(), false)))), 'TRUNCATED', 0);
});

test('BAD_HEADER: non-ASCII bytes, control characters', async () => {
  const accent = fitsFile(hdu(primaryCards()), hdu(imageCards('FLUX', 8, [1], [card('OBJECT', 'x')]), new Uint8Array(1)));
  accent[2880 + 80 * 7 + 12] = 0xe9; // in the OBJECT card of the FLUX header, after EXTNAME
  await rejects(scanHdus(new MemorySource(FILE, accent)), 'BAD_HEADER', 'FLUX');
  const tab = good();
  tab[80 * 2 + 15] = 0x09;
  await rejects(scanHdus(new MemorySource(FILE, tab)), 'BAD_HEADER', 0);
});

test('BAD_HEADER: missing or invalid mandatory keywords', async () => {
  const noNaxis2 = fitsFile(hdu(primaryCards(16, [3, 2]).filter((c) => !c.startsWith('NAXIS2'))));
  await rejects(scanHdus(new MemorySource(FILE, noNaxis2)), 'BAD_HEADER', 0, 'NAXIS2');
  const bitpix = fitsFile(hdu(primaryCards(12)));
  await rejects(scanHdus(new MemorySource(FILE, bitpix)), 'BAD_HEADER', 0, 'BITPIX');
  const noPcount = fitsFile(
    hdu(primaryCards()),
    hdu(
      imageCards('FLUX', 8, [2]).filter((c) => !c.startsWith('PCOUNT')),
      new Uint8Array(2),
    ),
  );
  await rejects(scanHdus(new MemorySource(FILE, noPcount)), 'BAD_HEADER', 'FLUX', 'PCOUNT');
  const floatAxis = fitsFile(hdu([...primaryCards(8, [2]).filter((c) => !c.startsWith('NAXIS1')), raw('NAXIS1  =                  2.0')]));
  await rejects(scanHdus(new MemorySource(FILE, floatAxis)), 'BAD_HEADER', 0, 'NAXIS1');
  const negative = fitsFile(hdu(primaryCards(8, [-5])));
  await rejects(scanHdus(new MemorySource(FILE, negative)), 'BAD_HEADER', 0, 'NAXIS1');
});

test('SIZE_LIMIT: NAXIS claiming terabytes or overflowing 2^53, without allocating or reading it', async () => {
  const tera = fitsFile(hdu(primaryCards()), hdu(imageCards('HUGE', -64, [1_000_000, 1_000_000])));
  const spy = new SpySource(FILE, new MemorySource(FILE, tera));
  await rejects(scanHdus(spy), 'SIZE_LIMIT', 'HUGE');
  assert.ok(spy.maxSlice <= 4 * 2880, `largest slice ${spy.maxSlice}`);
  assert.ok(spy.fetched <= tera.byteLength);
  const overflow = fitsFile(hdu(primaryCards(-64, [1e6, 1e6, 1e6])));
  await rejects(scanHdus(new MemorySource(FILE, overflow)), 'SIZE_LIMIT', 0);
  const pcount = fitsFile(hdu(primaryCards()), hdu(tableCards('T', 4, 1, [['A', 'J']], 2 ** 52)));
  await rejects(scanHdus(new MemorySource(FILE, pcount)), 'SIZE_LIMIT', 'T');
});

test('BAD_TFORM: unknown code, malformed TDIM, fields wider than NAXIS1, P without a type', async () => {
  const table = async (cols: [string, string, Record<string, string | number>?][], rowBytes: number) => {
    const f = fitsFile(hdu(primaryCards()), hdu(tableCards('T', rowBytes, 1, cols), new Uint8Array(rowBytes)));
    const hdus = await scanHdus(new MemorySource(FILE, f));
    return () => tableInfo(FILE, hdus[1]);
  };
  await rejects(await table([['A', '1Z']], 1), 'BAD_TFORM', 'T', 'TFORM1');
  await rejects(
    await table(
      [
        ['A', 'J'],
        ['B', '2E', { TDIM: '(2,' }],
      ],
      12,
    ),
    'BAD_TFORM',
    'T',
    'TDIM2',
  );
  await rejects(
    await table(
      [
        ['A', 'J'],
        ['B', 'D'],
      ],
      8,
    ),
    'BAD_TFORM',
    'T',
    'TFORM2',
  );
  await rejects(await table([['A', 'P']], 8), 'BAD_TFORM', 'T', 'TFORM1');
  await rejects(await table([['A', '2PJ(1)']], 16), 'BAD_TFORM', 'T', 'TFORM1');
});

test('BAD_HEAP: descriptors pointing outside the heap', async () => {
  const make = async (count: number, offset: number) => {
    const heap = be('i32', [1, 2, 3]);
    const f = fitsFile(hdu(primaryCards()), hdu(tableCards('VAR', 8, 1, [['V', 'PJ(3)']], heap.byteLength), cat(be('i32', [count, offset]), heap)));
    const src = new MemorySource(FILE, f);
    const hdus = await scanHdus(src);
    const info = tableInfo(FILE, hdus[1]);
    const data = await readHduData(src, hdus[1]);
    return () => readColumn(FILE, hdus[1], info, info.columns[0], data);
  };
  assert.equal((await make(3, 0))().type, 'varlen'); // the control
  await rejects(await make(4, 0), 'BAD_HEAP', 'VAR', 'V');
  await rejects(await make(1, 12), 'BAD_HEAP', 'VAR', 'V');
  await rejects(await make(-1, 0), 'BAD_HEAP', 'VAR', 'V');
  await rejects(await make(1, -4), 'BAD_HEAP', 'VAR', 'V');
  await rejects(await make(0x7fffffff, 0), 'BAD_HEAP', 'VAR', 'V');
});

test('DUPLICATE_HDU and MISSING_HDU name the EXTNAME', async () => {
  const f = fitsFile(hdu(primaryCards()), hdu(imageCards('FLUX', 8, [1]), new Uint8Array(1)), hdu(imageCards('flux', 8, [1]), new Uint8Array(1)));
  const hdus = await scanHdus(new MemorySource(FILE, f));
  await rejects(() => findHdu(FILE, hdus, 'FLUX'), 'DUPLICATE_HDU', 'FLUX');
  await rejects(() => findHdu(FILE, hdus, 'IVAR'), 'MISSING_HDU', 'IVAR');
  assert.equal(findHdu(FILE, hdus, 'primary').index, 0);
});

test('a bad THEAP is BAD_HEADER naming THEAP', async () => {
  const f = fitsFile(hdu(primaryCards()), hdu(tableCards('T', 4, 1, [['A', 'J']], 0, [raw('THEAP   =                    1')]), new Uint8Array(4)));
  const hdus = await scanHdus(new MemorySource(FILE, f));
  await rejects(() => tableInfo(FILE, hdus[1]), 'BAD_HEADER', 'T', 'THEAP');
});
