/**
 * Arrow tables from decoded typed arrays.
 *
 * The caller (a worker converting one DESI tile) hands over columns it has already decoded from FITS:
 * scalar catalog columns (TARGETID, Z, SPECTYPE, ...) and the big spectra (B_FLUX, B_IVAR, B_MASK, ...)
 * as one flat row-major typed array per HDU. Spectra become list<T> columns whose child buffer IS the
 * caller's typed array (zero-copy); only the small offsets array (0, width, 2*width, ...) is allocated.
 *
 * Schema choices, kept identical in every file of a dataset:
 * - Every top-level field is nullable, whether or not this tile has nulls in it, so a tile where a
 *   column is absent from the source (kind 'null') has exactly the same schema as one where it is
 *   present. Schema unification across files (pyarrow.dataset, Polars scan_parquet, Spark's
 *   mergeSchema) then has nothing to reconcile.
 * - The list child field is named "element" and is non-nullable. arrow-rs keeps the Arrow child name
 *   as the Parquet leaf name, and "element" is the name the Parquet format spec (LogicalTypes.md, LIST)
 *   prescribes and that pyarrow (use_compliant_nested_type, its default), parquet-mr/Spark and DuckDB
 *   write; with Arrow's default "item" the leaf would be `B_FLUX.list.item`, which readers accept only
 *   through their legacy-list rules. DuckDB, pandas/pyarrow, Polars and Spark all read the compliant
 *   form as a plain list of floats. Spectra never hold null elements, so the leaf is REQUIRED, which
 *   saves a definition level per value.
 */
import {
  Bool,
  type Data,
  type DataType,
  Field,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  List,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  Uint16,
  Uint32,
  Uint64,
  Uint8,
  Utf8,
} from 'apache-arrow';

export type ScalarType = 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'float32' | 'float64' | 'bool' | 'utf8';

export type ScalarArray =
  Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Uint32Array | BigUint64Array | Float32Array | Float64Array;

/** Element types allowed in list columns (spectra). */
export type ListElementType = 'float32' | 'float64' | 'uint32' | 'int32' | 'int64';

/**
 * Field metadata: key-value pairs stored on the column's Arrow field (`unit`: the FITS BUNIT). parquet-wasm
 * (arrow-rs) keeps them in the footer's ARROW:schema entry, where pyarrow and arrow-rs readers find them.
 * One key per field keeps files byte-identical from run to run: arrow-rs holds field metadata in a hash map,
 * whose order (and so the serialized schema's) could change from process to process with several keys.
 */
export type FieldMetadata = Readonly<Record<string, string>>;

export type ColumnSpec = (
  | { name: string; kind: 'scalar'; type: Exclude<ScalarType, 'utf8' | 'bool'>; values: ScalarArray; valid?: Uint8Array /* 1 valid, 0 null, per row */ }
  | { name: string; kind: 'scalar'; type: 'bool'; values: Uint8Array /* 0/1 */; valid?: Uint8Array }
  | { name: string; kind: 'scalar'; type: 'utf8'; values: string[]; valid?: Uint8Array }
  | { name: string; kind: 'null'; type: Exclude<ScalarType, never> } // column absent from the source: all rows null, with this type
  | {
      name: string;
      kind: 'list';
      type: ListElementType;
      values: ScalarArray /* rows*width flat, row-major */;
      width: number /* values per row */;
      /** Rows of different lengths instead: row i is values[offsets[i]..offsets[i+1]) (rows+1 entries, from 0; width is then ignored). */
      offsets?: Int32Array;
    }
  | { name: string; kind: 'nullList'; type: ListElementType }
) & { metadata?: FieldMetadata }; // nullList: a list column absent from the source: all rows null, list<type>

/** Name of the child field of every list column (see the module comment for why "element"). */
export const LIST_ELEMENT_NAME = 'element';

type NumericType = Exclude<ScalarType, 'utf8' | 'bool'>;

/** The typed-array class each numeric type must arrive in (checked: a mismatch would reinterpret bytes). */
const ARRAY_CLASS: Record<NumericType, { new (n: number): ScalarArray; name: string }> = {
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  uint16: Uint16Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
  float32: Float32Array,
  float64: Float64Array,
};

