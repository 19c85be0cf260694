/**
 * Binary tables (FITS 4.0 section 7.3), decoded column by column to what astropy.io.fits 5.x returns for
 * `fits.open(f)[i].data[name]` (fitsrec.py, _convert_other / _convert_p / _convert_x):
 * - L -> bool, true only for the byte 'T' ('F' and 0 are false); `nulls` marks the 0 bytes (undefined);
 * - X -> one 0/1 value per bit, most significant bit first;
 * - B uint8, I int16, J int32, K int64, E float32, D float64, C complex64, M complex128;
 * - TZEROn = 2^15 on I -> uint16, 2^31 on J -> uint32, 2^63 on K -> uint64 (compared exactly; there is
 *   no signed-byte convention for B in astropy's tables); any other TSCALn != 1 or TZEROn != 0 on a numeric
 *   column (B I J K E D) -> float64, multiplied then added in double precision;
 * - A -> strings as astropy returns them: trailing NULs removed, then trailing whitespace (Python's
 *   str.rstrip; for a column holding a byte >= 0x80 astropy keeps bytes, so bytes.rstrip's ASCII whitespace
 *   and latin-1 characters); a NUL inside a string is kept. TDIMn = (w, d2, ...) splits each field into
 *   strings of w characters (`repeat` strings per row);
 * - TNULLn on integer columns -> `nulls`, 1 where the stored value equals TNULL (astropy returns the
 *   stored value without a mask);
 * - TDIMn shapes are left to the caller (values are row-major, fastest axis last as in numpy); a TDIM
 *   whose product is below the repeat count keeps only that many values per row, as astropy does, and one
 *   above it is ignored;
 * - P and Q -> 'varlen', one ColumnData per row read from the heap, each element decoded and scaled as a
 *   fixed column of its type. Differences from astropy 5.2, whose results there are bugs or refusals:
 *   PA gives one string per row (astropy: an array of one-character strings), PL gives bools like L
 *   (astropy: the raw int8 bytes), PX gives bits (astropy refuses the format), TSCAL/TZERO on P/Q give
 *   uint or float64 elements as for fixed columns (astropy casts the scaled values back to the stored
 *   integer type); K with a TZERO other than 2^63 gives float64 (astropy 5.2 fails with an
 *   UnboundLocalError).
 * A repeat count of 0 gives no values (repeat 0), where astropy returns an empty array.
 * UNSUPPORTED: scaled complex columns (astropy drops the imaginary part), an unsigned TZERO together with
 * TSCAL != 1, and ASCII TABLE HDUs (their size is known so they can be skipped).
 */

import { aligned, gatherField, int64ToFloat64, swapInPlace } from './byteorder.js';
import type { CardValue } from './card.js';
import { FitsError } from './errors.js';
import type { Hdu } from './hdu.js';
import {
  equalMask,
  equalsExactly,
  flipTopBits,
  headerNumber,
  offsetConvention,
  scaleInPlace,
  TFORM_TYPES,
  viewAs,
  type NumericArray,
  type NumericType,
} from './numeric.js';
import { ELEMENT_BYTES, parseTdim, parseTform, type TformCode } from './tform.js';

export type { TformCode } from './tform.js';
export type { NumericType } from './numeric.js';

export interface TableColumn {
  /** 1-based column number n of TTYPEn/TFORMn. */
  index: number;
  name: string;
  tform: string;
  code: TformCode;
  repeat: number;
  /** Byte offset of the field inside a row. */
  offset: number;
  /** Bytes of the field in a row. */
  width: number;
  /** TDIMn axes, fastest first, when given and consistent with the repeat count. */
  dims?: number[];
  tscal: number;
  tzero: number;
  tnull?: number | bigint;
  /** For P and Q: the element type in the heap. */
  varCode?: TformCode;
  unit?: string;
  /** The result type: numeric type, or bool/bits/string/complex/varlen. */
  type: ColumnType;
  /** For P and Q: the result type of the elements. */
  elementType?: ColumnType;
  /** Set when readColumn will refuse this column (UNSUPPORTED), with the reason. */
  unsupported?: string;
}

