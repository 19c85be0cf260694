/**
 * A streaming FITS writer: HDU by HDU, sequential writes to one file, never the whole file in memory.
 *
 * Header cards follow FITS 4.0 (fixed-format values, '' escapes in strings, CONTINUE for long strings
 * under the OGIP 1.0 LONGSTRN convention); headers are padded with spaces and data with zeros to 2880
 * bytes. Image data (BITPIX 8/16/32/-32/-64, unsigned integers through BZERO) and binary-table rows
 * (TFORM L B I J K A E D with repeat counts, TDIM, unsigned integers through TZERO) come in chunks of
 * native values; the writer turns them big-endian on its own copy (Buffer swap16/32/64).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';

/** The FITS block: headers and data units are padded to multiples of it. */
export const BLOCK = 2880;
const CARD = 80;
const HOST_LE = endianness() === 'LE';
/** Bytes gathered before one write: large sequential writes, bounded memory. */
const WRITE_BUFFER_BYTES = 8 << 20;

export type CardValue = string | number | bigint | boolean;

/**
 * One header card. `value` absent: a commentary card (COMMENT, HISTORY or blank key) whose text is
 * `comment`. A number is written as an integer when it is one, unless `float` is set.
 */
export interface Card {
  key: string;
  value?: CardValue;
  comment?: string;
  float?: boolean;
}

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

export type TformCode = 'L' | 'B' | 'I' | 'J' | 'K' | 'A' | 'E' | 'D';

export interface ColumnSpec {
  name: string;
  tform: TformCode;
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

/** Native values of one column for a chunk of rows: `rows × repeat` numbers, or one string/boolean per row. */
export type ColumnData =
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array
  | string[]
  | boolean[];

type NumericArray = Exclude<ColumnData, string[] | boolean[]>;

/** Bytes of one element of each TFORM code. */
export const TFORM_BYTES: Record<TformCode, number> = { L: 1, B: 1, I: 2, J: 4, K: 8, A: 1, E: 4, D: 8 };

/** Bytes of one data element for a BITPIX. */
export function bitpixBytes(bitpix: Bitpix): number {
  return Math.abs(bitpix) / 8;
}

/** The padded size of a data unit of `bytes` bytes: the next multiple of 2880. */
export function paddedBytes(bytes: number): number {
  return Math.ceil(bytes / BLOCK) * BLOCK;
}

/** NAXIS1 of a binary table: the width of one row in bytes. */
export function rowBytes(columns: ColumnSpec[]): number {
  return columns.reduce((sum, c) => sum + TFORM_BYTES[c.tform] * (c.repeat ?? 1), 0);
}

/** The data bytes (unpadded) of an image: product of NAXISn times the element size. */
export function imageDataBytes(spec: ImageSpec): number {
  return spec.naxes.reduce((p, n) => p * n, bitpixBytes(spec.bitpix));
}

// ---------------------------------------------------------------------------------------------------
// Cards

const KEY_RE = /^[A-Z0-9_-]{0,8}$/;
const COMMENTARY = new Set(['COMMENT', 'HISTORY', '']);

function checkAscii(text: string, what: string): void {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) throw new Error(`FITS writer: ${what} has a non-printable or non-ASCII character: ${JSON.stringify(text)}`);
  }
}

/** A float as FITS text that reads back to exactly the same double (shortest round-trip digits). */
export function formatFloat(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`FITS writer: ${x} cannot be written as a header value`);
  if (Object.is(x, -0)) return '-0.0';
  let s = String(x);
  if (s.length > 20 && !/e/.test(s)) s = x.toExponential();
  s = s.toUpperCase();
  const e = s.indexOf('E');
  if (e >= 0) {
    const mantissa = s.slice(0, e);
    return (mantissa.includes('.') ? mantissa : `${mantissa}.0`) + s.slice(e);
  }
  return s.includes('.') ? s : `${s}.0`;
}

