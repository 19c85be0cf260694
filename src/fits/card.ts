/**
 * FITS header cards (FITS 4.0 section 4): 80-character records holding a keyword, an optional value and
 * an optional comment. The value grammar follows astropy.io.fits (card.py), so values come out as astropy
 * reads them:
 * - strings: quotes removed, '' unescaped, trailing spaces dropped (leading spaces kept);
 * - logical T/F -> boolean; integers -> number, or bigint beyond Number.MAX_SAFE_INTEGER;
 * - floats (E or D exponent, lower case tolerated) -> number; complex "(re, im)" -> { re, im };
 * - an empty value field -> null (astropy's UNDEFINED);
 * - COMMENT, HISTORY, blank-keyword cards and any card without "= " in columns 9-10 are commentary:
 *   their value is the text of columns 9-80 with trailing spaces removed;
 * - HIERARCH cards (ESO convention): the keyword is the text between "HIERARCH " and "=";
 * - long strings (LONGSTRN convention): a string ending in '&' followed by CONTINUE cards is merged into
 *   one card, each piece losing its trailing spaces and '&', the comments joined with a space. Unlike
 *   astropy, a CONTINUE card after a value that does not end in '&' is kept as its own commentary card,
 *   as the FITS 4.0 standard says.
 * Record-valued keyword cards (the distortion "DP1 = 'AXIS.1: 1'" convention) are not expanded: their
 * value is the plain string.
 */

/** A card's value: null is the undefined value (a keyword with "= " and nothing after it). */
export type CardValue = string | number | bigint | boolean | { re: number; im: number } | null;

/** How a card's value was written; 'text' is commentary, 'invalid' a value that does not parse. */
export type CardKind = 'string' | 'logical' | 'integer' | 'float' | 'complex' | 'undefined' | 'text' | 'invalid';

export interface Card {
  key: string;
  value?: CardValue;
  comment?: string;
  /** How the value was written (an integer and a float with the same value differ here). */
  kind?: CardKind;
  /** For kind 'invalid': why the value field could not be parsed (reading the key then throws BAD_HEADER). */
  invalid?: string;
}

/** Bytes per card (36 cards fill a 2880-byte block). */
export const CARD_LENGTH = 80;

const COMMENTARY = new Set(['', 'COMMENT', 'HISTORY', 'END']);

// The value grammar of astropy's _value_NFSC_RE: the string alternative is lazy so that a quote inside a
// comment does not end the string; numbers tolerate spaces and lower-case exponents.
const DIGITS = String.raw`(?:\.\d+|\d+(?:\.\d*)?) *(?:[deDE] *[+-]? *\d+)?`;
const NUMR = String.raw`[+-]? *${DIGITS}`;
const STRG = String.raw`'((?:[ -~]+?|''|) *?)'(?=$|\/| )`;
const VALUE_RE = new RegExp(String.raw`^ *(?:${STRG}|([FT])|(${NUMR})|\( *(${NUMR}) *, *(${NUMR}) *\))? *(?:\/ *([\s\S]*))?$`);
const INTEGER_RE = /^[+-]?\d+$/;

/** The number written in a value field: an integer as number or bigint (beyond 2^53), else a float. */
export function parseNumber(text: string): { value: number | bigint; integer: boolean } {
  const t = text.replace(/ /g, '').replace(/[dD]/, 'E');
  if (INTEGER_RE.test(t)) {
    const big = BigInt(t.startsWith('+') ? t.slice(1) : t);
    const asNumber = Number(big);
    return { value: Number.isSafeInteger(asNumber) ? asNumber : big, integer: true };
  }
  return { value: Number(t), integer: false };
}

function complexPart(text: string): number {
  const { value } = parseNumber(text);
  return typeof value === 'bigint' ? Number(value) : value;
}

/** Parses the value-and-comment field of a keyword card (what follows "= "). */
export function parseValueField(field: string): Pick<Card, 'value' | 'comment' | 'kind' | 'invalid'> {
  const m = VALUE_RE.exec(field);
  if (!m) {
    const slash = field.indexOf('/');
    const comment = slash >= 0 ? field.slice(slash + 1).trim() : undefined;
    return { kind: 'invalid', invalid: `unparsable value field "${field.trimEnd()}"`, comment };
  }
  const comment = m[6] !== undefined ? m[6].trimEnd() : undefined;
  if (m[1] !== undefined) {
    return { value: m[1].replace(/''/g, "'").trimEnd(), kind: 'string', comment };
  }
  if (m[2] !== undefined) return { value: m[2] === 'T', kind: 'logical', comment };
  if (m[3] !== undefined) {
    const { value, integer } = parseNumber(m[3]);
    return { value, kind: integer ? 'integer' : 'float', comment };
  }
  if (m[4] !== undefined && m[5] !== undefined) {
    return { value: { re: complexPart(m[4]), im: complexPart(m[5]) }, kind: 'complex', comment };
  }
  return { value: null, kind: 'undefined', comment };
}

