/**
 * desi-qad's own Parquet writer: an apache-arrow Table (as src/parquet/arrow-table.ts builds it) to the
 * bytes of a standard Parquet file, in TypeScript.
 *
 * Why not parquet-wasm: 0.8.0 is its newest release and is measured to cap list leaves at 70-135 MB/s
 * per CPU second even uncompressed (bench/encode-variants.ts), well under what the worker needs; no
 * other npm Parquet writer writes BYTE_STREAM_SPLIT + ZSTD lists fast. This writer copies Arrow value
 * bytes straight into pages (BYTE_STREAM_SPLIT in one pass over 32-bit words), writes the levels of
 * fixed-width spectra as replicated RLE runs, and compresses pages with zstd-napi, with no Arrow IPC step.
 *
 * What it writes (matching parquet-wasm's files in types and values, not byte for byte): arrow-rs's
 * schema (see schema.ts), Parquet 1.0 data pages with RLE levels, BYTE_STREAM_SPLIT on float leaves,
 * PLAIN on the others, no dictionary, the caller's codec on every page, statistics (min/max, null count)
 * on top-level columns in the page header and the chunk metadata, none on list leaves, TYPE_ORDER
 * column orders, and the caller's key-value metadata (encode.ts adds arrow-rs's ARROW:schema).
 */
import type { Data, Table } from 'apache-arrow';
import { type Compression, writeColumnChunk } from './columns.js';
import { type RowGroup, writeFileMetaData } from './metadata.js';
import { parquetSchema } from './schema.js';
import { Sink } from './sink.js';
import { CompactWriter } from './thrift-compact.js';

export interface WriteOptions {
  compression: Compression;
  /** Maximum rows per row group. */
  rowGroupRows: number;
  keyValue: [string, string][];
  createdBy: string;
}

const MAGIC = Uint8Array.of(0x50, 0x41, 0x52, 0x31);

/** Returns why this writer cannot take `table` (the caller then uses parquet-wasm), or undefined. */
export function unsupportedReason(table: Table): string | undefined {
  try {
    parquetSchema(table.schema);
  } catch (e) {
    return (e as Error).message;
  }
  for (const batch of table.batches) {
    const walk = (d: Data, name: string): string | undefined => {
      if (d.offset !== 0) return `column ${name} is a slice (Arrow offset ${d.offset})`;
      for (const c of d.children) {
        const r = walk(c, name);
        if (r !== undefined) return r;
      }
      return undefined;
    };
    for (let i = 0; i < batch.schema.fields.length; i++) {
      const r = walk(batch.data.children[i], batch.schema.fields[i].name);
      if (r !== undefined) return `own Parquet writer: ${r}`;
    }
  }
  return undefined;
}

/** Returns the complete Parquet file of `table` (check {@link unsupportedReason} first). */
export function writeParquetFile(table: Table, opts: WriteOptions): Uint8Array {
  const { elements, leaves } = parquetSchema(table.schema);
  const sink = new Sink();
  sink.write(MAGIC);
  const rowGroups: RowGroup[] = [];
  for (const batch of table.batches) {
    for (let r0 = 0; r0 < batch.numRows; r0 += opts.rowGroupRows) {
      const r1 = Math.min(batch.numRows, r0 + opts.rowGroupRows);
      const start = sink.pos;
      const columns = leaves.map((leaf) => writeColumnChunk(sink, opts.compression, leaf, batch.data.children[leaf.field], r0, r1));
      let totalByteSize = 0;
      for (const c of columns) totalByteSize += c.uncompressed;
      rowGroups.push({ columns, totalByteSize, numRows: r1 - r0, fileOffset: start, totalCompressedSize: sink.pos - start, ordinal: rowGroups.length });
    }
  }
  const w = new CompactWriter(4096 + 512 * leaves.length * Math.max(1, rowGroups.length));
  writeFileMetaData(w, { schema: elements, numRows: table.numRows, rowGroups, keyValue: opts.keyValue, createdBy: opts.createdBy, leafCount: leaves.length });
  sink.write(w.bytes());
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, w.pos, true);
  sink.write(len);
  sink.write(MAGIC);
  return sink.bytes();
}
