/**
 * A parsed FITS header: its cards in file order and typed look-ups that throw FitsError BAD_HEADER,
 * naming the file, the HDU and the key, when a value is missing or of the wrong type.
 */

import { FitsError } from './errors.js';
import type { Card, CardValue } from './card.js';

export type { Card, CardKind, CardValue } from './card.js';

export class Header {
  /** The cards in file order, CONTINUE long strings already merged into one card. */
  readonly cards: Card[];
  private readonly first = new Map<string, Card>();

  constructor(
    cards: Card[],
    readonly file: string,
    readonly hdu: string | number,
  ) {
    this.cards = cards;
    for (const card of cards) {
      const k = card.key.toUpperCase();
      if (!this.first.has(k)) this.first.set(k, card);
    }
  }

  /** The first card with this keyword (keywords compare case-insensitively), or undefined. */
  card(key: string): Card | undefined {
    return this.first.get(key.toUpperCase());
  }

  /** Whether a card with this keyword is present. */
  has(key: string): boolean {
    return this.first.has(key.toUpperCase());
  }

  /**
   * The value of the first card with this keyword (null for an undefined value), or undefined when absent.
   * Throws BAD_HEADER when the card's value field does not parse.
   */
  get(key: string): CardValue | undefined {
    const card = this.card(key);
    if (card === undefined) return undefined;
    if (card.kind === 'invalid') throw this.bad(key, card.invalid ?? 'unparsable value');
    return card.value;
  }

  /** The string value of `key`, or undefined if absent; BAD_HEADER if present but not a string. */
  string(key: string): string | undefined {
    const card = this.card(key);
    if (card === undefined) return undefined;
    const v = this.get(key);
    if (typeof v !== 'string' || card.kind === 'text') throw this.bad(key, `expected a string value, found ${describe(v)}`);
    return v;
  }

  /** The integer value of `key` as a safe JS number, or undefined if absent; BAD_HEADER otherwise. */
  int(key: string): number | undefined {
    const card = this.card(key);
    if (card === undefined) return undefined;
    const v = this.get(key);
    if (typeof v === 'bigint') throw this.bad(key, `integer ${v} is beyond 2^53`);
    if (typeof v !== 'number' || card.kind !== 'integer') throw this.bad(key, `expected an integer, found ${describe(v)}`);
    return v;
  }

  /**
   * An integer or float value of `key` as a number (a bigint integer is rounded to the nearest double),
   * or undefined if absent; BAD_HEADER for other types.
   */
  number(key: string): number | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (typeof v === 'bigint') return Number(v);
    if (typeof v !== 'number' || this.card(key)?.kind === 'text') throw this.bad(key, `expected a number, found ${describe(v)}`);
    return v;
  }

  /** The logical value of `key`, or undefined if absent; BAD_HEADER if present but not T or F. */
  bool(key: string): boolean | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw this.bad(key, `expected a logical value (T or F), found ${describe(v)}`);
    return v;
  }

  /** The integer value of a mandatory keyword; BAD_HEADER naming the key if missing or not an integer. */
  requireInt(key: string): number {
    const v = this.int(key);
    if (v === undefined) throw this.bad(key, 'mandatory keyword is missing');
    return v;
  }

  /** The string value of a mandatory keyword; BAD_HEADER naming the key if missing or not a string. */
  requireString(key: string): string {
    const v = this.string(key);
    if (v === undefined) throw this.bad(key, 'mandatory keyword is missing');
    return v;
  }

  private bad(key: string, reason: string): FitsError {
    return new FitsError('BAD_HEADER', this.file, reason, this.hdu, key.toUpperCase());
  }
}

function describe(v: CardValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an undefined value';
  if (typeof v === 'string') return `the string '${v.length > 40 ? v.slice(0, 40) + '...' : v}'`;
  if (typeof v === 'object') return `the complex value (${v.re}, ${v.im})`;
  return typeof v === 'boolean' ? (v ? 'T' : 'F') : String(v);
}
