/**
 * Parquet bytes from an Arrow table. Default: desi-qad's own writer (src/parquet/writer/, see write.ts
 * for why: parquet-wasm caps the worker's rate), with the same schema, encodings, codec, statistics and
 * key-value metadata (ARROW:schema included) as the parquet-wasm path below, and the same values.
 * DESI_QAD_PARQUET_WRITER=wasm selects parquet-wasm; so does a table or setting the own writer does not
 * take (snappy, sliced Arrow data, nullable list elements), and a missing zstd-napi (one warning).
 *
 * The parquet-wasm path, through parquet-wasm 0.8.0 (arrow-rs 59 compiled to WebAssembly):
 *
 * Path: arrow JS table -> Arrow IPC *stream* bytes -> parquet-wasm Table (WASM heap) -> Parquet.
 * (The IPC *file* format fails in parquet-wasm with "failed to fill whole buffer".)
 *
 * Writer settings: ZSTD (level 1: parquet-wasm 0.8.0 exposes no level), no dictionary on top-level
 * columns, page-level statistics on top-level columns only (none on list leaves: min/max of spectra prune nothing, and writing them cost ~10 % of the encode), Parquet 1.0 data pages, and BYTE_STREAM_SPLIT for
 * floating-point values wherever parquet-wasm can be made to write it readably -- see
 * {@link planEncodings}. Footer key-value metadata = the caller's `metadata` plus arrow-rs's
 * "ARROW:schema" entry, so Arrow readers get the exact Arrow types back (uint32 lists, ...).
 * Every file is checked after writing by decoding its footer (row count; no BYTE_STREAM_SPLIT on a
 * non-float leaf, which DuckDB refuses).
 *
 * WASM memory: the heap grows to the high-water mark of the largest call and never shrinks (4 GiB cap).
 * `encodeParquet` holds the IPC copy, the parsed table and the output in the heap at once (measured:
 * about 2x the table's raw bytes; 764 MB raw -> 1460 MiB heap and 3.4 GiB RSS), so it refuses tables
 * above {@link MAX_ENCODE_BYTES}. `encodeParquetStream` feeds the table in slices of at most
 * {@link STREAM_CHUNK_BYTES}, one row group each, and keeps the heap at about 4x that whatever the table
 * size (measured: 764 MB raw -> 261 MiB heap), at the same speed: workers should use it.
 */
import { DataType, Precision, type Table, tableToIPC } from 'apache-arrow';
import {
  Compression,
  EnabledStatistics,
  Encoding,
  Table as WasmTable,
  transformParquetStream,
  type WriterProperties,
  WriterPropertiesBuilder,
  writeParquet,
} from 'parquet-wasm';
import { type ParquetFooter, readParquetFooter } from './footer.js';
import { Codec } from './writer/metadata.js';
import { unsupportedReason, writeParquetFile } from './writer/write.js';
import { loadZstd } from './writer/zstd.js';

export interface EncodeOptions {
  /** Page compression codec; default 'zstd'. */
  compression?: 'zstd' | 'snappy' | 'none';
  /** ZSTD level. parquet-wasm 0.8.0 always writes level 1, so only 1 (or undefined) is accepted. */
  zstdLevel?: number;
  /** Maximum rows per row group; default {@link DEFAULT_ROW_GROUP_ROWS}. */
  rowGroupRows?: number;
}

/** Default maximum rows per row group: a DESI tile's selected rows (a few thousand at most) fit in one. */
export const DEFAULT_ROW_GROUP_ROWS = 16_384;

/**
 * Largest table (sum of its Arrow buffers) one synchronous {@link encodeParquet} call accepts: 256 MiB,
 * which grows the WASM heap to about 0.6 GiB for good. (One call at about 1.3 GB raw has been seen to
 * die with `RuntimeError: unreachable`.) One DESI row of B+R+Z flux, ivar and mask is about 95 KB, so
 * this is about 2,800 spectra; {@link encodeParquetStream} has no such limit.
 */
export const MAX_ENCODE_BYTES = 256 * 2 ** 20;

/** Raw bytes per slice (and row group) that {@link encodeParquetStream} hands to WASM at a time. */
export const STREAM_CHUNK_BYTES = 64 * 2 ** 20;