export interface TableInfo {
  rowBytes: number;
  rows: number;
  columns: TableColumn[];
  /** THEAP: offset of the heap from dataStart. */
  heapOffset: number;
  heapLength: number;
}

export type ColumnType = NumericType | 'bool' | 'bits' | 'string' | 'complex64' | 'complex128' | 'varlen';

/**
 * A decoded column: `values` holds rows * repeat values, row-major (strings: `repeat` strings per row;
 * varlen: one ColumnData per row). `nulls`, when present, has 1 where a value is undefined (TNULLn for
 * integers, the 0 byte for logicals) and exists only when at least one value is.
 */
export type ColumnData =
  | { type: NumericType; repeat: number; values: NumericArray; nulls?: Uint8Array }
  | { type: 'bool'; repeat: number; values: Uint8Array; nulls?: Uint8Array }
  | { type: 'bits'; repeat: number; values: Uint8Array; nulls?: undefined }
  | { type: 'string'; repeat: number; values: string[]; nulls?: undefined }
  | { type: 'complex64' | 'complex128'; repeat: number; values: Float32Array | Float64Array; nulls?: undefined }
  | { type: 'varlen'; repeat: 0 | 1; values: ColumnData[] /* one per row; none when repeat is 0 (a 0P field) */; nulls?: undefined };

function label(hdu: Hdu): string | number {
  return hdu.name || hdu.index;
}

/** The result type of a column of `code` with TSCAL/TZERO, by astropy's rules (see the module comment). */
function resultType(code: TformCode, tscal: number, tzeroRaw: CardValue | undefined, tzero: number): ColumnType | { unsupported: string } {
  switch (code) {
    case 'L':
      return 'bool';
    case 'X':
      return 'bits';
    case 'A':
      return 'string';
    case 'P':
    case 'Q':
      return 'varlen';
    default:
  }
  const scaled = tscal !== 1 || tzero !== 0;
  if (code === 'C' || code === 'M') {
    if (scaled) return { unsupported: 'scaled complex columns are not decoded' };
    return code === 'C' ? 'complex64' : 'complex128';
  }
  const stored = TFORM_TYPES[code]!;
  if (!scaled) return stored;
  const convention = offsetConvention(stored, true);
  if (convention !== undefined && equalsExactly(tzeroRaw, convention.zero)) {
    if (tscal !== 1) return { unsupported: 'an unsigned TZERO together with TSCAL != 1 is not decoded' };
    return convention.type;
  }
  return 'float64';
}

/**
 * The layout of a binary table: row size, row count, each column's format, offset in the row, scaling,
 * TNULL, TDIM and result type, and where the heap is. BAD_HEADER for missing or invalid keywords, BAD_TFORM
 * for unknown or malformed TFORMn/TDIMn or fields wider than NAXIS1, UNSUPPORTED for an ASCII table.
 */