/** Returns the Arrow DataType for one of our scalar type names. */
export function arrowType(type: ScalarType): DataType {
  switch (type) {
    case 'int8':
      return new Int8();
    case 'int16':
      return new Int16();
    case 'int32':
      return new Int32();
    case 'int64':
      return new Int64();
    case 'uint8':
      return new Uint8();
    case 'uint16':
      return new Uint16();
    case 'uint32':
      return new Uint32();
    case 'uint64':
      return new Uint64();
    case 'float32':
      return new Float32();
    case 'float64':
      return new Float64();
    case 'bool':
      return new Bool();
    case 'utf8':
      return new Utf8();
    default:
      throw new TypeError(`unknown column type ${String(type)}`);
  }
}

/**
 * Returns an Arrow Table with one record batch holding `columns` in the given order, all `rows` long.
 * List columns share the caller's flat typed arrays (no copy); scalar numeric columns share theirs too;
 * only validity bitmaps, bool bit-packing, UTF-8 bytes and list offsets are built here.
 * Throws TypeError/RangeError on a spec that would otherwise produce a wrong or unreadable column
 * (wrong typed-array class for the type, length not rows (or rows*width), duplicate or empty names).
 * A zero-row table is allowed: it encodes to a Parquet file with the schema and no data.
 */
export function buildTable(rows: number, columns: ColumnSpec[]): Table {
  if (!Number.isSafeInteger(rows) || rows < 0) throw new RangeError(`buildTable: rows must be a non-negative integer, got ${rows}`);
  if (rows > 0x7fffffff) throw new RangeError(`buildTable: ${rows} rows is more than one Arrow batch can index`);
  const seen = new Set<string>();
  const offsetsByWidth = new Map<number, Int32Array>();
  const fields: Field[] = [];
  const children: Data[] = [];
  for (const spec of columns) {
    if (typeof spec.name !== 'string' || spec.name === '') throw new TypeError('buildTable: every column needs a non-empty name');
    if (seen.has(spec.name)) throw new TypeError(`buildTable: duplicate column name ${spec.name}`);
    seen.add(spec.name);
    let data: Data;
    switch (spec.kind) {
      case 'scalar':
        data = scalarData(spec, rows);
        break;
      case 'null':
        data = nullData(spec.name, spec.type, rows);
        break;
      case 'list':
        data = listData(spec, rows, offsetsByWidth);
        break;
      case 'nullList':
        data = nullListData(spec.type, rows);
        break;
      default:
        throw new TypeError(`buildTable: column ${(spec as { name: string }).name} has unknown kind ${String((spec as { kind: unknown }).kind)}`);
    }
    fields.push(new Field(spec.name, data.type, true, fieldMetadata(spec.name, spec.metadata)));
    children.push(data);
  }
  const schema = new Schema(fields);
  const struct = makeData({ type: new Struct(fields), length: rows, nullCount: 0, children });
  return new Table(schema, [new RecordBatch(schema, struct)]);
}

type ScalarSpec = Extract<ColumnSpec, { kind: 'scalar' }>;
type ListSpec = Extract<ColumnSpec, { kind: 'list' }>;

/** Returns the Arrow Data of one scalar column, sharing the caller's buffer for numeric types. */
function scalarData(spec: ScalarSpec, rows: number): Data {
  const { bitmap, nullCount } = validityBitmap(spec.name, spec.valid, rows);
  if (spec.type === 'utf8') {
    const values = spec.values;
    if (!Array.isArray(values)) throw new TypeError(`buildTable: column ${spec.name} (utf8) needs a string[]`);
    checkLength(spec.name, values.length, rows);
    const { valueOffsets, data } = utf8Buffers(spec.name, values, spec.valid);
    return makeData({ type: new Utf8(), length: rows, nullCount, nullBitmap: bitmap, valueOffsets, data });
  }
  if (spec.type === 'bool') {
    if (!(spec.values instanceof Uint8Array)) throw new TypeError(`buildTable: column ${spec.name} (bool) needs a Uint8Array of 0/1`);
    checkLength(spec.name, spec.values.length, rows);
    return makeData({ type: new Bool(), length: rows, nullCount, nullBitmap: bitmap, data: packBits(spec.values) });
  }
  checkArrayClass(spec.name, spec.type, spec.values);
  checkLength(spec.name, spec.values.length, rows);
  // makeData's overloads are per DataType subclass; the generic DataType needs one cast here.
  return makeData({ type: arrowType(spec.type), length: rows, nullCount, nullBitmap: bitmap, data: spec.values } as never);
}

