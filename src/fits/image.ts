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
import {
  bitpixBytes,
  bitpixType,
  equalMask,
  equalsExactly,
  flipTopBits,
  headerNumber,
  offsetConvention,
  scaleInPlace,
  viewAs,
  type NumericArray,
  type NumericType,
} from './numeric.js';

/** The values decodeImage returns: a typed array of the image's numeric type. */
export type ImageArray = NumericArray;

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
  const { value: bscale } = headerNumber(file, hdu, 'BSCALE', 1);
  const { value: bzero, raw: bzeroRaw } = headerNumber(file, hdu, 'BZERO', 0);
  let blankRaw = bitpix > 0 ? h.get('BLANK') : undefined;
  if (blankRaw !== undefined && typeof blankRaw !== 'bigint' && !(typeof blankRaw === 'number' && h.card('BLANK')?.kind === 'integer')) {
    blankRaw = undefined; // astropy ignores (with a warning) a BLANK that is not an integer
  }
  const blank = blankRaw;

  let type = bitpixType(bitpix);
  let unsigned = false;
  const convention = offsetConvention(type, false);
  if (bscale === 1 && convention !== undefined && equalsExactly(bzeroRaw, convention.zero)) {
    type = convention.type;
    unsigned = true;
  }
  if (type === 'int8' && blank !== undefined) {
    throw new FitsError('UNSUPPORTED', file, 'BLANK with the signed-byte convention (BZERO = -128) cannot be represented', label, 'BLANK');
  }
  const scaled = bscale !== 1 || bzero !== 0 || blank !== undefined;
  if (scaled && !unsigned && bitpix > 0) type = bitpix > 16 ? 'float64' : 'float32';

  const bytesPerValue = bitpixBytes(bitpix);
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
  const { bitpix, type } = info;
  const stored = bitpixType(bitpix);

  // Offset conventions (int8, uint16, uint32, uint64): the top bit of each value flipped.
  if (offsetConvention(stored, false)?.type === type) {
    flipTopBits(u8, bpv);
    return viewAs(type, u8);
  }

  const raw = viewAs(stored, u8);
  if (type === stored) {
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
  if (info.blank !== undefined && info.blank !== 0 && info.blank !== 0n) {
    const blanks = equalMask(raw, info.blank);
    if (blanks) for (let i = 0; i < n; i++) if (blanks[i] === 1) out[i] = NaN;
  }
  return out;
}