export function tableInfo(file: string, hdu: Hdu): TableInfo {
  const where = label(hdu);
  if (hdu.kind === 'table') {
    throw new FitsError('UNSUPPORTED', file, 'ASCII TABLE extensions are not decoded (only skipped)', where);
  }
  if (hdu.kind !== 'bintable') throw new FitsError('BAD_HEADER', file, `HDU is a ${hdu.kind}, not a binary table`, where);
  const h = hdu.header;
  const rowBytes = h.requireInt('NAXIS1');
  const rows = h.requireInt('NAXIS2');
  const pcount = h.requireInt('PCOUNT');
  const tfields = h.requireInt('TFIELDS');
  if (tfields < 0 || tfields > 999) throw new FitsError('BAD_HEADER', file, `TFIELDS = ${tfields} is outside 0..999`, where, 'TFIELDS');
  const mainBytes = rowBytes * rows;
  const heapOffset = h.int('THEAP') ?? mainBytes;
  if (heapOffset < mainBytes || heapOffset > mainBytes + pcount) {
    throw new FitsError('BAD_HEADER', file, `THEAP = ${heapOffset} is outside [${mainBytes}, ${mainBytes + pcount}]`, where, 'THEAP');
  }
  const columns: TableColumn[] = [];
  let offset = 0;
  for (let n = 1; n <= tfields; n++) {
    const tformKey = `TFORM${n}`;
    const tform = h.requireString(tformKey);
    const f = parseTform(file, where, tformKey, tform);
    const name = h.string(`TTYPE${n}`) ?? '';
    const { value: tscal } = headerNumber(file, hdu, `TSCAL${n}`, 1);
    const { value: tzero, raw: tzeroRaw } = headerNumber(file, hdu, `TZERO${n}`, 0);
    const result = resultType(f.varCode ?? f.code, tscal, tzeroRaw, tzero);
    const type: ColumnType = typeof result === 'string' ? result : 'float64';
    const col: TableColumn = {
      index: n,
      name,
      tform,
      code: f.code,
      repeat: f.repeat,
      offset,
      width: f.width,
      tscal,
      tzero,
      type: f.code === 'P' || f.code === 'Q' ? 'varlen' : type,
    };
    if (typeof result !== 'string') col.unsupported = result.unsupported;
    if (f.varCode) {
      col.varCode = f.varCode;
      col.elementType = type;
    }
    const unit = h.string(`TUNIT${n}`);
    if (unit !== undefined) col.unit = unit;
    const tnull = h.get(`TNULL${n}`);
    if (tnull !== undefined && ['B', 'I', 'J', 'K'].includes(f.varCode ?? f.code)) {
      if (typeof tnull !== 'number' && typeof tnull !== 'bigint') {
        throw new FitsError('BAD_HEADER', file, `TNULL${n} must be an integer`, where, `TNULL${n}`);
      }
      col.tnull = tnull;
    }
    const tdim = h.string(`TDIM${n}`);
    if (tdim !== undefined) {
      const dims = parseTdim(file, where, `TDIM${n}`, tdim);
      const count = dims.reduce((a, b) => a * b, 1);
      if (f.code === 'P' || f.code === 'Q' || count <= f.repeat) col.dims = dims;
    }
    columns.push(col);
    offset += f.width;
    if (!Number.isSafeInteger(offset) || offset > rowBytes) {
      throw new FitsError('BAD_TFORM', file, `the fields up to ${tformKey} take ${offset} bytes, more than NAXIS1 = ${rowBytes}`, where, tformKey);
    }
  }
  return { rowBytes, rows, columns, heapOffset, heapLength: mainBytes + pcount - heapOffset };
}

/** The column named `name` (compared case-insensitively and without surrounding spaces, as FITS does). */
export function findColumn(info: TableInfo, name: string): TableColumn | undefined {
  const want = name.trim().toUpperCase();
  return info.columns.find((c) => c.name.trim().toUpperCase() === want);
}

/** The column `name`, or MISSING_COLUMN naming the file, HDU and column. */
export function requireColumn(file: string, hdu: Hdu, info: TableInfo, name: string): TableColumn {
  const col = findColumn(info, name);
  if (!col) throw new FitsError('MISSING_COLUMN', file, `binary table has no column ${name}`, label(hdu), name);
  return col;
}

/** Values per row that decoding keeps: the TDIM product when it is below the repeat count (astropy). */
function keptPerRow(col: TableColumn): number {
  if (col.dims && col.code !== 'A' && col.code !== 'X') {
    const count = col.dims.reduce((a, b) => a * b, 1);
    if (count < col.repeat) return count;
  }
  return col.repeat;
}

/**
 * Decodes one column for all rows from `data`, the HDU's data bytes from dataStart (the main table, plus
 * the heap for P/Q columns). Values are astropy's (see the module comment), `repeat` per row, row-major.
 * TRUNCATED when `data` is shorter than the table, BAD_HEAP for descriptors outside the heap.
 */
