/**
 * Binary-table field formats (FITS 4.0 section 7.3.1): TFORMn = rT[a] with repeat r and type code T,
 * P/Q descriptors as rPt(max) / rQt(max), and TDIMn = (d1,d2,...) with the fastest axis first; parsed for
 * the reader, formatted for the writer.
 */

import { FitsError } from './errors.js';

export type TformCode = 'L' | 'X' | 'B' | 'I' | 'J' | 'K' | 'A' | 'E' | 'D' | 'C' | 'M' | 'P' | 'Q';

export interface Tform {
  /** Repeat count r (1 when omitted). For X it counts bits. */
  repeat: number;
  code: TformCode;
  /** Bytes the field takes in a row. */
  width: number;
  /** For P and Q: the code of the array elements in the heap. */
  varCode?: TformCode;
  /** For P and Q: the declared maximum element count, when given. */
  varMax?: number;
}

/** Bytes of one element of each fixed type (X is per 8 bits, P and Q per descriptor). */
export const ELEMENT_BYTES: Record<TformCode, number> = {
  L: 1,
  X: 1,
  B: 1,
  I: 2,
  J: 4,
  K: 8,
  A: 1,
  E: 4,
  D: 8,
  C: 8,
  M: 16,
  P: 8,
  Q: 16,
};

// astropy's TFORMAT_RE: case-insensitive code, anything printable after it (e.g. the "w" of rAw).
const TFORM_RE = /^([0-9]*)([LXBIJKAEDCMPQ])([!-~]*)$/i;
const VAR_RE = /^([LXBIJKAEDCM])(?:\((\d*)\))?$/;
const TDIM_RE = /^\(\s*(\d+\s*(?:,\s*\d+\s*)*)\)\s*$/;

/** Bytes a field of `repeat` elements of `code` takes (X packs 8 bits a byte). */
export function fieldWidth(code: TformCode, repeat: number): number {
  return code === 'X' ? Math.ceil(repeat / 8) : repeat * ELEMENT_BYTES[code];
}

/** TFORMn text for `repeat` elements of `code`: the repeat is left out when it is 1, except for A. */
export function formatTform(code: TformCode, repeat: number): string {
  return code === 'A' || repeat !== 1 ? `${repeat}${code}` : code;
}

/**
 * Parses TFORMn of a binary table; BAD_TFORM naming the key when the code is unknown, the repeat count is
 * not a safe integer, or a P/Q descriptor lacks its element type or repeats more than once.
 */
export function parseTform(file: string, hdu: string | number, key: string, tform: string): Tform {
  const m = TFORM_RE.exec(tform.trim());
  if (!m) throw new FitsError('BAD_TFORM', file, `unknown or malformed binary-table format '${tform}'`, hdu, key);
  const repeat = m[1] === '' ? 1 : Number(m[1]);
  if (!Number.isSafeInteger(repeat)) {
    throw new FitsError('BAD_TFORM', file, `repeat count of '${tform}' is too large`, hdu, key);
  }
  const code = m[2].toUpperCase() as TformCode;
  if (code === 'P' || code === 'Q') {
    const v = VAR_RE.exec(m[3]);
    if (!v) {
      throw new FitsError('BAD_TFORM', file, `variable-length format '${tform}' lacks a valid element type, as in 1PE(max)`, hdu, key);
    }
    if (repeat > 1) {
      throw new FitsError('BAD_TFORM', file, `variable-length format '${tform}' has a repeat count above 1`, hdu, key);
    }
    const varMax = v[2] !== undefined && v[2] !== '' ? Number(v[2]) : undefined;
    return { repeat, code, width: fieldWidth(code, repeat), varCode: v[1] as TformCode, varMax };
  }
  const width = fieldWidth(code, repeat);
  if (!Number.isSafeInteger(width)) {
    throw new FitsError('BAD_TFORM', file, `field width of '${tform}' is too large`, hdu, key);
  }
  return { repeat, code, width };
}

/** Parses TDIMn "(d1,d2,...)" into its axes, fastest first; BAD_TFORM naming the key when malformed. */
export function parseTdim(file: string, hdu: string | number, key: string, tdim: string): number[] {
  const m = TDIM_RE.exec(tdim.trim());
  if (!m) throw new FitsError('BAD_TFORM', file, `malformed dimensions '${tdim}', expected (d1,d2,...)`, hdu, key);
  const dims = m[1].split(',').map((d) => Number(d.trim()));
  if (dims.some((d) => !Number.isSafeInteger(d))) {
    throw new FitsError('BAD_TFORM', file, `dimension in '${tdim}' is too large`, hdu, key);
  }
  return dims;
}

/** TDIMn text "(d1,d2,...)" for axes given fastest first. */
export function formatTdim(dims: number[]): string {
  return `(${dims.join(',')})`;
}
