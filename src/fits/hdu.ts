/**
 * Header-data units: where each HDU's header and data sit in the file. scanHdus reads headers block by
 * block through ByteSource.slice and jumps over data by arithmetic (FITS 4.0 section 4.4.1.1:
 * data bytes = |BITPIX|/8 * GCOUNT * (PCOUNT + NAXIS1 * ... * NAXISn), NAXIS1 left out of the product for
 * random groups), so it never reads data it is not asked for.
 */

import type { ByteSource } from './source.js';
import { BLOCK_LENGTH, padToBlock } from './block.js';
import { type Card, CARD_LENGTH, badCardByte, parseCard, parseCards } from './card.js';
import { FitsError } from './errors.js';
import { Header } from './header.js';
import { bitpixBytes } from './numeric.js';

export type HduKind = 'primary' | 'image' | 'bintable' | 'table' | 'unknown';

export interface Hdu {
  /** 0 = primary. */
  index: number;
  /** EXTNAME trimmed, or 'PRIMARY' for index 0 without EXTNAME, or '' otherwise. */
  name: string;
  kind: HduKind;
  header: Header;
  /** Absolute byte offset of the header in the file. */
  headerStart: number;
  /** Absolute byte offset of the data, a multiple of 2880. */
  dataStart: number;
  /** Bytes of data including any heap, without the padding to a whole block. */
  dataLength: number;
  /** Absolute offset of the next HDU: dataStart + dataLength rounded up to a block. */
  end: number;
}

/** A header with no END card within this many 2880-byte blocks is refused (NO_END). */
export const MAX_HEADER_BLOCKS = 10_000;
const FIRST_CHUNK_BLOCKS = 4;
const MAX_CHUNK_BLOCKS = 64;

function ascii(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1');
}

/**
 * Reads a file's headers in chunks, keeping the last chunk: a chunk often holds the next, small HDUs'
 * headers too, which are then not fetched again.
 */
class ChunkReader {
  private start = 0;
  private bytes: Uint8Array = new Uint8Array(0);
  constructor(private readonly src: ByteSource) {}

  /** Bytes from `pos` on: those of the last chunk when it holds a whole block there, else up to `want` fresh ones. */
  async from(pos: number, want: number): Promise<Uint8Array> {
    const cachedEnd = this.start + this.bytes.byteLength;
    if (pos >= this.start && pos < cachedEnd && (pos + BLOCK_LENGTH <= cachedEnd || cachedEnd === this.src.byteLength)) {
      return this.bytes.subarray(pos - this.start);
    }
    const end = Math.min(pos + want, this.src.byteLength);
    this.bytes = end > pos ? await this.src.slice(pos, end) : new Uint8Array(0);
    this.start = pos;
    return this.bytes;
  }
}

/**
 * Reads the card images of the header starting at `start` (up to, not including, END), a few blocks at a
 * time. Returns the images and the offset just past the header's last block, or undefined when `start` is
 * past the primary and the bytes there do not begin an XTENSION header (special records or padding).
 */
async function readHeaderImages(
  reader: ChunkReader,
  src: ByteSource,
  start: number,
  index: number,
): Promise<{ images: string[]; dataStart: number } | undefined> {
  const file = src.name;
  const images: string[] = [];
  let blocks = 0;
  let chunkBlocks = FIRST_CHUNK_BLOCKS;
  let pos = start;
  for (;;) {
    if (blocks >= MAX_HEADER_BLOCKS) {
      throw new FitsError('NO_END', file, `no END card in the first ${MAX_HEADER_BLOCKS} blocks of the header at byte ${start}`, labelOf(images, index));
    }
    const limit = (MAX_HEADER_BLOCKS - blocks) * BLOCK_LENGTH;
    const bytes = await reader.from(pos, Math.min(chunkBlocks * BLOCK_LENGTH, limit));
    const whole = Math.min(Math.floor(bytes.byteLength / BLOCK_LENGTH) * BLOCK_LENGTH, limit);
    if (blocks === 0) {
      if (index === 0) checkPrimaryStart(file, bytes);
      else {
        const head = ascii(bytes, 0, Math.min(8, bytes.byteLength));
        if (!'XTENSION'.startsWith(head) || head === '') return undefined;
      }
    }
    for (let at = 0; at < whole; at += CARD_LENGTH) {
      if (bytes[at] === 0x45 && ascii(bytes, at, at + 8) === 'END     ') {
        return { images, dataStart: pos + padToBlock(at + CARD_LENGTH) };
      }
      const bad = badCardByte(bytes, at);
      if (bad >= 0) {
        const b = bytes[at + bad];
        throw new FitsError(
          'BAD_HEADER',
          file,
          `non-ASCII byte 0x${b.toString(16).padStart(2, '0')} in header card ${images.length + 1} (file byte ${pos + at + bad})`,
          labelOf(images, index),
        );
      }
      images.push(ascii(bytes, at, at + CARD_LENGTH));
    }
    if (pos + whole + BLOCK_LENGTH > src.byteLength) {
      // name the HDU from the complete cards of the partial block, when EXTNAME is among them
      for (let at = whole; at + CARD_LENGTH <= bytes.byteLength && badCardByte(bytes, at) < 0; at += CARD_LENGTH) {
        images.push(ascii(bytes, at, at + CARD_LENGTH));
      }
      throw new FitsError(
        'TRUNCATED',
        file,
        `the file ends (at byte ${src.byteLength}) inside the header that starts at byte ${start}, before its END card`,
        labelOf(images, index),
      );
    }
    blocks += whole / BLOCK_LENGTH;
    pos += whole;
    chunkBlocks = Math.min(chunkBlocks * 2, MAX_CHUNK_BLOCKS);
  }
}