export function readColumn(file: string, hdu: Hdu, info: TableInfo, col: TableColumn, data: Uint8Array): ColumnData {
  const where = label(hdu);
  const key = col.name || `TFORM${col.index}`;
  if (data.byteLength < info.rowBytes * info.rows) {
    throw new FitsError('TRUNCATED', file, `${data.byteLength} bytes given for a table of ${info.rowBytes * info.rows}`, where, key);
  }
  if (col.unsupported) throw new FitsError('UNSUPPORTED', file, col.unsupported, where, key);
  if (col.code === 'P' || col.code === 'Q') return readVarColumn(file, hdu, info, col, data);
  if (col.repeat === 0 && col.code === 'A') return { type: 'string', repeat: 0, values: [] };
  const per = keptPerRow(col);
  const width = col.code === 'X' ? col.width : col.code === 'A' ? col.repeat : per * ELEMENT_BYTES[col.code];
  const bytes = gatherField(data, info.rows, info.rowBytes, col.offset, width);
  return decodeField(col, bytes, info.rows, col.code === 'A' ? col.repeat : per, col.repeat);
}

/**
 * Decodes `rows` fields of `count` elements each (bits for X, characters for A), laid back to back in the
 * fresh buffer `bytes` (swapped in place), with the column's scaling and null rules.
 */
function decodeField(col: TableColumn, bytes: Uint8Array, rows: number, count: number, xBits: number, code = col.code): ColumnData {
  switch (code) {
    case 'L': {
      const values = new Uint8Array(bytes.byteLength);
      let nulls: Uint8Array | undefined;
      for (let i = 0; i < bytes.byteLength; i++) {
        values[i] = bytes[i] === 0x54 ? 1 : 0;
        if (bytes[i] === 0) (nulls ??= new Uint8Array(bytes.byteLength))[i] = 1;
      }
      return nulls ? { type: 'bool', repeat: count, values, nulls } : { type: 'bool', repeat: count, values };
    }
    case 'X': {
      // A 0X field holds nothing: answer at once rather than loop over however many rows NAXIS2 claims.
      if (xBits === 0) return { type: 'bits', repeat: 0, values: new Uint8Array(0) };
      const perRow = Math.ceil(xBits / 8);
      const values = new Uint8Array(rows * xBits);
      for (let r = 0; r < rows; r++) {
        for (let b = 0; b < xBits; b++) values[r * xBits + b] = (bytes[r * perRow + (b >> 3)] >> (7 - (b & 7))) & 1;
      }
      return { type: 'bits', repeat: xBits, values };
    }
    case 'A':
      return decodeStrings(col, bytes, rows, count);
    case 'C':
    case 'M': {
      const size = code === 'C' ? 4 : 8;
      const u8 = swapInPlace(aligned(bytes, size), size === 4 ? 4 : 8);
      const n = u8.byteLength / size;
      return code === 'C'
        ? { type: 'complex64', repeat: count, values: new Float32Array(u8.buffer, u8.byteOffset, n) }
        : { type: 'complex128', repeat: count, values: new Float64Array(u8.buffer, u8.byteOffset, n) };
    }
    default:
      return decodeNumbers(col, bytes, count, code);
  }
}

function decodeNumbers(col: TableColumn, bytes: Uint8Array, count: number, code: TformCode): ColumnData {
  const size = ELEMENT_BYTES[code];
  const u8 = swapInPlace(aligned(bytes, size), size);
  const n = u8.byteLength / size;
  const stored = TFORM_TYPES[code] ?? 'float64';
  const raw = viewAs(stored, u8);
  // TNULLn is compared with the stored integers; on K by its 64-bit pattern (taken modulo 2^64).
  const tnull = col.tnull === undefined ? undefined : code === 'K' ? BigInt.asIntN(64, BigInt(col.tnull)) : col.tnull;
  const nulls = tnull !== undefined ? equalMask(raw, tnull) : undefined;
  const type = (col.code === 'P' || col.code === 'Q' ? col.elementType : col.type) as NumericType;
  let values: NumericArray;
  if (offsetConvention(stored, true)?.type === type) {
    flipTopBits(u8, size);
    values = viewAs(type, u8);
  } else if (type === 'float64' && code !== 'D') {
    let out: Float64Array;
    if (code === 'K') out = int64ToFloat64(u8);
    else {
      out = new Float64Array(n);
      out.set(raw as Uint8Array | Int16Array | Int32Array | Float32Array);
    }
    values = scaleInPlace(out, col.tscal, col.tzero, false);
  } else if (type === 'float64' && (col.tscal !== 1 || col.tzero !== 0)) {
    values = scaleInPlace(raw as Float64Array, col.tscal, col.tzero, false);
  } else {
    values = raw;
  }
  return nulls ? { type, repeat: count, values, nulls } : { type, repeat: count, values };
}

