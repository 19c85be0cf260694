/**
 * Native values to stored FITS bytes, for the writer: image pixels and binary-table columns come as typed
 * arrays in host order (strings and logicals as arrays), are checked against the type their BITPIX or
 * TFORM stores (numeric.ts), and are turned big-endian with byteorder.ts's swap, the top bit flipped for
 * the unsigned conventions. Only the writer's own copies are converted; callers' arrays are never touched.
 */

import { swapInPlace } from './byteorder.js';
import { checkAscii } from './card-format.js';
import type { ColumnSpec, ImageSpec } from './hdu-spec.js';
import { bitpixType, bytesOf, flipTopBits, NUMERIC_ARRAYS, offsetConvention, TFORM_TYPES, type NumericArray, type NumericType } from './numeric.js';
import { ELEMENT_BYTES } from './tform.js';

/** The typed arrays the writer takes: every numeric type but int8 (which the writer has no convention for). */
export type WritableArray = Exclude<NumericArray, Int8Array>;

/**
 * Native values of one column for a chunk of rows, as the writer takes them: `rows × repeat` numbers or
 * logicals, or one string per row (the reader's decoded counterpart is bintable.ts's ColumnData).
 */
export type ColumnValues = WritableArray | string[] | boolean[];

/** Turns native elements of `size` bytes to big-endian in place, and flips the top bit for unsigned storage. */
export function toFitsOrder(u8: Uint8Array, size: number, unsigned: boolean): void {
  swapInPlace(u8, size);
  if (unsigned) flipTopBits(u8, size, true);
}

function expectArray(data: ColumnValues, type: NumericType, what: string): asserts data is WritableArray {
  if (!(data instanceof NUMERIC_ARRAYS[type])) throw new Error(`FITS writer: ${what} got ${data.constructor.name}`);
}

/** The type `stored` holds, or its unsigned counterpart under the offset convention. */
function writtenType(stored: NumericType, unsigned: boolean, table: boolean): NumericType {
  return (unsigned ? offsetConvention(stored, table)?.type : undefined) ?? stored;
}

/** Throws unless `data` is the typed array of the image's kind (Uint16/Uint32Array for unsigned). */
export function checkPixels(spec: ImageSpec, data: WritableArray): void {
  const u = spec.unsigned === true;
  const type = writtenType(bitpixType(spec.bitpix), u, false);
  expectArray(data, type, `image ${spec.extname ?? ''} with BITPIX ${spec.bitpix}${u ? ' (unsigned)' : ''}`);
}

/** Throws unless `data` is the typed array of the numeric column's TFORM (Uint for unsigned). */
function checkColumnArray(c: ColumnSpec, data: ColumnValues): asserts data is WritableArray {
  const u = c.unsigned === true;
  const type = writtenType(TFORM_TYPES[c.tform]!, u, true);
  expectArray(data, type, `column ${c.name} (TFORM ${c.tform}${u ? ', unsigned' : ''})`);
}

/** The stored bytes of `rows` rows of one column, `width` bytes per row, in row order. */
export function encodeColumn(c: ColumnSpec, data: ColumnValues, rows: number, width: number): Buffer {
  const repeat = c.repeat ?? 1;
  if (c.tform === 'A') {
    if (!Array.isArray(data) || data.length !== rows) throw new Error(`FITS writer: column ${c.name} needs ${rows} strings`);
    const out = Buffer.alloc(rows * width, 0x20);
    (data as unknown[]).forEach((s, r) => {
      if (typeof s !== 'string') throw new Error(`FITS writer: column ${c.name} row ${r} is not a string`);
      checkAscii(s, `column ${c.name} row ${r}`);
      if (s.length > repeat) throw new Error(`FITS writer: column ${c.name} row ${r}: ${JSON.stringify(s)} is longer than ${repeat}`);
      out.write(s, r * width, 'latin1');
    });
    return out;
  }
  if (c.tform === 'L') {
    const n = rows * repeat;
    if (data.length !== n) throw new Error(`FITS writer: column ${c.name} needs ${n} logicals, got ${data.length}`);
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      const v = (data as ArrayLike<unknown>)[i];
      out[i] = v === true || v === 1 ? 0x54 : 0x46;
    }
    return out;
  }
  checkColumnArray(c, data);
  if (data.length !== rows * repeat) throw new Error(`FITS writer: column ${c.name} needs ${rows * repeat} values, got ${data.length}`);
  const out = Buffer.from(bytesOf(data)); // a copy: the caller's array is never touched
  toFitsOrder(out, ELEMENT_BYTES[c.tform], c.unsigned === true);
  return out;
}
