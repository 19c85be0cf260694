/**
 * The catalog columns of one dataset file, and nothing else: parquet-wasm's ParquetFile over a ranged view
 * of the file (report/read.ts's blobOf) reads the footer, then only the column chunks asked for. The
 * spectra (B_FLUX ... Z_MASK, nearly all of a file's bytes) are never fetched.
 */
import { tableFromIPC, type Vector } from 'apache-arrow';
import { ParquetFile, type Schema } from 'parquet-wasm';
import type { ByteSource } from '../fits/source.js';
import { blobOf } from '../report/read.js';

/** The columns the catalog copies from each file, when the file has them (TSNR2_LRG: later versions only). */
export const COPIED_COLUMNS = [
  'TARGETID',
  'SURVEY',
  'PROGRAM',
  'HEALPIX',
  'TARGET_RA',
  'TARGET_DEC',
  'Z',
  'ZERR',
  'ZWARN',
  'CHI2',
  'DELTACHI2',
  'SPECTYPE',
  'SUBTYPE',
  'TSNR2_LRG',
] as const;

export type CopiedColumn = (typeof COPIED_COLUMNS)[number];

/** Columns a file must have: without them no row can be ranked or placed. */
const REQUIRED: readonly CopiedColumn[] = ['TARGETID', 'ZWARN'];

/** One file's catalog columns: those it has, by name, each `rows` long. */
export interface FileColumns {
  rows: number;
  columns: Map<CopiedColumn, Vector>;
}

/** A file that lacks a required column or cannot be decoded: the message names the file. */
export class CatalogReadError extends Error {
  override name = 'CatalogReadError';
}

/** Reads the copied columns `src` has (a projection: footer and those column chunks only). */
export async function readCatalogColumns(src: ByteSource): Promise<FileColumns> {
  let file: ParquetFile;
  try {
    file = await ParquetFile.fromFile(blobOf(src));
  } catch (err) {
    throw new CatalogReadError(`${src.name}: not a readable Parquet file (${errorText(err)})`);
  }
  try {
    // The schema is asked by name (Schema.indexOf), not decoded whole through Arrow IPC: a file has ~100 columns,
    // and decoding them all was most of the catalog's time (25 files: 83 of 124 ms of the main thread).
    const wasmSchema = file.schema();
    let present: CopiedColumn[];
    try {
      present = COPIED_COLUMNS.filter((c) => hasField(wasmSchema, c));
    } finally {
      wasmSchema.free();
    }
    const missing = REQUIRED.filter((c) => !present.includes(c));
    if (missing.length > 0) throw new CatalogReadError(`${src.name}: no ${missing.join(', ')} column: not a file of a desi-qad dataset`);
    let table;
    try {
      const wasmTable = await file.read({ columns: [...present] });
      table = tableFromIPC(wasmTable.intoIPCStream());
    } catch (err) {
      throw new CatalogReadError(`${src.name}: its catalog columns cannot be read (${errorText(err)})`);
    }
    const columns = new Map<CopiedColumn, Vector>();
    for (const c of present) {
      const v = table.getChild(c);
      if (v) columns.set(c, v);
    }
    return { rows: table.numRows, columns };
  } finally {
    file.free();
  }
}

/** Whether the schema has a top-level field `name` (parquet-wasm's indexOf throws for a missing one). */
function hasField(schema: Schema, name: string): boolean {
  try {
    return schema.indexOf(name) >= 0;
  } catch {
    return false;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