function formatScalar(card: Card): string {
  const v = card.value;
  if (typeof v === 'boolean') return (v ? 'T' : 'F').padStart(20);
  if (typeof v === 'bigint') return v.toString().padStart(20);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && !card.float && !Object.is(v, -0)) {
      if (!Number.isSafeInteger(v)) throw new Error(`FITS writer: ${card.key} = ${v} is not a safe integer; pass a bigint`);
      return String(v).padStart(20);
    }
    return formatFloat(v).padStart(20);
  }
  throw new Error(`FITS writer: ${card.key} has no scalar value`);
}

/** Appends ' / comment' (from column 32 when the value is short, as astropy and cfitsio do), cut at 80. */
function withComment(image: string, comment: string | undefined): string {
  if (comment === undefined || comment === '') return image.padEnd(CARD);
  checkAscii(comment, 'a comment');
  return `${image.padEnd(30)} / ${comment}`.slice(0, CARD).padEnd(CARD);
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
  if (escaped.length <= CARD - head.length - 2) {
    return [withComment(`${head}'${escaped.padEnd(8)}'`, comment)];
  }
  // OGIP 1.0 long string: value continues on CONTINUE cards, each piece but the last ending in '&'.
  const pieces = splitEscaped(text, CARD - head.length - 3);
  return pieces.map((piece, i) => {
    const prefix = i === 0 ? head : 'CONTINUE  ';
    const last = i === pieces.length - 1;
    const image = `${prefix}'${escape(piece)}${last ? '' : '&'}'`;
    return last ? withComment(image, comment) : image.padEnd(CARD);
  });
}

/** The 80-character card images of one card: one, or several for long strings and long commentary. */
export function formatCard(card: Card): string[] {
  const key = card.key.toUpperCase();
  if (!KEY_RE.test(key)) throw new Error(`FITS writer: invalid keyword ${JSON.stringify(card.key)}`);
  if (card.value === undefined) {
    if (!COMMENTARY.has(key)) throw new Error(`FITS writer: keyword ${key} has no value`);
    const text = card.comment ?? '';
    checkAscii(text, `${key} text`);
    const lines: string[] = [];
    for (let i = 0; i === 0 || i < text.length; i += 72) lines.push(`${key.padEnd(8)}${text.slice(i, i + 72)}`.padEnd(CARD));
    return lines;
  }
  if (COMMENTARY.has(key) || key === 'CONTINUE') throw new Error(`FITS writer: ${key} cannot carry a value`);
  if (typeof card.value === 'string') return formatString(key, card.value, card.comment);
  return [withComment(`${key.padEnd(8)}= ${formatScalar(card)}`, card.comment)];
}

/** A whole header: the cards, END, padded with spaces to a multiple of 2880 bytes. */
export function formatHeader(cards: Card[]): Buffer {
  const images = cards.flatMap(formatCard);
  images.push('END'.padEnd(CARD));
  const text = images.join('');
  return Buffer.from(text.padEnd(paddedBytes(text.length), ' '), 'latin1');
}

/** Whether any card needs CONTINUE cards, in which case the header should declare LONGSTRN. */
export function needsLongstrn(cards: Card[]): boolean {
  return cards.some((c) => typeof c.value === 'string' && formatCard(c).length > 1);
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
    cards.push({ key: 'BSCALE', value: 1 }, { key: 'BZERO', value: 2 ** (spec.bitpix - 1) });
  }
  if (spec.extname !== undefined) cards.push({ key: 'EXTNAME', value: spec.extname, comment: 'extension name' });
  return cards.concat(spec.cards ?? []);
}

const TZERO: Partial<Record<TformCode, bigint>> = { I: 1n << 15n, J: 1n << 31n, K: 1n << 63n };

