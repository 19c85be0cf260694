/**
 * Image data (primary or IMAGE extension), decoded to what astropy.io.fits 5.x returns for
 * `fits.open(f)[i].data` (image.py, _get_scaled_image_data), value for value and dtype for dtype:
 * - no BSCALE/BZERO/BLANK: the raw type of BITPIX (uint8, int16, int32, int64, float32, float64);
 * - BSCALE = 1 and the unsigned conventions: BITPIX 8 with BZERO -128 -> int8, 16 with BZERO 32768 ->
 *   uint16, 32 with 2147483648 -> uint32, 64 with 9223372036854775808 -> uint64 (BZERO compared exactly);
 * - other scaling of integers: BITPIX 8 and 16 -> float32, 32 and 64 -> float64, computed as astropy does:
 *   convert, multiply by BSCALE if it is not 1, then add BZERO if it is not 0, each step rounded to the
 *   result type (numpy's float32 loop for float32 results);
 * - BLANK (integer BITPIX only, ignored with the unsigned conventions): the result is float even without
 *   scaling and, when BLANK is not 0, the raw values equal to BLANK become NaN (BLANK = 0 turns nothing into
 *   NaN, as in astropy);
 * - float BITPIX with BSCALE/BZERO: scaled in the raw float type.
 * NaN payloads and -0.0 survive bit for bit when no scaling applies (the bytes are only byte-swapped).
 * Random groups are UNSUPPORTED, as is BLANK with the int8 convention (astropy itself fails there).
 */

import { FitsError } from './errors.js';
import { aligned, int64ToFloat64, swapInPlace } from './byteorder.js';
import type { Hdu } from './hdu.js';
import type { CardValue } from './card.js';

export type ImageArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

export type NumericType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64';

export interface ImageInfo {
  bitpix: number;
  /** NAXIS1 first. */
  axes: number[];
  bscale: number;
  bzero: number;
  bytesPerValue: number;
  /** Values in one row: the product of all axes but the last (NAXIS1 for a 1-D image, 0 without data). */
  rowLength: number;
  /** Rows along the last axis (1 for a 1-D image, 0 without data). */
  rows: number;
  /** The type decodeImage returns (astropy's dtype). */
  type: NumericType;
  /** BLANK when it applies (integer BITPIX, not an unsigned convention). */
  blank?: number | bigint;
}

const FLOAT32_MAX = 3.4028234663852886e38;

/** Whether a header value equals the integer `target` exactly (astropy compares Python ints and floats). */
export function equalsExactly(v: CardValue | undefined, target: bigint): boolean {
  if (typeof v === 'bigint') return v === target;
  if (typeof v === 'number') return Number.isFinite(v) && Number.isInteger(v) && BigInt(v) === target;
  return false;
}

function numberOr(file: string, hdu: Hdu, key: string, fallback: number): number {
  const v = hdu.header.get(key);
  if (v === undefined) return fallback;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new FitsError('BAD_HEADER', file, `${key} must be a number`, hdu.name || hdu.index, key);
}

function rawType(bitpix: number): NumericType {
  switch (bitpix) {
    case 8: return 'uint8';
    case 16: return 'int16';
    case 32: return 'int32';
    case 64: return 'int64';
    case -32: return 'float32';
    default: return 'float64';
  }
}

/**
 * The layout and result type of an image HDU: BITPIX, axes, scaling, rows along the last axis. BAD_HEADER
 * for a table HDU or invalid keywords, UNSUPPORTED for random groups.
 */