/**
 * How list leaves are encoded (top-level columns always get PLAIN, or BYTE_STREAM_SPLIT if float):
 * - 'split': no dictionary; writer default BYTE_STREAM_SPLIT. Needs every list leaf to be float.
 * - 'split-after-dictionary': writer-wide dictionary with a small page limit and BYTE_STREAM_SPLIT
 *   as its fallback. Integer leaves (masks) have few distinct values and stay RLE_DICTIONARY; float
 *   leaves overflow the small dictionary with their first spectrum (arrow-rs checks after each
 *   mini-batch, which for lists ends on a row boundary) and continue as BYTE_STREAM_SPLIT. So each
 *   float leaf has one small dictionary page and its first row or two dictionary-encoded; a row group
 *   of a single row stays all dictionary.
 * - 'plain': no dictionary; writer default PLAIN, so float list leaves are PLAIN too.
 */
export type LeafStrategy = 'split' | 'split-after-dictionary' | 'plain';

/** What we ask parquet-wasm for. */
export interface EncodingPlan {
  strategy: LeafStrategy;
  /** Writer-wide encoding: the only one that reaches list leaves (as the dictionary fallback if on). */
  defaultEncoding: 'PLAIN' | 'BYTE_STREAM_SPLIT';
  /** Set when the writer-wide dictionary is on ('split-after-dictionary'): its page size limit in bytes. */
  dictionaryPageSizeLimit: number | undefined;
  /** Every top-level non-list column with its encoding; dictionary is turned off for each. */
  columns: Record<string, 'PLAIN' | 'BYTE_STREAM_SPLIT'>;
}

const MIN_DICTIONARY_PAGE = 8 * 1024;
const MAX_DICTIONARY_PAGE = 1024 * 1024;

/**
 * Returns the encodings to request for `table`, choosing the leaf strategy from its data unless
 * `strategy` is given.
 *
 * Why the strategies: parquet-wasm 0.8.0 turns a column name into arrow-rs's `ColumnPath::from(String)`,
 * a path of ONE part, so "B_FLUX.list.element" never matches the leaf ["B_FLUX","list","element"]
 * (measured: silently ignored); per-column settings reach top-level columns only, and list leaves get
 * the writer-wide settings. A writer-wide BYTE_STREAM_SPLIT also lands on integer leaves (arrow-rs writes
 * it for INT32/INT64, Parquet format 2.11), and DuckDB 1.5 refuses such a file: "BYTE_STREAM_SPLIT
 * encoding is only supported for FLOAT or DOUBLE data". With integer list columns present (the *_MASK
 * spectra), 'split-after-dictionary' keeps them off BYTE_STREAM_SPLIT as long as their distinct values
 * fit in the dictionary page: arrow-rs falls back only once the dictionary's plain size reaches the page
 * limit, so the limit is set to at least twice the largest integer leaf's distinct values x value size
 * (8 KiB..1 MiB). An integer leaf with more distinct values than that gets 'plain'.
 * Measured on 1,000 synthetic DESI rows (95.5 MB raw, ZSTD): 'plain' 58.5 MB, 'split-after-dictionary'
 * 51.8 MB (and its encode takes about 25% less time).
 */
export function planEncodings(table: Table, strategy?: LeafStrategy): EncodingPlan {
  const columns: Record<string, 'PLAIN' | 'BYTE_STREAM_SPLIT'> = {};
  const intLeaves: { index: number; bytes: number }[] = [];
  table.schema.fields.forEach((f, index) => {
    const type = f.type as DataType; // a Table<any>'s fields are typed any
    if (DataType.isList(type)) {
      const leaf = type.children[0].type as DataType;
      if (isSplittableFloat(leaf)) return;
      if (!DataType.isInt(leaf)) throw new TypeError(`encodeParquet: list column ${f.name} has unsupported element type ${String(leaf)}`);
      intLeaves.push({ index, bytes: leaf.bitWidth / 8 });
      return;
    }
    if (
      DataType.isStruct(type) ||
      DataType.isMap(type) ||
      DataType.isFixedSizeList(type) ||
      DataType.isLargeList(type) ||
      DataType.isUnion(type) ||
      DataType.isDictionary(type)
    ) {
      throw new TypeError(`encodeParquet: column ${f.name} of type ${String(type)} is not supported`);
    }
    columns[f.name] = isSplittableFloat(type) ? 'BYTE_STREAM_SPLIT' : 'PLAIN';
  });

  let dictionaryPageSizeLimit: number | undefined;
  if (strategy === undefined) {
    strategy = intLeaves.length === 0 ? 'split' : 'split-after-dictionary';
    if (strategy === 'split-after-dictionary') {
      let needed = 0;
      for (const { index, bytes } of intLeaves) {
        const cap = Math.floor(MAX_DICTIONARY_PAGE / 2 / bytes);
        needed = Math.max(needed, 2 * bytes * countDistinctLeafValues(table, index, cap));
        if (needed > MAX_DICTIONARY_PAGE) break;
      }
      if (needed > MAX_DICTIONARY_PAGE) strategy = 'plain';
      else dictionaryPageSizeLimit = Math.max(MIN_DICTIONARY_PAGE, 2 ** Math.ceil(Math.log2(Math.max(needed, 1))));
    }
  } else if (strategy === 'split' && intLeaves.length > 0) {
    throw new TypeError("encodeParquet: strategy 'split' would write BYTE_STREAM_SPLIT on integer list leaves");
  } else if (strategy === 'split-after-dictionary') {
    dictionaryPageSizeLimit = MAX_DICTIONARY_PAGE;
  }
  return {
    strategy,
    defaultEncoding: strategy === 'plain' ? 'PLAIN' : 'BYTE_STREAM_SPLIT',
    dictionaryPageSizeLimit,
    columns,
  };
}

