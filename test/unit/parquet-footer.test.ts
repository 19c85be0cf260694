/**
 * The footer reader (src/parquet/footer.ts) on hand-made FileMetaData: integers on both its number and its
 * bigint paths, skipped fields of every integer width, and the walk that leaves the row groups out.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readParquetFooter } from '../../src/parquet/footer.js';
import { CompactWriter, CT } from '../../src/parquet/writer/thrift-compact.js';

/** A whole "file": PAR1, the FileMetaData written by `meta`, its length, PAR1. */
function fileOf(meta: (w: CompactWriter) => void): Uint8Array {
  const w = new CompactWriter(64);
  w.beginStruct();
  meta(w);
  w.endStruct();
  const footer = w.bytes();
  const out = new Uint8Array(4 + footer.byteLength + 8);
  out.set([0x50, 0x41, 0x52, 0x31], 0);
  out.set(footer, 4);
  new DataView(out.buffer).setUint32(4 + footer.byteLength, footer.byteLength, true);
  out.set([0x50, 0x41, 0x52, 0x31], out.byteLength - 4);
  return out;
}

/** One row group of one column chunk, with skipped integers of large and negative values around it. */
function rowGroup(w: CompactWriter, rows: number): void {
  w.beginStruct(); // RowGroup
  w.list(1, CT.STRUCT, 1);
  w.beginStruct(); // ColumnChunk
  w.i64(2, 2 ** 52 + 7); // file_offset: skipped, 8 varint bytes
  w.beginStruct(3); // ColumnMetaData
  w.i32(1, 5); // DOUBLE
  w.list(2, CT.I32, 2);
  w.elemI32(0);
  w.elemI32(9);
  w.list(3, CT.BINARY, 1);
  w.elemString('FLUX');
  w.i32(4, 6); // ZSTD
  w.i64(5, rows);
  w.i64(6, -123_456_789_012); // skipped, negative
  w.endStruct();
  w.endStruct();
  w.i64(2, 2 ** 40); // total_byte_size: skipped
  w.i64(3, rows);
  w.endStruct();
}

function meta(numRows: number): Uint8Array {
  return fileOf((w) => {
    w.i32(1, 2);
    w.list(2, CT.STRUCT, 1); // schema: skipped whole
    w.beginStruct();
    w.string(4, 'schema');
    w.i32(5, 1);
    w.endStruct();
    w.i64(3, numRows);
    w.list(4, CT.STRUCT, 2);
    rowGroup(w, 3);
    rowGroup(w, 4);
    w.list(5, CT.STRUCT, 1);
    w.beginStruct();
    w.string(1, 'desi-qad');
    w.string(2, '{"tile":"main-dark-26278"}');
    w.endStruct();
    w.string(6, 'desi-qad test');
  });
}

describe('readParquetFooter', () => {
  test('decodes row counts small and beyond 2^49 (the bigint path), and walks past skipped integers', () => {
    for (const rows of [0, 1, 63, 64, 300, 2 ** 31, 2 ** 48 + 5, 2 ** 50 + 3, 2 ** 52 + 1, Number.MAX_SAFE_INTEGER]) {
      const f = readParquetFooter(meta(rows));
      assert.equal(f.numRows, rows, `num_rows ${rows}`);
      assert.equal(f.createdBy, 'desi-qad test');
      assert.equal(f.keyValue.get('desi-qad'), '{"tile":"main-dark-26278"}');
      assert.deepEqual(
        f.rowGroups.map((g) => g.numRows),
        [3, 4],
      );
      assert.deepEqual(f.rowGroups[0].columns[0], {
        path: ['FLUX'],
        physicalType: 'DOUBLE',
        encodings: ['PLAIN', 'BYTE_STREAM_SPLIT'],
        codec: 'ZSTD',
        numValues: 3,
      });
    }
  });

  test('{ rowGroups: false } reads the same rows, metadata and writer, and builds no row group', () => {
    const f = readParquetFooter(meta(2 ** 50 + 3), { rowGroups: false });
    assert.equal(f.numRows, 2 ** 50 + 3);
    assert.equal(f.keyValue.get('desi-qad'), '{"tile":"main-dark-26278"}');
    assert.equal(f.createdBy, 'desi-qad test');
    assert.deepEqual(f.rowGroups, []);
  });

  test('a varint longer than 10 bytes, and a footer cut short, are errors', () => {
    const long = fileOf((w) => {
      w.fieldHeader(CT.I64, 3);
      for (let i = 0; i < 11; i++) w.byte(0xff);
      w.byte(0x01);
    });
    assert.throws(() => readParquetFooter(long), /varint too long/);
    const skipped = fileOf((w) => {
      w.fieldHeader(CT.I64, 7);
      for (let i = 0; i < 11; i++) w.byte(0xff);
      w.byte(0x01);
    });
    assert.throws(() => readParquetFooter(skipped), /varint too long/);
    const whole = meta(5);
    const len = new DataView(whole.buffer).getUint32(whole.byteLength - 8, true);
    const cut = new Uint8Array(whole.byteLength - 3);
    cut.set(whole.subarray(0, 4 + len - 3), 0);
    new DataView(cut.buffer).setUint32(cut.byteLength - 8, len - 3, true);
    cut.set([0x50, 0x41, 0x52, 0x31], cut.byteLength - 4);
    assert.throws(() => readParquetFooter(cut), /truncated/);
  });
});
