/**
 * A streaming FITS writer: HDU by HDU, sequential writes to one file, never the whole file in memory.
 *
 * Headers are formatted by card-format.ts from the reader's Card model and the HDU descriptions of
 * hdu-spec.ts; headers are padded with spaces and data with zeros to 2880 bytes (block.ts). Image data
 * (BITPIX 8/16/32/-32/-64, unsigned integers through BZERO) and binary-table rows (TFORM L B I J K A E D
 * with repeat counts, TDIM, unsigned integers through TZERO) come in chunks of native values; the writer
 * turns them big-endian on its own copy (encode.ts, with byteorder.ts's Buffer swap16/32/64).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { padToBlock } from './block.js';
import type { Card } from './card.js';
import { formatHeader } from './card-format.js';
import { checkPixels, encodeColumn, toFitsOrder, type ColumnValues, type WritableArray } from './encode.js';
import { binTableHeaderCards, imageDataBytes, imageHeaderCards, primaryHeaderCards, rowBytes, type BinTableSpec, type ImageSpec } from './hdu-spec.js';
import { bitpixBytes, bytesOf } from './numeric.js';
import { fieldWidth } from './tform.js';

/** Bytes gathered before one write: large sequential writes, bounded memory. */
const WRITE_BUFFER_BYTES = 8 << 20;

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
  async writePixels(values: WritableArray): Promise<void> {
    const hdu = this.current;
    if (!hdu?.image) throw new Error(`FITS writer: ${this.path}: writePixels outside an image HDU`);
    checkPixels(hdu.image, values);
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
  async writeRows(chunk: Record<string, ColumnValues>): Promise<void> {
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
      const width = fieldWidth(c.tform, c.repeat ?? 1);
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
    const pad = padToBlock(hdu.written) - hdu.written;
    if (pad > 0) await this.append(Buffer.alloc(pad));
    this.current = null;
    this.hdus += 1;
  }

  /** Writes a whole image extension from one array of native values. */
  async writeImage(spec: ImageSpec, values: WritableArray): Promise<void> {
    await this.beginImage(spec);
    await this.writePixels(values);
    await this.endHdu();
  }

  /** Writes a whole binary table from whole columns. */
  async writeBinTable(spec: BinTableSpec, columns: Record<string, ColumnValues>): Promise<void> {
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