/** Python's str.isspace for the first 128 code points (bytes.isspace when `asBytes`). */
function isSpace(c: number, asBytes: boolean): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || (!asBytes && c >= 0x1c && c <= 0x1f);
}

/** Splits A fields into strings the way astropy returns them (see the module comment). */
function decodeStrings(col: TableColumn, bytes: Uint8Array, rows: number, chars: number): ColumnData {
  let w = chars;
  let perRow = 1;
  if (col.dims && col.dims.length > 0 && col.dims[0] > 0) {
    const count = col.dims.reduce((a, b) => a * b, 1);
    if (count <= chars) {
      w = col.dims[0];
      perRow = count / w;
    }
  }
  const asBytes = bytes.some((b) => b >= 0x80);
  // one latin-1 decode of the whole column, then cheap slices of it
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const values = new Array<string>(rows * perRow);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < perRow; k++) {
      const start = r * chars + k * w;
      let end = start + w;
      while (end > start && bytes[end - 1] === 0) end--;
      while (end > start && isSpace(bytes[end - 1], asBytes)) end--;
      values[r * perRow + k] = text.slice(start, end);
    }
  }
  return { type: 'string', repeat: perRow, values };
}

/** Reads P/Q descriptors (count, offset) and decodes each row's array from the heap. */
function readVarColumn(file: string, hdu: Hdu, info: TableInfo, col: TableColumn, data: Uint8Array): ColumnData {
  const where = label(hdu);
  const key = col.name || `TFORM${col.index}`;
  const code = col.varCode!;
  // A 0P/0Q field has no descriptor, so no array in any row: repeat 0 and nothing to build, whatever NAXIS2
  // claims (building one empty array per claimed row would allocate from the header's word).
  if (col.repeat === 0) return { type: 'varlen', repeat: 0, values: [] };
  const values = new Array<ColumnData>(info.rows);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const heapStart = info.heapOffset;
  const heapEnd = info.heapOffset + info.heapLength;
  if (info.rows > 0 && data.byteLength < heapEnd) {
    throw new FitsError('TRUNCATED', file, `${data.byteLength} bytes given, the heap ends at ${heapEnd}`, where, key);
  }
  for (let r = 0; r < info.rows; r++) {
    const at = r * info.rowBytes + col.offset;
    let count: number;
    let offset: number;
    if (col.code === 'P') {
      count = view.getInt32(at);
      offset = view.getInt32(at + 4);
    } else {
      count = int64At(view, at);
      offset = int64At(view, at + 8);
    }
    const nbytes = code === 'X' ? Math.ceil(count / 8) : count * ELEMENT_BYTES[code];
    if (!(count >= 0 && offset >= 0 && Number.isSafeInteger(nbytes) && offset + nbytes <= info.heapLength)) {
      throw new FitsError(
        'BAD_HEAP',
        file,
        `row ${r}: descriptor (count ${count}, offset ${offset}) points outside the heap of ${info.heapLength} bytes`,
        where,
        key,
      );
    }
    const bytes = new Uint8Array(nbytes);
    bytes.set(data.subarray(heapStart + offset, heapStart + offset + nbytes));
    values[r] = code === 'A' ? decodeStrings({ ...col, dims: undefined }, bytes, 1, count) : decodeField(col, bytes, 1, count, count, code);
  }
  return { type: 'varlen', repeat: 1, values };
}

/** A big-endian int64 as a number, or NaN when it is not a safe integer (rejected by the caller). */
function int64At(view: DataView, at: number): number {
  const hi = view.getInt32(at);
  const lo = view.getUint32(at + 4);
  const v = hi * 4294967296 + lo;
  return Number.isSafeInteger(v) ? v : NaN;
}