export function imageInfo(file: string, hdu: Hdu): ImageInfo {
  const label = hdu.name || hdu.index;
  if (hdu.kind !== 'primary' && hdu.kind !== 'image') {
    throw new FitsError('BAD_HEADER', file, `HDU is a ${hdu.kind}, not an image`, label);
  }
  const h = hdu.header;
  const bitpix = h.requireInt('BITPIX');
  const naxis = h.requireInt('NAXIS');
  const axes: number[] = [];
  for (let i = 1; i <= naxis; i++) axes.push(h.requireInt(`NAXIS${i}`));
  if (hdu.kind === 'primary' && naxis > 0 && axes[0] === 0 && h.has('GROUPS') && h.get('GROUPS') === true) {
    throw new FitsError('UNSUPPORTED', file, 'random-groups data is not decoded (its size is known, so it can be skipped)', label);
  }
  const bscale = numberOr(file, hdu, 'BSCALE', 1);
  const bzero = numberOr(file, hdu, 'BZERO', 0);
  const bzeroRaw = h.get('BZERO');
  let blankRaw = bitpix > 0 ? h.get('BLANK') : undefined;
  if (blankRaw !== undefined && typeof blankRaw !== 'bigint' && !(typeof blankRaw === 'number' && h.card('BLANK')?.kind === 'integer')) {
    blankRaw = undefined; // astropy ignores (with a warning) a BLANK that is not an integer
  }
  const blank = blankRaw as number | bigint | undefined;

  let type = rawType(bitpix);
  let unsigned = false;
  if (bscale === 1) {
    if (bitpix === 8 && equalsExactly(bzeroRaw, -128n)) type = 'int8';
    else if (bitpix === 16 && equalsExactly(bzeroRaw, 32768n)) type = 'uint16';
    else if (bitpix === 32 && equalsExactly(bzeroRaw, 2147483648n)) type = 'uint32';
    else if (bitpix === 64 && equalsExactly(bzeroRaw, 9223372036854775808n)) type = 'uint64';
    unsigned = type !== rawType(bitpix);
  }
  if (type === 'int8' && blank !== undefined) {
    throw new FitsError('UNSUPPORTED', file, 'BLANK with the signed-byte convention (BZERO = -128) cannot be represented', label, 'BLANK');
  }
  const scaled = bscale !== 1 || bzero !== 0 || blank !== undefined;
  if (scaled && !unsigned && bitpix > 0) type = bitpix > 16 ? 'float64' : 'float32';

  const bytesPerValue = Math.abs(bitpix) / 8;
  let rows = 0;
  let rowLength = 0;
  if (naxis === 1) {
    rows = 1;
    rowLength = axes[0];
  } else if (naxis > 1) {
    rowLength = axes.slice(0, -1).reduce((a, b) => a * b, 1);
    rows = axes[naxis - 1];
  }
  const info: ImageInfo = { bitpix, axes, bscale, bzero, bytesPerValue, rowLength, rows, type };
  if (blank !== undefined && !unsigned) info.blank = blank;
  return info;
}

/**
 * The absolute byte range [start, end) holding rows [firstRow, endRow) along the last axis: what to slice
 * from the source to decode only those rows. RangeError for rows outside the image.
 */
export function imageRowsRange(info: ImageInfo, hdu: Hdu, firstRow: number, endRow: number): { start: number; end: number } {
  if (!Number.isSafeInteger(firstRow) || !Number.isSafeInteger(endRow) || firstRow < 0 || endRow < firstRow || endRow > info.rows) {
    throw new RangeError(`rows [${firstRow}, ${endRow}) are outside the ${info.rows} rows of HDU ${hdu.name || hdu.index}`);
  }
  const rowBytes = info.rowLength * info.bytesPerValue;
  return { start: hdu.dataStart + firstRow * rowBytes, end: hdu.dataStart + endRow * rowBytes };
}

/** A float32 computation's operand the way numpy's legacy value-based casting sees a Python scalar. */
function float32Operand(x: number): number {
  return Number.isFinite(x) && Math.abs(x) > FLOAT32_MAX ? x : Math.fround(x);
}

/**
 * Decodes raw big-endian image bytes (a whole number of values, e.g. some rows) into astropy's values and
 * type (see the module comment). Swaps `bytes` in place when it can, so the caller must not reuse them.
 */