/**
 * Returns an all-null column of the declared type. Arrow readers (arrow-rs included) check that
 * buffers are long enough for `length` even when every slot is null, so zero-filled buffers of the
 * full size are allocated rather than empty ones.
 */
function nullData(name: string, type: ScalarType, rows: number): Data {
  const nullBitmap = new Uint8Array(Math.ceil(rows / 8));
  if (type === 'utf8') {
    return makeData({ type: new Utf8(), length: rows, nullCount: rows, nullBitmap, valueOffsets: new Int32Array(rows + 1), data: new Uint8Array(0) });
  }
  if (type === 'bool') {
    return makeData({ type: new Bool(), length: rows, nullCount: rows, nullBitmap, data: new Uint8Array(Math.ceil(rows / 8)) });
  }
  // `type` comes from the caller's spec, unchecked when the caller is plain JS: the lookup may miss.
  const cls = ARRAY_CLASS[type] as (typeof ARRAY_CLASS)[NumericType] | undefined;
  if (cls === undefined) throw new TypeError(`buildTable: column ${name} has unknown null type ${type}`);
  return makeData({ type: arrowType(type), length: rows, nullCount: rows, nullBitmap, data: new cls(rows) } as never);
}

/** The Arrow field metadata of a column spec's `metadata` (checked: string keys and values). */
function fieldMetadata(name: string, metadata: FieldMetadata | undefined): Map<string, string> | undefined {
  if (metadata === undefined) return undefined;
  const m = new Map<string, string>();
  for (const [k, v] of Object.entries(metadata)) {
    if (k === '' || typeof v !== 'string')
      throw new TypeError(`buildTable: column ${name} has a metadata entry ${JSON.stringify(k)} that is not a non-empty key with a string value`);
    m.set(k, v);
  }
  return m;
}

/** Returns a list<T> column over the caller's flat array: child = the array itself, offsets i*width (or the spec's own). */
function listData(spec: ListSpec, rows: number, offsetsByWidth: Map<number, Int32Array>): Data {
  const { name, type, values, width } = spec;
  if (!['float32', 'float64', 'uint32', 'int32', 'int64'].includes(type)) {
    throw new TypeError(`buildTable: list column ${name} has unsupported element type ${type}`);
  }
  if (spec.offsets !== undefined) return ragged(spec, rows);
  if (!Number.isSafeInteger(width) || width < 0) throw new RangeError(`buildTable: list column ${name} has invalid width ${width}`);
  checkArrayClass(name, type, values);
  if (values.length !== rows * width) {
    throw new RangeError(`buildTable: list column ${name} has ${values.length} values, expected rows*width = ${rows}*${width} = ${rows * width}`);
  }
  if (rows * width > 0x7fffffff) throw new RangeError(`buildTable: list column ${name} has ${rows * width} values, beyond Int32 list offsets`);
  let valueOffsets = offsetsByWidth.get(width);
  if (valueOffsets === undefined) {
    valueOffsets = new Int32Array(rows + 1);
    for (let i = 1; i <= rows; i++) valueOffsets[i] = i * width;
    offsetsByWidth.set(width, valueOffsets);
  }
  const elementType = arrowType(type);
  const child = makeData({ type: elementType, length: values.length, nullCount: 0, data: values } as never) as Data;
  const listType = new List(new Field(LIST_ELEMENT_NAME, elementType, false));
  return makeData({ type: listType, length: rows, nullCount: 0, valueOffsets, child });
}

/** A list<T> column whose rows have their own lengths (spec.offsets), over the caller's flat array. */
function ragged(spec: ListSpec, rows: number): Data {
  const { name, type, values } = spec;
  const offsets = spec.offsets!;
  checkArrayClass(name, type, values);
  if (!(offsets instanceof Int32Array) || offsets.length !== rows + 1) throw new RangeError(`buildTable: list column ${name} needs ${rows + 1} Int32 offsets`);
  if (offsets[0] !== 0 || offsets[rows] !== values.length) {
    throw new RangeError(`buildTable: list column ${name} offsets run from ${offsets[0]} to ${offsets[rows]}, expected 0 to ${values.length}`);
  }
  for (let i = 0; i < rows; i++) if (offsets[i + 1] < offsets[i]) throw new RangeError(`buildTable: list column ${name} offsets decrease at row ${i}`);
  const elementType = arrowType(type);
  const child = makeData({ type: elementType, length: values.length, nullCount: 0, data: values } as never) as Data;
  const listType = new List(new Field(LIST_ELEMENT_NAME, elementType, false));
  return makeData({ type: listType, length: rows, nullCount: 0, valueOffsets: offsets, child });
}

