/**
 * What the writer is asked to write: image and binary-table HDUs described by their type, shape and
 * columns, the data sizes that follow, and the mandatory and structural header cards of each (TFORM
 * codes, element sizes and the unsigned conventions taken from the reader's tform.ts and numeric.ts).
 */

import type { Card } from './card.js';
import { needsLongstrn } from './card-format.js';
import { bitpixBytes, bitpixType, offsetConvention, TFORM_TYPES } from './numeric.js';
import { fieldWidth, formatTdim, formatTform, type TformCode } from './tform.js';

export type Bitpix = 8 | 16 | 32 | -32 | -64;

export interface ImageSpec {
  extname?: string;
  bitpix: Bitpix;
  /** NAXIS1 (fastest) first, as in the header. */
  naxes: number[];
  /** For BITPIX 16/32: store unsigned values with BZERO = 2^(BITPIX-1) (data then come as Uint16/Uint32Array). */
  unsigned?: boolean;
  cards?: Card[];
}

/** The TFORM codes the writer writes: fixed-width fields of logicals, numbers and characters. */
export type WritableTformCode = Extract<TformCode, 'L' | 'B' | 'I' | 'J' | 'K' | 'A' | 'E' | 'D'>;

export interface ColumnSpec {
  name: string;
  tform: WritableTformCode;
  /** Repeat count (string length for A); 1 when absent. */
  repeat?: number;
  tdim?: number[];
  /** For I/J/K: unsigned values through TZERO = 2^(bits-1) (data then come as Uint16/Uint32/BigUint64Array). */
  unsigned?: boolean;
  unit?: string;
  comment?: string;
}

export interface BinTableSpec {
  extname: string;
  columns: ColumnSpec[];
  nrows: number;
  cards?: Card[];
}

/** NAXIS1 of a binary table: the width of one row in bytes. */
export function rowBytes(columns: ColumnSpec[]): number {
  return columns.reduce((sum, c) => sum + fieldWidth(c.tform, c.repeat ?? 1), 0);
}

/** The data bytes (unpadded) of an image: product of NAXISn times the element size. */
export function imageDataBytes(spec: ImageSpec): number {
  return spec.naxes.reduce((p, n) => p * n, bitpixBytes(spec.bitpix));
}

/** The mandatory and structural cards of an image extension followed by the caller's. */
export function imageHeaderCards(spec: ImageSpec): Card[] {
  const cards: Card[] = [
    { key: 'XTENSION', value: 'IMAGE', comment: 'Image extension' },
    { key: 'BITPIX', value: spec.bitpix, comment: 'array data type' },
    { key: 'NAXIS', value: spec.naxes.length, comment: 'number of array dimensions' },
    ...spec.naxes.map((n, i) => ({ key: `NAXIS${i + 1}`, value: n })),
    { key: 'PCOUNT', value: 0, comment: 'number of parameters' },
    { key: 'GCOUNT', value: 1, comment: 'number of groups' },
  ];
  if (spec.unsigned) {
    if (spec.bitpix !== 16 && spec.bitpix !== 32) throw new Error(`FITS writer: unsigned needs BITPIX 16 or 32, not ${spec.bitpix}`);
    const bzero = Number(offsetConvention(bitpixType(spec.bitpix), false)!.zero);
    cards.push({ key: 'BSCALE', value: 1 }, { key: 'BZERO', value: bzero });
  }
  if (spec.extname !== undefined) cards.push({ key: 'EXTNAME', value: spec.extname, comment: 'extension name' });
  return cards.concat(spec.cards ?? []);
}

function tformText(c: ColumnSpec): string {
  const repeat = c.repeat ?? 1;
  if (!Number.isSafeInteger(repeat) || repeat < 0) throw new Error(`FITS writer: column ${c.name} has a bad repeat ${repeat}`);
  return formatTform(c.tform, repeat);
}

/** TZEROn of an unsigned column (I, J or K), or undefined for other codes. */
function unsignedTzero(code: WritableTformCode): bigint | undefined {
  const stored = TFORM_TYPES[code];
  return stored === undefined ? undefined : offsetConvention(stored, true)?.zero;
}

/** The mandatory and column cards of a binary table followed by the caller's. */
export function binTableHeaderCards(spec: BinTableSpec): Card[] {
  const cards: Card[] = [
    { key: 'XTENSION', value: 'BINTABLE', comment: 'binary table extension' },
    { key: 'BITPIX', value: 8, comment: 'array data type' },
    { key: 'NAXIS', value: 2, comment: 'number of array dimensions' },
    { key: 'NAXIS1', value: rowBytes(spec.columns), comment: 'length of dimension 1' },
    { key: 'NAXIS2', value: spec.nrows, comment: 'length of dimension 2' },
    { key: 'PCOUNT', value: 0, comment: 'number of group parameters' },
    { key: 'GCOUNT', value: 1, comment: 'number of groups' },
    { key: 'TFIELDS', value: spec.columns.length, comment: 'number of table fields' },
  ];
  spec.columns.forEach((c, i) => {
    const n = i + 1;
    cards.push({ key: `TTYPE${n}`, value: c.name, comment: c.comment });
    cards.push({ key: `TFORM${n}`, value: tformText(c) });
    if (c.unsigned) {
      const tzero = unsignedTzero(c.tform);
      if (tzero === undefined) throw new Error(`FITS writer: column ${c.name}: unsigned needs TFORM I, J or K`);
      cards.push({ key: `TZERO${n}`, value: tzero });
    }
    if (c.unit !== undefined) cards.push({ key: `TUNIT${n}`, value: c.unit });
    if (c.tdim !== undefined) {
      const product = c.tdim.reduce((p, d) => p * d, 1);
      if (product !== (c.repeat ?? 1)) throw new Error(`FITS writer: column ${c.name}: TDIM ${c.tdim.join(',')} does not match repeat ${c.repeat ?? 1}`);
      cards.push({ key: `TDIM${n}`, value: formatTdim(c.tdim) });
    }
  });
  cards.push({ key: 'EXTNAME', value: spec.extname, comment: 'extension name' });
  return cards.concat(spec.cards ?? []);
}

/** The primary header of a header-only PRIMARY HDU, with LONGSTRN added when a long string needs it. */
export function primaryHeaderCards(cards: Card[]): Card[] {
  const out: Card[] = [
    { key: 'SIMPLE', value: true, comment: 'conforms to FITS standard' },
    { key: 'BITPIX', value: 8, comment: 'array data type' },
    { key: 'NAXIS', value: 0, comment: 'number of array dimensions' },
    { key: 'EXTEND', value: true },
  ];
  if (needsLongstrn(cards) && !cards.some((c) => c.key.toUpperCase() === 'LONGSTRN')) {
    out.push({ key: 'LONGSTRN', value: 'OGIP 1.0', comment: 'The OGIP long string convention may be used' });
  }
  return out.concat(cards);
}