function isSplittableFloat(type: DataType): boolean {
  return DataType.isFloat(type) && type.precision !== Precision.HALF; // float32/float64; float16 is FIXED_LEN_BYTE_ARRAY
}

/** Returns the number of distinct values in the leaf of list column `index`, or cap+1 once above `cap`. */
function countDistinctLeafValues(table: Table, index: number, cap: number): number {
  const seen = new Set<number | bigint>();
  for (const batch of table.data) {
    const list = batch.children[index];
    const child = list.children[0];
    const offsets = list.valueOffsets as Int32Array;
    const start = child.offset + offsets[list.offset];
    const end = child.offset + offsets[list.offset + list.length];
    const values = child.values as ArrayBufferView & ArrayLike<number | bigint>;
    // 32-bit leaves are counted through one Int32Array view (a bijection, so the same count): a loop over a
    // single typed-array class stays monomorphic, where one over the leaf's own class (Uint32Array,
    // Int32Array, ...) took about 5 % of the encode on masks.
    const n =
      values instanceof Int32Array || values instanceof Uint32Array ? countInt32(values, start, end, seen, cap) : countAny(values, start, end, seen, cap);
    if (n > cap) return cap + 1;
  }
  return seen.size;
}

/** Adds the values [start, end) of a 32-bit integer array to `seen`; returns its size, or cap+1 once above cap. */
function countInt32(values: ArrayBufferView, start: number, end: number, seen: Set<number | bigint>, cap: number): number {
  const v = new Int32Array(values.buffer, values.byteOffset + 4 * start, end - start);
  if (v.length === 0) return seen.size;
  let previous = v[0];
  seen.add(previous);
  if (seen.size > cap) return cap + 1;
  for (const x of v) {
    if (x === previous) continue; // masks are long runs of 0
    previous = x;
    seen.add(x);
    if (seen.size > cap) return cap + 1;
  }
  return seen.size;
}

/** countInt32 for any other integer leaf (64-bit: bigint values). */
function countAny(values: ArrayLike<number | bigint>, start: number, end: number, seen: Set<number | bigint>, cap: number): number {
  let previous: number | bigint | undefined;
  for (let i = start; i < end; i++) {
    const x = values[i];
    if (x === previous) continue;
    previous = x;
    seen.add(x);
    if (seen.size > cap) return cap + 1;
  }
  return seen.size;
}

/** Returns the sum of the byte lengths of every Arrow buffer in `table` (the "raw" size we budget on). */
export function tableByteLength(table: Table): number {
  let n = 0;
  for (const data of table.data) n += data.byteLength;
  return n;
}

/** The writer encodeParquet and encodeParquetStream use: 'own' unless DESI_QAD_PARQUET_WRITER=wasm. */
export function parquetWriterName(): 'own' | 'wasm' {
  const v = process.env.DESI_QAD_PARQUET_WRITER;
  if (v === undefined || v === '' || v === 'own') return 'own';
  if (v === 'wasm') return 'wasm';
  throw new RangeError(`DESI_QAD_PARQUET_WRITER must be "own" or "wasm", got ${JSON.stringify(v)}`);
}

const warned = new Set<string>();
function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  process.emitWarning(message, { code: 'DESI_QAD_PARQUET_WRITER' });
}

/** ARROW:schema values by schema, taken from a zero-row parquet-wasm file so they are arrow-rs's exact bytes. */
const arrowSchemaCache = new Map<string, string>();