/** An all-null list<T> column (same type as a present one, so every file of a dataset has one schema). */
function nullListData(type: ListElementType, rows: number): Data {
  const elementType = arrowType(type);
  const child = makeData({ type: elementType, length: 0, nullCount: 0, data: new ARRAY_CLASS[type](0) } as never) as Data;
  const listType = new List(new Field(LIST_ELEMENT_NAME, elementType, false));
  return makeData({
    type: listType,
    length: rows,
    nullCount: rows,
    nullBitmap: new Uint8Array(Math.ceil(rows / 8)),
    valueOffsets: new Int32Array(rows + 1),
    child,
  });
}

function checkLength(name: string, got: number, rows: number): void {
  if (got !== rows) throw new RangeError(`buildTable: column ${name} has ${got} values, expected ${rows}`);
}

function checkArrayClass(name: string, type: NumericType, values: unknown): void {
  const cls = ARRAY_CLASS[type] as (typeof ARRAY_CLASS)[NumericType] | undefined; // may miss, as in nullData
  if (cls === undefined) throw new TypeError(`buildTable: column ${name} has unknown type ${type}`);
  // Exact class: a Buffer is a Uint8Array subclass and is accepted; an Int32Array for uint32 is not.
  if (!(values instanceof cls)) {
    const got = values === null || values === undefined ? String(values) : ((values as { constructor?: { name: string } }).constructor?.name ?? typeof values); // Object.create(null) has none;
    throw new TypeError(`buildTable: column ${name} of type ${type} needs a ${cls.name}, got ${got}`);
  }
}

/** Returns the Arrow validity bitmap (LSB first, 1 = valid) of a per-row 0/1 array, and its null count. */
function validityBitmap(name: string, valid: Uint8Array | undefined, rows: number): { bitmap: Uint8Array | undefined; nullCount: number } {
  if (valid === undefined) return { bitmap: undefined, nullCount: 0 };
  if (!(valid instanceof Uint8Array)) throw new TypeError(`buildTable: column ${name} valid must be a Uint8Array`);
  checkLength(`${name} (valid)`, valid.length, rows);
  const bitmap = packBits(valid);
  let nullCount = 0;
  for (let i = 0; i < rows; i++) if (valid[i] === 0) nullCount++;
  return nullCount === 0 ? { bitmap: undefined, nullCount: 0 } : { bitmap, nullCount };
}

/** Returns the bytes of `flags` packed 8 per byte, least significant bit first (Arrow bit order). */
function packBits(flags: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(flags.length / 8));
  for (let i = 0; i < flags.length; i++) if (flags[i] !== 0) out[i >> 3] |= 1 << (i & 7);
  return out;
}

/** Returns the Int32 offsets and UTF-8 bytes of a string column; null slots get zero-length values. */
function utf8Buffers(name: string, values: string[], valid: Uint8Array | undefined): { valueOffsets: Int32Array; data: Uint8Array } {
  const encoder = new TextEncoder();
  const valueOffsets = new Int32Array(values.length + 1);
  let capacity = 0;
  for (let i = 0; i < values.length; i++) {
    const s = values[i];
    if (valid?.[i] === 0) continue;
    if (typeof s !== 'string') throw new TypeError(`buildTable: column ${name} row ${i} is not a string`);
    capacity += s.length * 3; // a UTF-16 code unit never takes more than 3 UTF-8 bytes
  }
  let data = new Uint8Array(capacity);
  let end = 0;
  for (let i = 0; i < values.length; i++) {
    if (valid?.[i] !== 0) {
      end += encoder.encodeInto(values[i], data.subarray(end)).written;
    }
    if (end > 0x7fffffff) throw new RangeError(`buildTable: column ${name} holds more than 2 GiB of text`);
    valueOffsets[i + 1] = end;
  }
  if (end < data.length) data = data.slice(0, end);
  return { valueOffsets, data };
}