/** EXTNAME if the cards read so far hold it, else the HDU index: how errors name the HDU. */
function labelOf(images: string[], index: number): string | number {
  for (const image of images) {
    if (image.startsWith('EXTNAME ')) {
      const card = parseCard(image);
      if (typeof card.value === 'string' && card.value.trim() !== '') return card.value.trim();
    }
  }
  return index;
}

/** NOT_FITS unless the file starts with a SIMPLE = T card. */
function checkPrimaryStart(file: string, bytes: Uint8Array): void {
  if (bytes.byteLength < 9 || ascii(bytes, 0, 9) !== 'SIMPLE  =') {
    throw new FitsError('NOT_FITS', file, 'the file does not start with a SIMPLE = T card', 0);
  }
  const n = Math.min(CARD_LENGTH, bytes.byteLength);
  for (let k = 0; k < n; k++) {
    if (bytes[k] < 0x20 || bytes[k] > 0x7e) {
      throw new FitsError('NOT_FITS', file, 'the first card is not ASCII text', 0);
    }
  }
  const card = parseCard(ascii(bytes, 0, n).padEnd(CARD_LENGTH, ' '));
  if (card.value !== true) throw new FitsError('NOT_FITS', file, 'SIMPLE is not T: the file does not conform to FITS', 0);
}

function kindOf(index: number, xtension: string | undefined): HduKind {
  if (index === 0) return 'primary';
  switch (xtension) {
    case 'IMAGE':
    case 'IUEIMAGE':
      return 'image';
    case 'BINTABLE':
    case 'A3DTABLE':
      return 'bintable';
    case 'TABLE':
      return 'table';
    default:
      return 'unknown';
  }
}

/** a * b, or SIZE_LIMIT when the product leaves the safe-integer range. */
function safeMul(file: string, hdu: string | number, a: number, b: number, what: string): number {
  const p = a * b;
  if (!Number.isSafeInteger(p)) {
    throw new FitsError('SIZE_LIMIT', file, `${what} overflows ${Number.MAX_SAFE_INTEGER} bytes`, hdu);
  }
  return p;
}

/**
 * Data bytes of an HDU from its mandatory keywords: |BITPIX|/8 * GCOUNT * (PCOUNT + product of NAXISn),
 * 0 when NAXIS = 0, NAXIS1 left out for random groups (primary with GROUPS = T and NAXIS1 = 0), GCOUNT = 1
 * and PCOUNT = 0 for a primary without groups. BAD_HEADER for missing or invalid keywords, SIZE_LIMIT for
 * products beyond Number.MAX_SAFE_INTEGER.
 */
export function dataLengthOf(header: Header, index: number): number {
  const file = header.file;
  const hdu = header.hdu;
  const bitpix = header.requireInt('BITPIX');
  if (![8, 16, 32, 64, -32, -64].includes(bitpix)) {
    throw new FitsError('BAD_HEADER', file, `BITPIX = ${bitpix} is not one of 8, 16, 32, 64, -32, -64`, hdu, 'BITPIX');
  }
  const naxis = header.requireInt('NAXIS');
  if (naxis < 0 || naxis > 999) throw new FitsError('BAD_HEADER', file, `NAXIS = ${naxis} is outside 0..999`, hdu, 'NAXIS');
  const axes: number[] = [];
  for (let i = 1; i <= naxis; i++) {
    const n = header.requireInt(`NAXIS${i}`);
    if (n < 0) throw new FitsError('BAD_HEADER', file, `NAXIS${i} = ${n} is negative`, hdu, `NAXIS${i}`);
    axes.push(n);
  }
  let pcount = 0;
  let gcount = 1;
  const groups = index === 0 && naxis > 0 && axes[0] === 0 && header.has('GROUPS') && header.get('GROUPS') === true;
  if (index > 0 || groups) {
    pcount = header.requireInt('PCOUNT');
    gcount = header.requireInt('GCOUNT');
    if (pcount < 0) throw new FitsError('BAD_HEADER', file, `PCOUNT = ${pcount} is negative`, hdu, 'PCOUNT');
    if (gcount < 0) throw new FitsError('BAD_HEADER', file, `GCOUNT = ${gcount} is negative`, hdu, 'GCOUNT');
    // FITS 4.0 §7: IMAGE extensions have PCOUNT = 0 and GCOUNT = 1, binary and ASCII tables GCOUNT = 1. A header
    // that says otherwise would make the data size disagree with the rows located from NAXISn.
    const xtension = header.get('XTENSION');
    const xt = typeof xtension === 'string' ? xtension.trim() : '';
    if (xt === 'IMAGE' && (pcount !== 0 || gcount !== 1)) {
      throw new FitsError(
        'BAD_HEADER',
        file,
        `an IMAGE extension must have PCOUNT = 0 and GCOUNT = 1, found ${pcount} and ${gcount}`,
        hdu,
        pcount !== 0 ? 'PCOUNT' : 'GCOUNT',
      );
    }
    if ((xt === 'BINTABLE' || xt === 'TABLE') && gcount !== 1) {
      throw new FitsError('BAD_HEADER', file, `a ${xt} extension must have GCOUNT = 1, found ${gcount}`, hdu, 'GCOUNT');
    }
  }
  if (naxis === 0) return 0;
  let values = 1;
  for (let i = groups ? 1 : 0; i < naxis; i++) values = safeMul(file, hdu, values, axes[i], 'the product of NAXISn');
  const perGroup = values + pcount;
  if (!Number.isSafeInteger(perGroup)) throw new FitsError('SIZE_LIMIT', file, 'PCOUNT plus the product of NAXISn overflows', hdu);
  return safeMul(file, hdu, safeMul(file, hdu, bitpixBytes(bitpix), gcount, 'the data size'), perGroup, 'the data size');
}

