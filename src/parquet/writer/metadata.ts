/**
 * Parquet footer and page-header structs (parquet-format's parquet.thrift field ids and enum values),
 * written with the compact protocol. Only the fields desi-qad's writer sets are modelled.
 */
import { CompactWriter, CT } from './thrift-compact.js';

export const enum PhysicalType {
  BOOLEAN = 0,
  INT32 = 1,
  INT64 = 2,
  FLOAT = 4,
  DOUBLE = 5,
  BYTE_ARRAY = 6,
}

export const enum Repetition {
  REQUIRED = 0,
  OPTIONAL = 1,
  REPEATED = 2,
}

export const enum Enc {
  PLAIN = 0,
  RLE = 3,
  RLE_DICTIONARY = 8,
  BYTE_STREAM_SPLIT = 9,
}

export const enum Codec {
  UNCOMPRESSED = 0,
  ZSTD = 6,
}

/** ConvertedType values used here. */
export const enum Converted {
  UTF8 = 0,
  LIST = 3,
  UINT_8 = 11,
  UINT_16 = 12,
  UINT_32 = 13,
  UINT_64 = 14,
  INT_8 = 15,
  INT_16 = 16,
}

export type Logical = { kind: 'string' } | { kind: 'list' } | { kind: 'int'; bitWidth: number; signed: boolean };

export interface SchemaElement {
  name: string;
  type?: PhysicalType;
  repetition?: Repetition;
  numChildren?: number;
  converted?: Converted;
  logical?: Logical;
}

export interface Statistics {
  nullCount: number;
  min?: Uint8Array;
  max?: Uint8Array;
  /** Also write the deprecated min/max fields (as arrow-rs does for signed sort orders: signed ints, floats). */
  signed?: boolean;
}

export interface ColumnMetaData {
  type: PhysicalType;
  encodings: Enc[];
  path: string[];
  codec: Codec;
  numValues: number;
  uncompressed: number;
  compressed: number;
  dataPageOffset: number;
  statistics?: Statistics;
}

export interface RowGroup {
  columns: ColumnMetaData[];
  totalByteSize: number;
  numRows: number;
  fileOffset: number;
  totalCompressedSize: number;
  ordinal: number;
}

export interface FileMetaData {
  schema: SchemaElement[];
  numRows: number;
  rowGroups: RowGroup[];
  keyValue: [string, string][];
  createdBy: string;
  leafCount: number;
}

export interface DataPageHeader {
  uncompressed: number;
  compressed: number;
  numValues: number;
  encoding: Enc;
  statistics?: Statistics;
}

function writeStatistics(w: CompactWriter, id: number, s: Statistics): void {
  w.beginStruct(id);
  if (s.signed === true && s.max !== undefined && s.min !== undefined) {
    w.binary(1, s.max);
    w.binary(2, s.min);
  }
  w.i64(3, s.nullCount);
  if (s.max !== undefined && s.min !== undefined) {
    w.binary(5, s.max);
    w.binary(6, s.min);
    w.bool(7, true);
    w.bool(8, true);
  }
  w.endStruct();
}

/** Writes a PageHeader of a v1 DATA_PAGE whose levels are RLE. */
export function writeDataPageHeader(w: CompactWriter, h: DataPageHeader): void {
  w.beginStruct();
  w.i32(1, 0); // DATA_PAGE
  w.i32(2, h.uncompressed);
  w.i32(3, h.compressed);
  w.beginStruct(5);
  w.i32(1, h.numValues);
  w.i32(2, h.encoding);
  w.i32(3, Enc.RLE);
  w.i32(4, Enc.RLE);
  if (h.statistics !== undefined) writeStatistics(w, 5, h.statistics);
  w.endStruct();
  w.endStruct();
}

function writeSchemaElement(w: CompactWriter, e: SchemaElement): void {
  w.beginStruct();
  if (e.type !== undefined) w.i32(1, e.type);
  if (e.repetition !== undefined) w.i32(3, e.repetition);
  w.string(4, e.name);
  if (e.numChildren !== undefined) w.i32(5, e.numChildren);
  if (e.converted !== undefined) w.i32(6, e.converted);
  if (e.logical !== undefined) {
    w.beginStruct(10);
    if (e.logical.kind === 'string') {
      w.beginStruct(1);
      w.endStruct();
    } else if (e.logical.kind === 'list') {
      w.beginStruct(3);
      w.endStruct();
    } else {
      w.beginStruct(10);
      w.i8(1, e.logical.bitWidth);
      w.bool(2, e.logical.signed);
      w.endStruct();
    }
    w.endStruct();
  }
  w.endStruct();
}

function writeColumnChunk(w: CompactWriter, c: ColumnMetaData): void {
  w.beginStruct();
  w.i64(2, c.dataPageOffset); // file_offset (deprecated): the chunk's first page
  w.beginStruct(3);
  w.i32(1, c.type);
  w.list(2, CT.I32, c.encodings.length);
  for (const e of c.encodings) w.elemI32(e);
  w.list(3, CT.BINARY, c.path.length);
  for (const p of c.path) w.elemString(p);
  w.i32(4, c.codec);
  w.i64(5, c.numValues);
  w.i64(6, c.uncompressed);
  w.i64(7, c.compressed);
  w.i64(9, c.dataPageOffset);
  if (c.statistics !== undefined) writeStatistics(w, 12, c.statistics);
  w.endStruct();
  w.endStruct();
}

/** Writes FileMetaData (version 1, TYPE_ORDER column orders for every leaf). */
export function writeFileMetaData(w: CompactWriter, m: FileMetaData): void {
  w.beginStruct();
  w.i32(1, 1);
  w.list(2, CT.STRUCT, m.schema.length);
  for (const e of m.schema) writeSchemaElement(w, e);
  w.i64(3, m.numRows);
  w.list(4, CT.STRUCT, m.rowGroups.length);
  for (const rg of m.rowGroups) {
    w.beginStruct();
    w.list(1, CT.STRUCT, rg.columns.length);
    for (const c of rg.columns) writeColumnChunk(w, c);
    w.i64(2, rg.totalByteSize);
    w.i64(3, rg.numRows);
    w.i64(5, rg.fileOffset);
    w.i64(6, rg.totalCompressedSize);
    w.i16(7, rg.ordinal);
    w.endStruct();
  }
  if (m.keyValue.length > 0) {
    w.list(5, CT.STRUCT, m.keyValue.length);
    for (const [k, v] of m.keyValue) {
      w.beginStruct();
      w.string(1, k);
      w.string(2, v);
      w.endStruct();
    }
  }
  w.string(6, m.createdBy);
  w.list(7, CT.STRUCT, m.leafCount);
  for (let i = 0; i < m.leafCount; i++) {
    w.beginStruct(); // ColumnOrder union
    w.beginStruct(1); // TYPE_ORDER
    w.endStruct();
    w.endStruct();
  }
  w.endStruct();
}