function schemaKey(table: Table): string {
  const field = (f: { name: string; nullable: boolean; type: DataType; metadata: Map<string, string> }): unknown => [
    f.name,
    f.nullable,
    String(f.type),
    [...f.metadata],
    (f.type.children ?? []).map((c) => field(c as never)),
  ];
  return JSON.stringify(table.schema.fields.map((f) => field(f as never)));
}

function arrowSchemaValue(table: Table): string {
  const key = schemaKey(table);
  let v = arrowSchemaCache.get(key);
  if (v === undefined) {
    const empty = writeOnce(tableToIPC(table.slice(0, 0), 'stream'), planEncodings(table.slice(0, 0)), settingsOf({}, {}), 1);
    const got = readParquetFooter(empty).keyValue.get('ARROW:schema');
    if (typeof got !== 'string') throw new Error('parquet-wasm wrote no ARROW:schema entry for an empty table');
    v = got;
    if (arrowSchemaCache.size > 64) arrowSchemaCache.clear();
    arrowSchemaCache.set(key, v);
  }
  return v;
}

/** Returns the file from the own writer, or undefined when parquet-wasm must write it (reason warned once). */
function encodeOwn(table: Table, settings: Settings, rowGroupRows: number): Uint8Array | undefined {
  if (parquetWriterName() === 'wasm') return undefined;
  if (settings.codecName !== 'ZSTD' && settings.codecName !== 'UNCOMPRESSED') return undefined;
  let zstd;
  if (settings.codecName === 'ZSTD') {
    const z = loadZstd();
    if ('error' in z) {
      warnOnce(`${z.error}: Parquet files are written by parquet-wasm instead (slower, same values)`);
      return undefined;
    }
    zstd = z;
  }
  const reason = unsupportedReason(table);
  if (reason !== undefined) {
    warnOnce(`${reason}: this table is written by parquet-wasm instead`);
    return undefined;
  }
  const keyValue: [string, string][] = [...settings.kv, ['ARROW:schema', arrowSchemaValue(table)]];
  const out = writeParquetFile(table, {
    compression: { codec: zstd ? Codec.ZSTD : Codec.UNCOMPRESSED, level: 1, zstd },
    rowGroupRows,
    keyValue,
    createdBy: OWN_CREATED_BY,
  });
  checkFooter(readParquetFooter(out), table.numRows, settings);
  return out;
}

/** created_by of the own writer's files. */
export const OWN_CREATED_BY = 'desi-qad parquet writer 1 (src/parquet/writer)';

interface Settings {
  compression: Compression;
  codecName: string;
  rowGroupRows: number;
  kv: Map<string, string>;
}

/**
 * Returns the bytes of a complete Parquet file holding `table`, with `metadata` in the footer
 * key-value metadata, written by one synchronous parquet-wasm call (settings: module comment and
 * {@link planEncodings}). A zero-row table gives a valid file with the schema and no row group.
 * The result owns its whole ArrayBuffer (byteOffset 0), so a worker can transfer `result.buffer`.
 * Throws RangeError above {@link MAX_ENCODE_BYTES} (use {@link encodeParquetStream}) or on bad options,
 * TypeError on unsupported column types or the reserved metadata key "ARROW:schema", Error if the
 * written footer fails its check. Every WASM object created here is released, also on error.
 */
export function encodeParquet(table: Table, metadata: Record<string, string>, opts: EncodeOptions = {}): Uint8Array {
  const rawBytes = tableByteLength(table);
  if (rawBytes > MAX_ENCODE_BYTES) {
    throw new RangeError(
      `encodeParquet: table of ${table.numRows} rows holds ${(rawBytes / 2 ** 20).toFixed(0)} MiB, above the ` +
        `${MAX_ENCODE_BYTES / 2 ** 20} MiB one parquet-wasm call may take (its WASM heap tops out at 4 GiB and ` +
        'never shrinks); use encodeParquetStream, or split the rows into several files',
    );
  }
  const settings = settingsOf(metadata, opts);
  const own = encodeOwn(table, settings, settings.rowGroupRows);
  if (own !== undefined) return own;
  let plan = planEncodings(table);
  const ipc = tableToIPC(table, 'stream');
  let out = writeOnce(ipc, plan, settings, settings.rowGroupRows);
  if (checkFooter(readParquetFooter(out), table.numRows, settings) === 'integer-split' && plan.strategy !== 'plain') {
    plan = planEncodings(table, 'plain');
    out = writeOnce(ipc, plan, settings, settings.rowGroupRows);
    if (checkFooter(readParquetFooter(out), table.numRows, settings) !== undefined) throw new Error(INTEGER_SPLIT_AFTER_PLAIN);
  }
  return out;
}

