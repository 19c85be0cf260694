/**
 * A dataset file's footer, read from its last bytes only: the 8-byte trailer (footer length, "PAR1") says
 * how long the footer is, that length is checked against the file's size before anything is allocated from
 * it, then the footer itself is read (on S3: two or three ranged GETs, whatever the file's size). From it:
 * the row counts and column chunks (parquet/footer.ts), the `desi_qad` metadata, and the Arrow schema
 * (parquet-wasm reads it from the same bytes), which carries the logical types the physical ones lack.
 */
import { tableFromIPC, type Schema } from 'apache-arrow';
import { readSchema } from 'parquet-wasm';
import { FOOTER_KEY, type FooterInfo } from '../desi/schema.js';
import type { ByteSource } from '../fits/source.js';
import { readParquetFooter, type ParquetFooter } from '../parquet/footer.js';

/** The file is not a complete Parquet file of the dataset's kind: a `bad-footer` finding, not a failure to read. */
export class FooterProblem extends Error {
  override name = 'FooterProblem';
}

/** What verify needs from a file's footer. */
export interface FileFooter {
  footer: ParquetFooter;
  /** The `desi_qad` JSON document (its fields unchecked: verify compares them). */
  info: Partial<FooterInfo>;
  schema: Schema;
}

/** Footers longer than this are refused before they are read: ours are a few hundred KB (the wavelength grids). */
export const MAX_FOOTER_BYTES = 64 * 1024 * 1024;

const MAGIC = [0x50, 0x41, 0x52, 0x31]; // "PAR1"

function isMagic(b: Uint8Array, at: number): boolean {
  return MAGIC.every((m, i) => b[at + i] === m);
}

/** Reads and decodes the footer of `file`; throws FooterProblem when the bytes are not a Parquet file's. */
export async function readFileFooter(file: ByteSource): Promise<FileFooter> {
  const size = file.byteLength;
  if (size < 12) throw new FooterProblem(`only ${size} bytes: not a Parquet file`);
  const head = await file.slice(0, 4);
  if (!isMagic(head, 0)) throw new FooterProblem('does not start with PAR1: not a Parquet file');
  const trailer = await file.slice(size - 8, size);
  if (!isMagic(trailer, 4)) throw new FooterProblem('does not end with PAR1: not a complete Parquet file (truncated?)');
  const len = new DataView(trailer.buffer, trailer.byteOffset, 8).getUint32(0, true);
  if (len > size - 12) throw new FooterProblem(`its footer length ${len} does not fit in ${size} bytes (not a complete Parquet file)`);
  if (len > MAX_FOOTER_BYTES) throw new FooterProblem(`its footer length ${len} is over ${MAX_FOOTER_BYTES} bytes`);
  const body = await file.slice(size - 8 - len, size - 8);
  // Both readers want a whole file; the footer and its trailer are all they read, so a stand-in head will do.
  const bytes = new Uint8Array(4 + len + 8);
  bytes.set(MAGIC, 0);
  bytes.set(body, 4);
  bytes.set(trailer, 4 + len);
  let footer: ParquetFooter;
  try {
    footer = readParquetFooter(bytes);
  } catch (err) {
    throw new FooterProblem(`its footer does not parse: ${(err as Error).message}`);
  }
  let schema: Schema;
  try {
    schema = tableFromIPC(readSchema(bytes).intoIPCStream()).schema;
  } catch (err) {
    throw new FooterProblem(`its schema does not parse: ${err instanceof Error ? err.message : String(err)}`);
  }
  const text = footer.keyValue.get(FOOTER_KEY);
  if (text === undefined || text === null) throw new FooterProblem(`its footer has no ${FOOTER_KEY} metadata: not a desi-qad file`);
  let info: unknown;
  try {
    info = JSON.parse(text);
  } catch (err) {
    throw new FooterProblem(`its ${FOOTER_KEY} metadata is not JSON: ${(err as Error).message}`);
  }
  if (info === null || typeof info !== 'object' || Array.isArray(info)) throw new FooterProblem(`its ${FOOTER_KEY} metadata is not a JSON object`);
  const rowGroupRows = footer.rowGroups.reduce((n, g) => n + g.numRows, 0);
  if (footer.numRows < 0 || rowGroupRows !== footer.numRows)
    throw new FooterProblem(`its footer says ${footer.numRows} rows but its row groups hold ${rowGroupRows}`);
  return { footer, info, schema };
}