function tformText(c: ColumnSpec): string {
  const repeat = c.repeat ?? 1;
  if (!Number.isSafeInteger(repeat) || repeat < 0) throw new Error(`FITS writer: column ${c.name} has a bad repeat ${repeat}`);
  return c.tform === 'A' || repeat !== 1 ? `${repeat}${c.tform}` : c.tform;
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
      const tzero = TZERO[c.tform];
      if (tzero === undefined) throw new Error(`FITS writer: column ${c.name}: unsigned needs TFORM I, J or K`);
      cards.push({ key: `TZERO${n}`, value: tzero });
    }
    if (c.unit !== undefined) cards.push({ key: `TUNIT${n}`, value: c.unit });
    if (c.tdim !== undefined) {
      const product = c.tdim.reduce((p, d) => p * d, 1);
      if (product !== (c.repeat ?? 1)) throw new Error(`FITS writer: column ${c.name}: TDIM ${c.tdim} does not match repeat ${c.repeat ?? 1}`);
      cards.push({ key: `TDIM${n}`, value: `(${c.tdim.join(',')})` });
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

// ---------------------------------------------------------------------------------------------------
// Data conversion

function bytesOf(a: NumericArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Turns native elements of `size` bytes to big-endian in place, and flips the sign bit for unsigned storage. */
function toFitsOrder(buf: Buffer, size: number, flipSign: boolean): void {
  if (HOST_LE) {
    if (size === 2) buf.swap16();
    else if (size === 4) buf.swap32();
    else if (size === 8) buf.swap64();
  }
  if (flipSign) for (let i = 0; i < buf.length; i += size) buf[i] ^= 0x80;
}

function expectArray(data: ColumnData, ok: boolean, what: string): asserts data is NumericArray {
  if (!ok) throw new Error(`FITS writer: ${what} got ${data.constructor.name}`);
}

/** The typed array each image kind takes. */
function checkImageArray(spec: ImageSpec, data: NumericArray): void {
  const u = spec.unsigned === true;
  const ok =
    (spec.bitpix === 8 && data instanceof Uint8Array) ||
    (spec.bitpix === 16 && (u ? data instanceof Uint16Array : data instanceof Int16Array)) ||
    (spec.bitpix === 32 && (u ? data instanceof Uint32Array : data instanceof Int32Array)) ||
    (spec.bitpix === -32 && data instanceof Float32Array) ||
    (spec.bitpix === -64 && data instanceof Float64Array);
  expectArray(data, ok, `image ${spec.extname ?? ''} with BITPIX ${spec.bitpix}${u ? ' (unsigned)' : ''}`);
}

/** The typed array each numeric TFORM takes. */
function checkColumnArray(c: ColumnSpec, data: ColumnData): asserts data is NumericArray {
  const u = c.unsigned === true;
  const ok =
    (c.tform === 'B' && data instanceof Uint8Array) ||
    (c.tform === 'I' && (u ? data instanceof Uint16Array : data instanceof Int16Array)) ||
    (c.tform === 'J' && (u ? data instanceof Uint32Array : data instanceof Int32Array)) ||
    (c.tform === 'K' && (u ? data instanceof BigUint64Array : data instanceof BigInt64Array)) ||
    (c.tform === 'E' && data instanceof Float32Array) ||
    (c.tform === 'D' && data instanceof Float64Array);
  expectArray(data, ok, `column ${c.name} (TFORM ${c.tform}${u ? ', unsigned' : ''})`);
}

/** The stored bytes of `rows` rows of one column, `width` bytes per row, in row order. */
function encodeColumn(c: ColumnSpec, data: ColumnData, rows: number, width: number): Buffer {
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
  toFitsOrder(out, TFORM_BYTES[c.tform], c.unsigned === true);
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The writer

interface OpenHdu {
  name: string;
  expected: number;
  written: number;
  image?: ImageSpec;
  table?: BinTableSpec & { rowBytes: number; rowsWritten: number };
}

/**
 * Writes one FITS file sequentially: `writePrimary`, then extensions begun with `beginImage` /
 * `beginBinTable`, fed with `writePixels` / `writeBytes` / `writeRows`, and closed with `endHdu`
 * (which checks the amount declared and pads). `close` flushes and closes the file.
 */
export class FitsWriter {
  private readonly buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  private used = 0;
  private flushed = 0;
  private hdus = 0;
  private current: OpenHdu | null = null;

  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
  ) {}

  /** A writer on a new (or truncated) file at `path`. */
  static async create(path: string): Promise<FitsWriter> {
    return new FitsWriter(await open(path, 'w'), path);
  }

  /** Bytes written so far (flushed or buffered). */
  get bytesWritten(): number {
    return this.flushed + this.used;
  }

  /** Writes a header-only PRIMARY HDU (NAXIS = 0) with the given cards after the mandatory ones. */
  async writePrimary(cards: Card[]): Promise<void> {
    if (this.hdus !== 0) throw new Error(`FITS writer: ${this.path}: the primary HDU must come first`);
    await this.append(formatHeader(primaryHeaderCards(cards)));
    this.hdus = 1;
  }

  /** Writes an image extension's header; then `writePixels`/`writeBytes` its data and `endHdu`. */
  async beginImage(spec: ImageSpec): Promise<void> {
    this.checkCanBegin();
    for (const n of spec.naxes) if (!Number.isSafeInteger(n) || n < 0) throw new Error(`FITS writer: bad NAXISn ${n}`);
    await this.append(formatHeader(imageHeaderCards(spec)));
    this.current = { name: spec.extname ?? `#${this.hdus}`, expected: imageDataBytes(spec), written: 0, image: spec };
  }

  /** Appends native-order image values (the array type matching BITPIX, Uint for unsigned). */
  async writePixels(values: NumericArray): Promise<void> {
    const hdu = this.current;
    if (!hdu?.image) throw new Error(`FITS writer: ${this.path}: writePixels outside an image HDU`);
    checkImageArray(hdu.image, values);
    const size = bitpixBytes(hdu.image.bitpix);
    const flip = hdu.image.unsigned === true;
    const bytes = bytesOf(values);
    this.count(hdu, bytes.length);
    // Convert inside the write buffer: copy a slice of whole elements, then swap it in place.
    let offset = 0;
    while (offset < bytes.length) {
      if (this.used === this.buffer.length) await this.flush();
      const room = Math.floor((this.buffer.length - this.used) / size) * size;
      if (room === 0) {
        await this.flush();
        continue;
      }
      const take = Math.min(room, bytes.length - offset);
      this.buffer.set(bytes.subarray(offset, offset + take), this.used);
      toFitsOrder(this.buffer.subarray(this.used, this.used + take), size, flip);
      this.used += take;
      offset += take;
    }
  }

  /** Appends data bytes already in FITS (big-endian, stored) form: e.g. a pattern encoded once and reused. */
  async writeBytes(bytes: Uint8Array): Promise<void> {
    const hdu = this.current;
    if (!hdu) throw new Error(`FITS writer: ${this.path}: writeBytes outside an HDU`);
    this.count(hdu, bytes.length);
    await this.append(bytes);
  }

  /** Writes a binary table's header; then `writeRows` in chunks and `endHdu`. */
  async beginBinTable(spec: BinTableSpec): Promise<void> {
    this.checkCanBegin();
    if (!Number.isSafeInteger(spec.nrows) || spec.nrows < 0) throw new Error(`FITS writer: bad NAXIS2 ${spec.nrows}`);
    const names = new Set<string>();
    for (const c of spec.columns) {
      if (names.has(c.name)) throw new Error(`FITS writer: duplicate column ${c.name}`);
      names.add(c.name);
    }
    await this.append(formatHeader(binTableHeaderCards(spec)));
    const width = rowBytes(spec.columns);
    this.current = { name: spec.extname, expected: width * spec.nrows, written: 0, table: { ...spec, rowBytes: width, rowsWritten: 0 } };
  }

  /** Appends a chunk of rows given column by column (every column of the table, by name). */
  async writeRows(chunk: Record<string, ColumnData>): Promise<void> {
    const hdu = this.current;
    const table = hdu?.table;
    if (!hdu || !table) throw new Error(`FITS writer: ${this.path}: writeRows outside a binary table`);
    const first = table.columns[0];
    if (!first) return;
    const firstData = chunk[first.name];
    if (!firstData) throw new Error(`FITS writer: ${table.extname}: chunk lacks column ${first.name}`);
    const rows = first.tform === 'A' ? firstData.length : firstData.length / (first.repeat ?? 1);
    if (!Number.isInteger(rows)) throw new Error(`FITS writer: ${table.extname}: column ${first.name} length is not a whole number of rows`);
    const out = Buffer.alloc(rows * table.rowBytes);
    let fieldOffset = 0;
    for (const c of table.columns) {
      const data = chunk[c.name];
      if (!data) throw new Error(`FITS writer: ${table.extname}: chunk lacks column ${c.name}`);
      const width = TFORM_BYTES[c.tform] * (c.repeat ?? 1);
      const encoded = encodeColumn(c, data, rows, width);
      if (width > 0) for (let r = 0; r < rows; r++) encoded.copy(out, r * table.rowBytes + fieldOffset, r * width, (r + 1) * width);
      fieldOffset += width;
    }
    table.rowsWritten += rows;
    this.count(hdu, out.length);
    await this.append(out);
  }

  /** Ends the current extension: checks its data size against the header and pads to 2880 with zeros. */
  async endHdu(): Promise<void> {
    const hdu = this.current;
    if (!hdu) throw new Error(`FITS writer: ${this.path}: endHdu without an open HDU`);
    if (hdu.written !== hdu.expected) {
      throw new Error(`FITS writer: ${this.path}: HDU ${hdu.name} got ${hdu.written} data bytes, its header says ${hdu.expected}`);
    }
    const pad = paddedBytes(hdu.written) - hdu.written;
    if (pad > 0) await this.append(Buffer.alloc(pad));
    this.current = null;
    this.hdus += 1;
  }

  /** Writes a whole image extension from one array of native values. */
  async writeImage(spec: ImageSpec, values: NumericArray): Promise<void> {
    await this.beginImage(spec);
    await this.writePixels(values);
    await this.endHdu();
  }

  /** Writes a whole binary table from whole columns. */
  async writeBinTable(spec: BinTableSpec, columns: Record<string, ColumnData>): Promise<void> {
    await this.beginBinTable(spec);
    if (spec.nrows > 0) await this.writeRows(columns);
    await this.endHdu();
  }

  /** Flushes and closes the file; fails if an HDU is still open (its data would be short). */
  async close(): Promise<void> {
    try {
      if (this.current) throw new Error(`FITS writer: ${this.path}: HDU ${this.current.name} was not ended`);
      if (this.hdus === 0) throw new Error(`FITS writer: ${this.path}: no HDU written`);
      await this.flush();
    } finally {
      await this.fh.close();
    }
  }

  /** Closes the file without checks, after an error (the caller removes the partial file). */
  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }

  private checkCanBegin(): void {
    if (this.hdus === 0) throw new Error(`FITS writer: ${this.path}: write the primary HDU first`);
    if (this.current) throw new Error(`FITS writer: ${this.path}: HDU ${this.current.name} was not ended`);
  }

  private count(hdu: OpenHdu, n: number): void {
    hdu.written += n;
    if (hdu.written > hdu.expected) {
      throw new Error(`FITS writer: ${this.path}: HDU ${hdu.name} got more than the ${hdu.expected} data bytes its header says`);
    }
  }

  private async append(bytes: Uint8Array): Promise<void> {
    if (bytes.length >= this.buffer.length) {
      await this.flush();
      await this.writeAll(bytes);
      return;
    }
    if (this.used + bytes.length > this.buffer.length) await this.flush();
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    await this.writeAll(this.buffer.subarray(0, this.used));
    this.used = 0;
  }

  private async writeAll(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.fh.write(bytes, done, bytes.length - done, this.flushed);
      done += bytesWritten;
      this.flushed += bytesWritten;
    }
  }
}