const INTEGER_SPLIT_AFTER_PLAIN = 'Parquet writer put BYTE_STREAM_SPLIT on an integer column even with a PLAIN default';

/** Returns Parquet bytes from one writeParquet call; frees (or hands over) every WASM object. */
function writeOnce(ipc: Uint8Array, plan: EncodingPlan, settings: Settings, rowGroupRows: number): Uint8Array {
  let props: WriterProperties | undefined;
  let wasmTable: WasmTable | undefined;
  try {
    props = writerProperties(plan, settings, rowGroupRows);
    wasmTable = WasmTable.fromIPCStream(ipc);
    const p = props;
    const t = wasmTable;
    props = undefined; // writeParquet consumes both, even when it throws: free() afterwards would throw
    wasmTable = undefined;
    return writeParquet(t, p);
  } finally {
    wasmTable?.free();
    props?.free();
  }
}

/**
 * Returns the same bytes-on-disk format as {@link encodeParquet}, for tables of any size: the table is
 * handed to parquet-wasm's streaming writer (transformParquetStream) in slices of at most
 * {@link STREAM_CHUNK_BYTES} (and `rowGroupRows` rows), one row group per slice, each slice's WASM table
 * freed as soon as its record batches are queued, and the output collected in JS memory. The WASM heap
 * stays at a few times the slice size. parquet-wasm's streaming writer ignores write errors, so the
 * footer's row count is checked against the table. A zero-row table goes through encodeParquet.
 */
export async function encodeParquetStream(table: Table, metadata: Record<string, string>, opts: EncodeOptions = {}): Promise<Uint8Array> {
  const settings = settingsOf(metadata, opts);
  const rows = table.numRows;
  if (rows === 0) return encodeParquet(table, metadata, opts);
  const rawBytes = tableByteLength(table);
  // A table that fits in one slice is one row group either way, and writeParquet writes the same bytes as the
  // streaming writer (checked on the bench's 40 tiles) without its per-batch stream round trips.
  if (rows <= settings.rowGroupRows && rawBytes <= STREAM_CHUNK_BYTES) return encodeParquet(table, metadata, opts);
  const chunkRows = Math.max(1, Math.min(settings.rowGroupRows, Math.floor(STREAM_CHUNK_BYTES / (rawBytes / rows))));
  const own = encodeOwn(table, settings, chunkRows);
  if (own !== undefined) return own;
  let plan = planEncodings(table);
  let out = await streamOnce(table, plan, settings, chunkRows);
  if (checkFooter(readParquetFooter(out), rows, settings) === 'integer-split' && plan.strategy !== 'plain') {
    plan = planEncodings(table, 'plain');
    out = await streamOnce(table, plan, settings, chunkRows);
    if (checkFooter(readParquetFooter(out), rows, settings) !== undefined) throw new Error(INTEGER_SPLIT_AFTER_PLAIN);
  }
  return out;
}

