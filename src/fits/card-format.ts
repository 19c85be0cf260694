/**
 * Writing header cards, the other direction of card.ts and with its Card model: fixed-format values
 * (FITS 4.0 section 4.2), '' escapes in strings, CONTINUE cards for long strings under the OGIP 1.0
 * LONGSTRN convention, commentary text cut into 72-character cards, and whole headers ended by END and
 * padded with spaces to a 2880-byte block. What parseCard reads from a card written here is the card given
 * (a commentary card's text is its value, as parseCard gives it).
 */

import { padToBlock } from './block.js';
import { CARD_LENGTH, isHeaderByte, type Card } from './card.js';

const KEY_RE = /^[A-Z0-9_-]{0,8}$/;
const COMMENTARY = new Set(['COMMENT', 'HISTORY', '']);

/** Throws, naming `what`, unless every character of `text` may stand in a header (printable ASCII). */
export function checkAscii(text: string, what: string): void {
  for (let i = 0; i < text.length; i++) {
    if (!isHeaderByte(text.charCodeAt(i))) {
      throw new Error(`FITS writer: ${what} has a non-printable or non-ASCII character: ${JSON.stringify(text)}`);
    }
  }
}

/** A float as FITS text that reads back to exactly the same double (shortest round-trip digits). */
export function formatFloat(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`FITS writer: ${x} cannot be written as a header value`);
  if (Object.is(x, -0)) return '-0.0';
  let s = String(x);
  if (s.length > 20 && !s.includes('e')) s = x.toExponential();
  s = s.toUpperCase();
  const e = s.indexOf('E');
  if (e >= 0) {
    const mantissa = s.slice(0, e);
    return (mantissa.includes('.') ? mantissa : `${mantissa}.0`) + s.slice(e);
  }
  return s.includes('.') ? s : `${s}.0`;
}

/**
 * A logical, integer or float value right-aligned in columns 11-30. A number is written as an integer when
 * it is one, unless the card's kind is 'float'; null (undefined) and complex values are not written.
 */
function formatScalar(card: Card): string {
  const v = card.value;
  if (typeof v === 'boolean') return (v ? 'T' : 'F').padStart(20);
  if (typeof v === 'bigint') return v.toString().padStart(20);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && card.kind !== 'float' && !Object.is(v, -0)) {
      if (!Number.isSafeInteger(v)) throw new Error(`FITS writer: ${card.key} = ${v} is not a safe integer; pass a bigint`);
      return String(v).padStart(20);
    }
    return formatFloat(v).padStart(20);
  }
  throw new Error(`FITS writer: ${card.key} has no scalar value`);
}

/** Appends ' / comment' (from column 32 when the value is short, as astropy and cfitsio do), cut at 80. */
function withComment(image: string, comment: string | undefined): string {
  if (comment === undefined || comment === '') return image.padEnd(CARD_LENGTH);
  checkAscii(comment, 'a comment');
  return `${image.padEnd(30)} / ${comment}`.slice(0, CARD_LENGTH).padEnd(CARD_LENGTH);
}

/** Splits a string into pieces whose escaped length ('' for ') is at most `room`, never splitting an escape. */
function splitEscaped(text: string, room: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  let used = 0;
  for (const ch of text) {
    const cost = ch === "'" ? 2 : 1;
    if (used + cost > room) {
      pieces.push(piece);
      piece = '';
      used = 0;
    }
    piece += ch;
    used += cost;
  }
  pieces.push(piece);
  return pieces;
}

const escape = (s: string): string => s.replace(/'/g, "''");

function formatString(key: string, text: string, comment: string | undefined): string[] {
  checkAscii(text, `${key}'s value`);
  const escaped = escape(text);
  const head = `${key.padEnd(8)}= `;
  if (escaped.length <= CARD_LENGTH - head.length - 2) {
    return [withComment(`${head}'${escaped.padEnd(8)}'`, comment)];
  }
  // OGIP 1.0 long string: value continues on CONTINUE cards, each piece but the last ending in '&'.
  const pieces = splitEscaped(text, CARD_LENGTH - head.length - 3);
  return pieces.map((piece, i) => {
    const prefix = i === 0 ? head : 'CONTINUE  ';
    const last = i === pieces.length - 1;
    const image = `${prefix}'${escape(piece)}${last ? '' : '&'}'`;
    return last ? withComment(image, comment) : image.padEnd(CARD_LENGTH);
  });
}

/**
 * The 80-character card images of one card: one, or several for long strings and long commentary. A
 * commentary card (COMMENT, HISTORY or blank key) holds its text in `value` and has no comment.
 */
export function formatCard(card: Card): string[] {
  const key = card.key.toUpperCase();
  if (!KEY_RE.test(key)) throw new Error(`FITS writer: invalid keyword ${JSON.stringify(card.key)}`);
  if (COMMENTARY.has(key)) {
    if (card.comment !== undefined) throw new Error(`FITS writer: ${key} text goes in the card's value, not its comment`);
    if (card.value !== undefined && typeof card.value !== 'string') throw new Error(`FITS writer: ${key} text must be a string`);
    const text = card.value ?? '';
    checkAscii(text, `${key} text`);
    const lines: string[] = [];
    for (let i = 0; i === 0 || i < text.length; i += 72) lines.push(`${key.padEnd(8)}${text.slice(i, i + 72)}`.padEnd(CARD_LENGTH));
    return lines;
  }
  if (card.value === undefined) throw new Error(`FITS writer: keyword ${key} has no value`);
  if (key === 'CONTINUE') throw new Error(`FITS writer: ${key} cannot carry a value`);
  if (typeof card.value === 'string') return formatString(key, card.value, card.comment);
  return [withComment(`${key.padEnd(8)}= ${formatScalar(card)}`, card.comment)];
}

/** A whole header: the cards, END, padded with spaces to a multiple of 2880 bytes. */
export function formatHeader(cards: Card[]): Buffer {
  const images = cards.flatMap(formatCard);
  images.push('END'.padEnd(CARD_LENGTH));
  const text = images.join('');
  return Buffer.from(text.padEnd(padToBlock(text.length), ' '), 'latin1');
}

/** Whether any keyword card needs CONTINUE cards, in which case the header should declare LONGSTRN. */
export function needsLongstrn(cards: Card[]): boolean {
  return cards.some((c) => typeof c.value === 'string' && !COMMENTARY.has(c.key.toUpperCase()) && formatCard(c).length > 1);
}
