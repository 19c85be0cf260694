/**
 * A minimal reader of the Parquet footer (FileMetaData, Thrift compact protocol): row counts, and per
 * column chunk its leaf path, physical type, encodings and codec; plus the key-value metadata.
 *
 * encodeParquet uses it to check what parquet-wasm actually wrote (its streaming writer swallows write
 * errors, and encodings on list leaves cannot be set directly), synchronously and without a second
 * trip through WASM. Field ids and enum values are those of parquet-format's parquet.thrift.
 */

export interface FooterColumnChunk {
  /** Leaf path, e.g. ["B_FLUX", "list", "element"]. */
  path: string[];
  /** Physical type: BOOLEAN, INT32, INT64, INT96, FLOAT, DOUBLE, BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY. */
  physicalType: string;
  /** Every encoding used in the chunk (data, dictionary and levels), e.g. ["RLE", "BYTE_STREAM_SPLIT"]. */
  encodings: string[];
  /** UNCOMPRESSED, SNAPPY, ZSTD, ... */
  codec: string;
  numValues: number;
}

export interface ParquetFooter {
  numRows: number;
  rowGroups: { numRows: number; columns: FooterColumnChunk[] }[];
  keyValue: Map<string, string | null>;
  createdBy: string | undefined;
}

const PHYSICAL_TYPES = ['BOOLEAN', 'INT32', 'INT64', 'INT96', 'FLOAT', 'DOUBLE', 'BYTE_ARRAY', 'FIXED_LEN_BYTE_ARRAY'];
const ENCODINGS = [
  'PLAIN',
  'GROUP_VAR_INT',
  'PLAIN_DICTIONARY',
  'RLE',
  'BIT_PACKED',
  'DELTA_BINARY_PACKED',
  'DELTA_LENGTH_BYTE_ARRAY',
  'DELTA_BYTE_ARRAY',
  'RLE_DICTIONARY',
  'BYTE_STREAM_SPLIT',
];
const CODECS = ['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'LZO', 'BROTLI', 'LZ4', 'ZSTD', 'LZ4_RAW'];

const enumName = (names: string[], v: number): string => names[v] ?? `UNKNOWN(${v})`;

// Thrift compact protocol type codes.
const T_STOP = 0,
  T_TRUE = 1,
  T_FALSE = 2,
  T_BYTE = 3,
  T_I16 = 4,
  T_I32 = 5,
  T_I64 = 6,
  T_DOUBLE = 7,
  T_BINARY = 8,
  T_LIST = 9,
  T_SET = 10,
  T_MAP = 11,
  T_STRUCT = 12,
  T_UUID = 13;

/** What readParquetFooter decodes besides the row count and key-value metadata. */
export interface FooterReadOptions {
  /**
   * Decode the row groups' column chunks (default true). Without them (`rowGroups` is then empty) a footer
   * is walked, not built: resume checks 40,000 files for their tile, selection and row count only.
   */
  rowGroups?: boolean;
}

/** Returns the decoded footer of the complete Parquet file in `file`; throws Error if it is not one. */
export function readParquetFooter(file: Uint8Array, opts: FooterReadOptions = {}): ParquetFooter {
  const n = file.byteLength;
  if (n < 12 || !isMagic(file, 0) || !isMagic(file, n - 4)) throw new Error('not a complete Parquet file (PAR1 magic missing)');
  const len = new DataView(file.buffer, file.byteOffset + n - 8, 4).getUint32(0, true);
  if (len > n - 12) throw new Error(`Parquet footer length ${len} does not fit in a ${n}-byte file`);
  return readFileMetaData(new CompactReader(file.subarray(n - 8 - len, n - 8)), opts.rowGroups ?? true);
}

function isMagic(b: Uint8Array, at: number): boolean {
  return b[at] === 0x50 && b[at + 1] === 0x41 && b[at + 2] === 0x52 && b[at + 3] === 0x31; // "PAR1"
}

function readFileMetaData(r: CompactReader, rowGroups: boolean): ParquetFooter {
  const out: ParquetFooter = { numRows: -1, rowGroups: [], keyValue: new Map(), createdBy: undefined };
  r.readStruct((id, type) => {
    if (id === 3 && type === T_I64) out.numRows = r.readInt();
    else if (id === 4 && type === T_LIST && rowGroups) r.readList(() => out.rowGroups.push(readRowGroup(r)));
    else if (id === 5 && type === T_LIST) r.readList(() => readKeyValue(r, out.keyValue));
    else if (id === 6 && type === T_BINARY) out.createdBy = r.readString();
    else r.skip(type);
  });
  return out;
}

function readRowGroup(r: CompactReader): { numRows: number; columns: FooterColumnChunk[] } {
  const rg = { numRows: -1, columns: [] as FooterColumnChunk[] };
  r.readStruct((id, type) => {
    if (id === 1 && type === T_LIST) r.readList(() => rg.columns.push(readColumnChunk(r)));
    else if (id === 3 && type === T_I64) rg.numRows = r.readInt();
    else r.skip(type);
  });
  return rg;
}

function readColumnChunk(r: CompactReader): FooterColumnChunk {
  const c: FooterColumnChunk = { path: [], physicalType: '', encodings: [], codec: '', numValues: -1 };
  r.readStruct((id, type) => {
    if (id === 3 && type === T_STRUCT) {
      r.readStruct((mid, mtype) => {
        if (mid === 1 && mtype === T_I32) c.physicalType = enumName(PHYSICAL_TYPES, r.readInt());
        else if (mid === 2 && mtype === T_LIST) r.readList(() => c.encodings.push(enumName(ENCODINGS, r.readInt())));
        else if (mid === 3 && mtype === T_LIST) r.readList(() => c.path.push(r.readString()));
        else if (mid === 4 && mtype === T_I32) c.codec = enumName(CODECS, r.readInt());
        else if (mid === 5 && mtype === T_I64) c.numValues = r.readInt();
        else r.skip(mtype);
      });
    } else r.skip(type);
  });
  return c;
}

function readKeyValue(r: CompactReader, into: Map<string, string | null>): void {
  let key = '';
  let value: string | null = null;
  r.readStruct((id, type) => {
    if (id === 1 && type === T_BINARY) key = r.readString();
    else if (id === 2 && type === T_BINARY) value = r.readString();
    else r.skip(type);
  });
  into.set(key, value);
}

const utf8 = new TextDecoder();

/** Just enough of the Thrift compact protocol to walk a FileMetaData. */
class CompactReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  private byte(): number {
    if (this.pos >= this.buf.length) throw new Error('Parquet footer truncated');
    return this.buf[this.pos++];
  }

  /** A varint past 7 bytes (49 bits), as a bigint: the rare i64 beyond 2^49 (sizes and offsets are far below). */
  private bigVarint(start: number): bigint {
    this.pos = start;
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new Error('Parquet footer: varint too long');
    }
  }

  /** Moves past a varint without decoding it (a skipped i16/i32/i64). */
  private skipVarint(): void {
    for (let n = 0; n < 10; n++) if ((this.byte() & 0x80) === 0) return;
    throw new Error('Parquet footer: varint too long');
  }

  /**
   * An unsigned varint of at most `maxBytes` bytes (7 bits each), decoded with number arithmetic; undefined,
   * with those bytes consumed, when it is longer.
   */
  private numberVarint(maxBytes: number): number | undefined {
    let result = 0;
    let mul = 1;
    for (let n = 0; n < maxBytes; n++) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    return undefined;
  }

  private smallVarint(): number {
    const v = this.numberVarint(8);
    if (v === undefined) throw new Error('Parquet footer: length varint too long');
    return v;
  }

  /**
   * Reads a zigzag-encoded i16/i32/i64 as a number (exact up to 2^53, enough for counts and enums). Values
   * of up to 7 varint bytes (49 bits) are decoded with number arithmetic; only longer ones take the bigint path.
   */
  readInt(): number {
    const start = this.pos;
    const z = this.numberVarint(7);
    if (z !== undefined) return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    const big = this.bigVarint(start);
    return Number((big >> 1n) ^ -(big & 1n));
  }

  readString(): string {
    const len = this.smallVarint();
    if (this.pos + len > this.buf.length) throw new Error('Parquet footer truncated');
    const s = utf8.decode(this.buf.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }

  /** Calls `field(id, type)` for each field of a struct; `field` must consume the value. */
  readStruct(field: (id: number, type: number) => void): void {
    let lastId = 0;
    for (;;) {
      const header = this.byte();
      const type = header & 0x0f;
      if (type === T_STOP) return;
      const delta = header >> 4;
      const id = delta !== 0 ? lastId + delta : this.readInt();
      lastId = id;
      if (type === T_TRUE || type === T_FALSE) continue; // a bool field's value is its type code
      field(id, type);
    }
  }

  /** Calls `element(type)` once per element of a list (or set). */
  readList(element: (type: number) => void): void {
    const header = this.byte();
    const type = header & 0x0f;
    const size = header >> 4 === 15 ? this.smallVarint() : header >> 4;
    for (let i = 0; i < size; i++) element(type);
  }

  skip(type: number): void {
    switch (type) {
      case T_TRUE:
      case T_FALSE:
        this.pos += 1;
        return; // only reached for list elements (one byte each)
      case T_BYTE:
        this.pos += 1;
        return;
      case T_I16:
      case T_I32:
      case T_I64:
        this.skipVarint();
        return;
      case T_DOUBLE:
        this.pos += 8;
        return;
      case T_UUID:
        this.pos += 16;
        return;
      case T_BINARY: {
        const len = this.smallVarint(); // not `this.pos += this.smallVarint()`: that reads pos before the varint
        this.pos += len;
        return;
      }
      case T_LIST:
      case T_SET:
        this.readList((t) => this.skip(t));
        return;
      case T_MAP: {
        const size = this.smallVarint();
        if (size === 0) return;
        const kv = this.byte();
        for (let i = 0; i < size; i++) {
          this.skip(kv >> 4);
          this.skip(kv & 0x0f);
        }
        return;
      }
      case T_STRUCT:
        this.readStruct((_id, t) => this.skip(t));
        return;
      default:
        throw new Error(`Parquet footer: unknown Thrift compact type ${type}`);
    }
  }
}