export function decodeImage(file: string, hdu: Hdu, info: ImageInfo, bytes: Uint8Array): ImageArray {
  const bpv = info.bytesPerValue;
  if (bytes.byteLength % bpv !== 0) {
    throw new RangeError(`${file}: HDU ${hdu.name || hdu.index}: ${bytes.byteLength} bytes is not a whole number of ${bpv}-byte values`);
  }
  const u8 = swapInPlace(aligned(bytes, bpv), bpv);
  const n = u8.byteLength / bpv;
  const buf = u8.buffer;
  const off = u8.byteOffset;
  const { bitpix, type } = info;

  // Unsigned conventions: adding 2^(bits-1) to a two's-complement value is flipping its top bit.
  if (type === 'int8') {
    for (let i = 0; i < n; i++) u8[i] ^= 0x80;
    return new Int8Array(buf, off, n);
  }
  if (type === 'uint16') {
    const v = new Uint16Array(buf, off, n);
    for (let i = 0; i < n; i++) v[i] ^= 0x8000;
    return v;
  }
  if (type === 'uint32') {
    const v = new Uint32Array(buf, off, n);
    for (let i = 0; i < n; i++) v[i] ^= 0x80000000;
    return v;
  }
  if (type === 'uint64') {
    const words = new Uint32Array(buf, off, n * 2);
    const hi = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
    for (let i = 0; i < n; i++) words[2 * i + hi] ^= 0x80000000;
    return new BigUint64Array(buf, off, n);
  }

  const raw = rawView(bitpix, buf, off, n);
  if (type === rawType(bitpix)) {
    if (info.bscale === 1 && info.bzero === 0) return raw;
    return scaleInPlace(raw as Float32Array | Float64Array, info.bscale, info.bzero, type === 'float32');
  }

  // Integers scaled (or with BLANK) to floats.
  let out: Float32Array | Float64Array;
  if (bitpix === 64) out = int64ToFloat64(u8);
  else {
    out = type === 'float32' ? new Float32Array(n) : new Float64Array(n);
    out.set(raw as Uint8Array | Int16Array | Int32Array);
  }
  if (info.bscale !== 1 || info.bzero !== 0) scaleInPlace(out, info.bscale, info.bzero, type === 'float32');
  if (info.blank !== undefined && info.blank !== 0 && info.blank !== 0n) markBlanks(raw, out, info.blank);
  return out;
}

function rawView(bitpix: number, buf: ArrayBufferLike, off: number, n: number): ImageArray {
  switch (bitpix) {
    case 8: return new Uint8Array(buf, off, n);
    case 16: return new Int16Array(buf, off, n);
    case 32: return new Int32Array(buf, off, n);
    case 64: return new BigInt64Array(buf, off, n);
    case -32: return new Float32Array(buf, off, n);
    default: return new Float64Array(buf, off, n);
  }
}

/** values = values * scale (if scale != 1), then + zero (if zero != 0), rounded as numpy does. */
export function scaleInPlace<T extends Float32Array | Float64Array>(values: T, scale: number, zero: number, f32: boolean): T {
  const n = values.length;
  if (f32) {
    const s = float32Operand(scale);
    const z = float32Operand(zero);
    if (scale !== 1) for (let i = 0; i < n; i++) values[i] = values[i] * s;
    if (zero !== 0) for (let i = 0; i < n; i++) values[i] = values[i] + z;
  } else {
    if (scale !== 1) for (let i = 0; i < n; i++) values[i] = values[i] * scale;
    if (zero !== 0) for (let i = 0; i < n; i++) values[i] = values[i] + zero;
  }
  return values;
}

function markBlanks(raw: ImageArray, out: Float32Array | Float64Array, blank: number | bigint): void {
  if (raw instanceof BigInt64Array) {
    const b = BigInt(blank);
    for (let i = 0; i < raw.length; i++) if (raw[i] === b) out[i] = NaN;
    return;
  }
  const b = Number(blank);
  const r = raw as Uint8Array | Int16Array | Int32Array;
  for (let i = 0; i < r.length; i++) if (r[i] === b) out[i] = NaN;
}
