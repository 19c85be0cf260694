/**
 * Compares what the FITS reader decodes with a dump of what astropy reads (the JSON written by
 * scripts/make-golden-fits.py, committed beside each golden file or produced live with --dump).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ByteSource } from '../../../src/fits/source.js';
import { decodeImage, FitsError, imageInfo, readColumn, readHduData, scanHdus, tableInfo, type Card, type ColumnData } from '../../../src/fits/index.js';

export interface DumpArray {
  type: string;
  shape?: number[];
  hex?: string;
  sha256?: string;
  bytes?: number;
}
export interface DumpColumn extends DumpArray {
  name: string;
  repeat: number;
  strings?: string[];
  nulls?: string;
  rows?: DumpColumn[];
}
export interface DumpHdu {
  index: number;
  name: string;
  kind: string;
  headerStart: number;
  dataStart: number;
  dataLength: number;
  cards: [string, string, unknown, string][];
  image?: DumpArray | null;
  table?: { rows: number; columns: DumpColumn[] };
  unsupported?: string;
}
export interface Dump {
  file: string;
  hdus: DumpHdu[];
}

function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function floatHex(x: number): string {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return b.toString('hex');
}

/** A card as the dump writes it: [key, kind, value, comment]. */
export function cardEntry(c: Card): [string, string, unknown, string] {
  const kind = c.kind ?? 'text';
  const v = c.value;
  let value: unknown = v;
  if (kind === 'integer') value = (v as number | bigint).toString();
  else if (kind === 'float') value = floatHex(v as number);
  else if (kind === 'complex') {
    const z = v as { re: number; im: number };
    value = [floatHex(z.re), floatHex(z.im)];
  } else if (kind === 'undefined') value = null;
  return [c.key, kind, value, c.comment ?? ''];
}

function checkBytes(where: string, actual: Buffer, expected: DumpArray): void {
  if (expected.sha256 !== undefined) {
    assert.equal(actual.byteLength, expected.bytes, `${where}: byte count`);
    assert.equal(createHash('sha256').update(actual).digest('hex'), expected.sha256, `${where}: sha256 of the values`);
  } else {
    assert.equal(actual.toString('hex'), expected.hex ?? '', `${where}: values (little-endian hex)`);
  }
}

function maskHex(mask: Uint8Array | undefined, n: number): string | undefined {
  if (!mask?.some((b) => b === 1)) return undefined;
  return Buffer.from(mask.subarray(0, n)).toString('hex');
}

function checkColumn(where: string, data: ColumnData, exp: DumpColumn): void {
  assert.equal(data.type, exp.type, `${where}: type`);
  if (exp.type === 'varlen') {
    const rows = data.values as ColumnData[];
    assert.equal(rows.length, exp.rows!.length, `${where}: rows`);
    rows.forEach((row, r) => checkColumn(`${where} row ${r}`, row, { ...exp.rows![r], name: exp.name, repeat: NaN }));
    return;
  }
  if (!Number.isNaN(exp.repeat)) assert.equal(data.repeat, exp.repeat, `${where}: repeat`);
  if (data.type === 'string') {
    assert.deepEqual(data.values, exp.strings, `${where}: strings`);
    return;
  }
  checkBytes(where, bytesOf(data.values as ArrayBufferView), exp);
  if (data.type !== 'bits' && data.type !== 'complex64' && data.type !== 'complex128') {
    const nulls = (data as { nulls?: Uint8Array }).nulls;
    const expNulls = exp.nulls !== undefined && /[^0]/.test(exp.nulls) ? exp.nulls : undefined;
    assert.equal(maskHex(nulls, data.values.length), expNulls, `${where}: null mask`);
  }
}

/**
 * Reads `src` with scanHdus/decodeImage/readColumn and asserts that every HDU's offsets, header cards
 * and data equal `expected`. Throws an AssertionError naming the HDU, column or card that differs.
 */
export async function checkAgainstDump(src: ByteSource, expected: Dump): Promise<void> {
  const file = src.name;
  const hdus = await scanHdus(src);
  assert.deepEqual(
    hdus.map((h) => h.name),
    expected.hdus.map((h) => h.name.trim()), // astropy keeps EXTNAME's leading spaces, the reader trims them
    `${file}: HDU names`,
  );
  for (const exp of expected.hdus) {
    const hdu = hdus[exp.index];
    const where = `${file} HDU #${exp.index} ${exp.name}`;
    assert.equal(hdu.kind, exp.kind, `${where}: kind`);
    assert.equal(hdu.headerStart, exp.headerStart, `${where}: headerStart`);
    assert.equal(hdu.dataStart, exp.dataStart, `${where}: dataStart`);
    assert.equal(hdu.dataLength, exp.dataLength, `${where}: dataLength`);
    assert.deepEqual(hdu.header.cards.map(cardEntry), exp.cards, `${where}: header cards`);

    if (exp.unsupported !== undefined) {
      assert.throws(
        () => (hdu.kind === 'table' ? tableInfo(file, hdu) : imageInfo(file, hdu)),
        (e: unknown) => e instanceof FitsError && e.code === 'UNSUPPORTED',
        `${where}: ${exp.unsupported} should be UNSUPPORTED`,
      );
      continue;
    }
    if (exp.image !== undefined) {
      const info = imageInfo(file, hdu);
      const data = decodeImage(file, hdu, info, await readHduData(src, hdu));
      if (exp.image === null) {
        assert.equal(data.length, 0, `${where}: no data`);
        continue;
      }
      assert.equal(info.type, exp.image.type, `${where}: image type`);
      assert.equal(data.constructor.name, typedArrayName(exp.image.type), `${where}: typed array`);
      assert.deepEqual([...info.axes].reverse(), exp.image.shape, `${where}: shape`);
      checkBytes(`${where} image`, bytesOf(data), exp.image);
    }
    if (exp.table !== undefined) {
      const info = tableInfo(file, hdu);
      assert.equal(info.rows, exp.table.rows, `${where}: rows`);
      assert.deepEqual(
        info.columns.map((c) => c.name),
        exp.table.columns.map((c) => c.name),
        `${where}: column names`,
      );
      const bytes = await readHduData(src, hdu);
      info.columns.forEach((col, k) => {
        const data = readColumn(file, hdu, info, col, bytes);
        checkColumn(`${where} column ${col.name}`, data, exp.table!.columns[k]);
      });
    }
  }
}

function typedArrayName(type: string): string {
  const names: Record<string, string> = {
    int8: 'Int8Array',
    uint8: 'Uint8Array',
    int16: 'Int16Array',
    uint16: 'Uint16Array',
    int32: 'Int32Array',
    uint32: 'Uint32Array',
    int64: 'BigInt64Array',
    uint64: 'BigUint64Array',
    float32: 'Float32Array',
    float64: 'Float64Array',
  };
  return names[type];
}