/**
 * Parses one 80-character card image (already checked to be printable ASCII) into key, value and comment.
 * Never throws: a value that does not parse gives kind 'invalid', which the Header getters report.
 */
export function parseCard(image: string): Card {
  const key8 = image.slice(0, 8).trim().toUpperCase();
  if (COMMENTARY.has(key8)) return { key: key8, value: image.slice(8).trimEnd(), kind: 'text' };
  if (key8 === 'HIERARCH' && image[8] === ' ' && image.includes('=')) {
    const eq = image.indexOf('=');
    const key = image.slice(9, eq).trim().replace(/ +/g, ' ');
    return { key, ...parseValueField(image.slice(eq + 1)) };
  }
  const eq = image.indexOf('= ');
  if (eq >= 0 && eq <= 8) {
    const key = image.slice(0, Math.min(eq, 8)).trim().toUpperCase();
    return { key, ...parseValueField(image.slice(eq + 2)) };
  }
  return { key: key8, value: image.slice(8).trimEnd(), kind: 'text' };
}

/**
 * The string piece of a CONTINUE card ('' unescaped, trailing spaces dropped) and its comment, or undefined
 * when the card holds no string. The string ends at the first quote that is not doubled, as the standard
 * says (astropy 5.2's unanchored pattern can stop at a doubled quote followed by a space and lose text).
 */
function continuePiece(image: string): { text: string; comment?: string } | undefined {
  const field = image.slice(8).trim();
  if (!field.startsWith("'")) return undefined;
  let text = '';
  let k = 1;
  for (;;) {
    if (k >= field.length) return undefined; // no closing quote
    const ch = field[k];
    if (ch === "'") {
      if (field[k + 1] === "'") {
        text += "'";
        k += 2;
        continue;
      }
      break;
    }
    text += ch;
    k++;
  }
  const rest = field.slice(k + 1).trimStart();
  let comment: string | undefined;
  if (rest.startsWith('/')) {
    const c = rest.slice(1).trim();
    if (c !== '') comment = c;
  } else if (rest !== '') return undefined;
  return { text: text.trimEnd(), comment };
}

/**
 * Parses the card images of one header (in file order, END excluded) into cards, merging each long string
 * (value ending in '&') with the CONTINUE cards that follow it.
 */
export function parseCards(images: string[]): Card[] {
  const cards: Card[] = [];
  for (let i = 0; i < images.length; i++) {
    const card = parseCard(images[i]);
    if (card.kind === 'string' && typeof card.value === 'string' && card.value.endsWith('&')) {
      const pieces: string[] = [];
      const comments: string[] = card.comment ? [card.comment] : [];
      let current = card.value;
      let j = i + 1;
      while (current.endsWith('&') && j < images.length && images[j].startsWith('CONTINUE')) {
        const piece = continuePiece(images[j]);
        if (!piece) break;
        pieces.push(current.slice(0, -1));
        if (piece.comment) comments.push(piece.comment);
        current = piece.text;
        j++;
      }
      if (pieces.length > 0) {
        if (current.endsWith('&')) current = current.slice(0, -1);
        pieces.push(current);
        card.value = pieces.join('').trimEnd();
        card.comment = comments.length > 0 ? comments.join(' ') : card.comment;
        i = j - 1;
      }
    }
    cards.push(card);
  }
  return cards;
}

/** Whether byte `b` may appear in a header: printable ASCII, 0x20 to 0x7E. */
export function isHeaderByte(b: number): boolean {
  return b >= 0x20 && b <= 0x7e;
}

/** Index (0..79) of the first byte of the card at `at` that is not printable ASCII, or -1. */
export function badCardByte(bytes: Uint8Array, at: number): number {
  for (let k = 0; k < CARD_LENGTH; k++) {
    if (!isHeaderByte(bytes[at + k])) return k;
  }
  return -1;
}
