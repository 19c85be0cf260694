/** Arrow tables from decoded typed arrays, and Parquet bytes from Arrow tables. */
export { arrowType, buildTable, LIST_ELEMENT_NAME } from './arrow-table.js';
export type { ColumnSpec, FieldMetadata, ListElementType, ScalarArray, ScalarType } from './arrow-table.js';
export { DEFAULT_ROW_GROUP_ROWS, encodeParquet, encodeParquetStream, MAX_ENCODE_BYTES, planEncodings, STREAM_CHUNK_BYTES, tableByteLength } from './encode.js';
export type { EncodeOptions, EncodingPlan, LeafStrategy } from './encode.js';
export { readParquetFooter } from './footer.js';
export type { FooterColumnChunk, ParquetFooter } from './footer.js';
