/**
 * Numeric FITS data, shared by images, binary tables and the writer: the typed array of each numeric type,
 * the type each BITPIX and TFORM code stores, the offset conventions that keep unsigned integers (and, in
 * images, signed bytes) in signed storage, masks of the values equal to a null value, scaling rounded as
 * numpy rounds it, and the header numbers (BSCALE/BZERO, TSCALn/TZEROn) these rules read.
 */

import type { CardValue } from './card.js';
import { FitsError } from './errors.js';
import type { Hdu } from './hdu.js';
import { LITTLE_ENDIAN } from './byteorder.js';
import type { TformCode } from './tform.js';

export type NumericType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64';

/** The values of one numeric type: the typed array NUMERIC_ARRAYS gives for it. */
export type NumericArray =
  Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array | Float32Array | Float64Array;

interface NumericArrayClass {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
}

/** The typed-array class of each numeric type. */
export const NUMERIC_ARRAYS: Record<NumericType, NumericArrayClass> = {
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  float32: Float32Array,
  float64: Float64Array,
};

/** The type stored by a BITPIX (8 uint8, 16 int16, 32 int32, 64 int64, -32 float32, -64 float64). */
export function bitpixType(bitpix: number): NumericType {
  switch (bitpix) {
    case 8:
      return 'uint8';
    case 16:
      return 'int16';
    case 32:
      return 'int32';
    case 64:
      return 'int64';
    case -32:
      return 'float32';
    default:
      return 'float64';
  }
}

/** Bytes of one value of a BITPIX. */
export function bitpixBytes(bitpix: number): number {
  return Math.abs(bitpix) / 8;
}

/** The type stored by each numeric TFORM code. */
export const TFORM_TYPES: Partial<Record<TformCode, NumericType>> = {
  B: 'uint8',
  I: 'int16',
  J: 'int32',
  K: 'int64',
  E: 'float32',
  D: 'float64',
};

/** An offset convention: stored integers plus `zero` (BZERO or TZEROn with scale 1) are values of `type`. */
export interface OffsetConvention {
  type: NumericType;
  zero: bigint;
}

const OFFSET_CONVENTIONS: Partial<Record<NumericType, OffsetConvention>> = {
  uint8: { type: 'int8', zero: -128n },
  int16: { type: 'uint16', zero: 32768n },
  int32: { type: 'uint32', zero: 2147483648n },
  int64: { type: 'uint64', zero: 9223372036854775808n },
};

/**
 * The offset convention of a stored integer type, or undefined for floats. Tables have no signed-byte
 * convention (astropy's tables read B with TZEROn = -128 as scaled floats), so `table` leaves uint8 out.
 */
export function offsetConvention(stored: NumericType, table: boolean): OffsetConvention | undefined {
  if (table && stored === 'uint8') return undefined;
  return OFFSET_CONVENTIONS[stored];
}

/**
 * Applies an offset convention to `size`-byte integers in place, either way: adding 2^(bits-1) modulo
 * 2^bits (or subtracting it, the same thing) is flipping the top bit. `bigEndian` says where each value's
 * top byte is: true for FITS order, false (the default on little-endian hosts) for native order.
 */
export function flipTopBits(u8: Uint8Array, size: number, bigEndian = !LITTLE_ENDIAN): void {
  for (let i = bigEndian ? 0 : size - 1; i < u8.byteLength; i += size) u8[i] ^= 0x80;
}

/** A typed-array view of `type` over native-order bytes (aligned for the type, a whole number of values). */
export function viewAs(type: NumericType, u8: Uint8Array): NumericArray {
  const Class = NUMERIC_ARRAYS[type];
  return new Class(u8.buffer, u8.byteOffset, u8.byteLength / Class.BYTES_PER_ELEMENT);
}

/** The bytes under a typed array (a view, not a copy). */
export function bytesOf(values: NumericArray): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** Whether a header value equals the integer `target` exactly (astropy compares Python ints and floats). */
export function equalsExactly(v: CardValue | undefined, target: bigint): boolean {
  if (typeof v === 'bigint') return v === target;
  if (typeof v === 'number') return Number.isFinite(v) && Number.isInteger(v) && BigInt(v) === target;
  return false;
}

/**
 * 1 where a stored integer equals `target` exactly (BLANK, TNULLn), or undefined when none does. Only
 * integer arrays of the stored types are compared (uint8, int16, int32, int64); int64 values are compared
 * by their two 32-bit words, so no bigint is made per value.
 */
export function equalMask(raw: NumericArray, target: number | bigint): Uint8Array | undefined {
  let mask: Uint8Array | undefined;
  if (raw instanceof BigInt64Array) {
    const b = BigInt(target);
    if (BigInt.asIntN(64, b) !== b) return undefined; // outside int64: equal to no stored value
    const t = BigInt.asUintN(64, b);
    const hiT = Number(t >> 32n);
    const loT = Number(t & 0xffffffffn);
    const words = new Uint32Array(raw.buffer, raw.byteOffset, raw.length * 2);
    const hi = LITTLE_ENDIAN ? 1 : 0;
    for (let i = 0; i < raw.length; i++) {
      if (words[2 * i + hi] === hiT && words[2 * i + 1 - hi] === loT) (mask ??= new Uint8Array(raw.length))[i] = 1;
    }
    return mask;
  }
  const t = Number(target);
  const r = raw as Uint8Array | Int16Array | Int32Array;
  for (let i = 0; i < r.length; i++) if (r[i] === t) (mask ??= new Uint8Array(r.length))[i] = 1;
  return mask;
}

const FLOAT32_MAX = 3.4028234663852886e38;

/** A float32 computation's operand the way numpy's legacy value-based casting sees a Python scalar. */
function float32Operand(x: number): number {
  return Number.isFinite(x) && Math.abs(x) > FLOAT32_MAX ? x : Math.fround(x);
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

/**
 * A scaling keyword's value as a number (a bigint rounded to the nearest double), `fallback` when absent,
 * with the value as written (for exact comparisons); BAD_HEADER naming the key when it is not a number.
 */
export function headerNumber(file: string, hdu: Hdu, key: string, fallback: number): { value: number; raw: CardValue | undefined } {
  const raw = hdu.header.get(key);
  if (raw === undefined) return { value: fallback, raw };
  if (typeof raw === 'number') return { value: raw, raw };
  if (typeof raw === 'bigint') return { value: Number(raw), raw };
  throw new FitsError('BAD_HEADER', file, `${key} must be a number`, hdu.name || hdu.index, key);
}