async function streamOnce(table: Table, plan: EncodingPlan, settings: Settings, chunkRows: number): Promise<Uint8Array> {
  const rows = table.numRows;
  let start = 0;
  let sliceError: unknown;
  const batches = new ReadableStream<unknown>(
    {
      pull(controller) {
        if (start >= rows) {
          controller.close();
          return;
        }
        const end = Math.min(rows, start + chunkRows);
        let wasmTable: WasmTable | undefined;
        try {
          wasmTable = WasmTable.fromIPCStream(tableToIPC(table.slice(start, end), 'stream'));
          for (const batch of wasmTable.recordBatches()) controller.enqueue(batch);
        } catch (e) {
          sliceError = e;
          controller.error(e);
        } finally {
          wasmTable?.free(); // the queued batches keep their (shared) buffers alive
        }
        start = end;
      },
    },
    { highWaterMark: 0 },
  );
  let props: WriterProperties | undefined = writerProperties(plan, settings, chunkRows);
  let output: ReadableStream<Uint8Array>;
  try {
    const p = props;
    props = undefined; // consumed by transformParquetStream
    output = (await transformParquetStream(batches, p)) as ReadableStream<Uint8Array>;
  } catch (e) {
    throw sliceError ?? e;
  } finally {
    props?.free();
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const part of output as unknown as AsyncIterable<Uint8Array>) {
    parts.push(part);
    total += part.byteLength;
  }
  if (sliceError !== undefined) throw sliceError as unknown; // what the slice threw, an Error or not
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** Returns WriterProperties for `plan`; each builder method consumes its receiver, and build() too. */
function writerProperties(plan: EncodingPlan, settings: Settings, rowGroupRows: number): WriterProperties {
  // There is never more than one live builder, and a throwing setter has already consumed it.
  // Statistics: page level on every top-level column (the columns a query filters on); none on list leaves
  // (spectra), whose min/max prune nothing and cost about 8 % of the encode (bench/encode-variants.ts).
  // Writer-wide settings are the only ones that reach list leaves (see planEncodings), so the writer-wide
  // level is None and each top-level column gets Page by name.
  let b = new WriterPropertiesBuilder()
    .setCompression(settings.compression)
    .setStatisticsEnabled(EnabledStatistics.None)
    .setMaxRowGroupSize(rowGroupRows)
    .setEncoding(Encoding[plan.defaultEncoding]);
  if (plan.dictionaryPageSizeLimit !== undefined) {
    b = b.setDictionaryEnabled(true).setDictionaryPageSizeLimit(plan.dictionaryPageSizeLimit);
  } else {
    b = b.setDictionaryEnabled(false);
  }
  for (const [name, enc] of Object.entries(plan.columns)) {
    b = b.setColumnDictionaryEnabled(name, false).setColumnEncoding(name, Encoding[enc]).setColumnStatisticsEnabled(name, EnabledStatistics.Page);
  }
  if (settings.kv.size > 0) b = b.setKeyValueMetadata(settings.kv);
  return b.build();
}

/**
 * Returns 'integer-split' if a non-float column chunk got BYTE_STREAM_SPLIT (readable by arrow-rs but
 * not by DuckDB; the caller re-encodes with 'plain'), undefined if the footer is as asked; throws on a
 * wrong row count or codec, which means parquet-wasm lost data.
 */
function checkFooter(footer: ParquetFooter, rows: number, settings: Settings): 'integer-split' | undefined {
  if (footer.numRows !== rows) throw new Error(`Parquet writer lost rows: footer says ${footer.numRows}, table has ${rows}`);
  let sum = 0;
  let integerSplit = false;
  for (const rg of footer.rowGroups) {
    sum += rg.numRows;
    for (const c of rg.columns) {
      if (c.codec !== settings.codecName) throw new Error(`Parquet writer used ${c.codec} on ${c.path.join('.')}, asked ${settings.codecName}`);
      if (c.encodings.includes('BYTE_STREAM_SPLIT') && c.physicalType !== 'FLOAT' && c.physicalType !== 'DOUBLE') integerSplit = true;
    }
  }
  if (sum !== rows) throw new Error(`Parquet writer lost rows: row groups hold ${sum}, table has ${rows}`);
  return integerSplit ? 'integer-split' : undefined;
}

function settingsOf(metadata: Record<string, string>, opts: EncodeOptions): Settings {
  const c = opts.compression ?? 'zstd';
  if (opts.zstdLevel !== undefined && opts.zstdLevel !== 1) {
    throw new RangeError(`encodeParquet: zstdLevel ${opts.zstdLevel} is not available: parquet-wasm 0.8.0 always writes ZSTD level 1`);
  }
  let compression: Compression;
  let codecName: string;
  switch (c) {
    case 'zstd':
      compression = Compression.ZSTD;
      codecName = 'ZSTD';
      break;
    case 'snappy':
      compression = Compression.SNAPPY;
      codecName = 'SNAPPY';
      break;
    case 'none':
      compression = Compression.UNCOMPRESSED;
      codecName = 'UNCOMPRESSED';
      break;
    default:
      throw new RangeError(`encodeParquet: unknown compression ${String(c)}`);
  }
  const rowGroupRows = opts.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS;
  if (!Number.isSafeInteger(rowGroupRows) || rowGroupRows < 1) {
    throw new RangeError(`encodeParquet: rowGroupRows must be a positive integer, got ${rowGroupRows}`);
  }
  const kv = new Map<string, string>();
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new TypeError(`encodeParquet: metadata value of ${k} is not a string`);
    if (k === 'ARROW:schema') throw new TypeError('encodeParquet: metadata key ARROW:schema is reserved for the Arrow schema');
    kv.set(k, v);
  }
  return { compression, codecName, rowGroupRows, kv };
}