/**
 * Finds every HDU of a FITS file by reading its headers only, in order, from the primary. Stops at the end
 * of the file, at bytes after the last HDU that do not start an XTENSION header (FITS special records or
 * padding), or, with `opts.until`, once every listed EXTNAME has been seen (compared case-insensitively),
 * so later headers are not read. Errors: NOT_FITS, TRUNCATED, NO_END, BAD_HEADER, SIZE_LIMIT.
 */
export async function scanHdus(src: ByteSource, opts?: { until?: string[] }): Promise<Hdu[]> {
  const file = src.name;
  const total = src.byteLength;
  const pending = new Set((opts?.until ?? []).map((n) => n.trim().toUpperCase()));
  const stopEarly = pending.size > 0;
  const hdus: Hdu[] = [];
  if (total === 0) throw new FitsError('NOT_FITS', file, 'the file is empty', 0);
  const reader = new ChunkReader(src);
  let pos = 0;
  while (pos < total) {
    const index = hdus.length;
    const read = await readHeaderImages(reader, src, pos, index);
    if (read === undefined) break;
    const { images, dataStart } = read;
    const cards = parseCards(images);
    const extname = nameOf(cards, index);
    const label = extname !== '' && extname !== 'PRIMARY' ? extname : index;
    const header = new Header(cards, file, label);
    let kind: HduKind = 'primary';
    if (index > 0) {
      const xtension = header.requireString('XTENSION').trim().toUpperCase();
      kind = kindOf(index, xtension);
    }
    const dataLength = dataLengthOf(header, index);
    if (dataLength > total) {
      throw new FitsError('SIZE_LIMIT', file, `the header claims ${dataLength} data bytes, more than the whole file's ${total}`, label);
    }
    if (dataStart + dataLength > total) {
      throw new FitsError('TRUNCATED', file, `the file ends at byte ${total}, inside the data (bytes ${dataStart} to ${dataStart + dataLength})`, label);
    }
    const end = dataStart + padToBlock(dataLength);
    hdus.push({ index, name: extname, kind, header, headerStart: pos, dataStart, dataLength, end });
    if (stopEarly) {
      pending.delete(extname.toUpperCase());
      if (pending.size === 0) break;
    }
    pos = end;
  }
  return hdus;
}

function nameOf(cards: Card[], index: number): string {
  const card = cards.find((c) => c.key === 'EXTNAME');
  if (card?.kind === 'string' && typeof card.value === 'string') return card.value.trim();
  return index === 0 ? 'PRIMARY' : '';
}

/**
 * The HDU whose EXTNAME is `extname` (case-insensitive, as astropy's hdul['name']); MISSING_HDU when none
 * has it, DUPLICATE_HDU when several do.
 */
export function findHdu(file: string, hdus: Hdu[], extname: string): Hdu {
  const want = extname.trim().toUpperCase();
  const found = hdus.filter((h) => h.name.toUpperCase() === want);
  if (found.length === 0) {
    const names = hdus.map((h) => h.name || `#${h.index}`).join(', ');
    throw new FitsError('MISSING_HDU', file, `no HDU named ${extname} (HDUs read: ${names || 'none'})`, extname);
  }
  if (found.length > 1) {
    throw new FitsError('DUPLICATE_HDU', file, `${found.length} HDUs are named ${extname} (#${found.map((h) => h.index).join(', #')})`, extname);
  }
  return found[0];
}

/** The HDU's data bytes (main data and heap, no padding), read through the source in one slice. */
export async function readHduData(src: ByteSource, hdu: Hdu): Promise<Uint8Array> {
  return src.slice(hdu.dataStart, hdu.dataStart + hdu.dataLength);
}
