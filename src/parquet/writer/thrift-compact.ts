/**
 * Thrift compact protocol encoder, just what the Parquet footer and page headers need: structs with
 * i16/i32/i64/binary/bool/struct/list fields (parquet-format's parquet.thrift). Field headers use the
 * compact delta form when the id grows by 1..15, else the long form; integers are zigzag varints.
 */

/** Compact protocol type codes. */
export const enum CT {
  TRUE = 1,
  FALSE = 2,
  BYTE = 3,
  I16 = 4,
  I32 = 5,
  I64 = 6,
  BINARY = 8,
  LIST = 9,
  STRUCT = 12,
}

const utf8 = new TextEncoder();

/** A growable byte buffer with compact-protocol writers; reuse it with reset(). */
export class CompactWriter {
  buf: Uint8Array;
  pos = 0;
  private lastId: number[] = [];
  private last = 0;

  constructor(capacity = 1024) {
    this.buf = new Uint8Array(capacity);
  }

  reset(): void {
    this.pos = 0;
    this.lastId.length = 0;
    this.last = 0;
  }

  /** The bytes written so far (a view; copy before reset). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
  }

  byte(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
  }

  /** Unsigned varint of a non-negative safe integer. */
  varint(v: number): void {
    this.ensure(10);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
  }

  /** Zigzag varint of a safe integer (i16, i32 or i64 within +-2^53). */
  zigzag(v: number): void {
    if (!Number.isSafeInteger(v)) throw new RangeError(`thrift: ${v} is not a safe integer`);
    this.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  fieldHeader(type: CT, id: number): void {
    const delta = id - this.last;
    if (delta > 0 && delta <= 15) this.byte((delta << 4) | type);
    else {
      this.byte(type);
      this.zigzag(id);
    }
    this.last = id;
  }

  i32(id: number, v: number): void {
    this.fieldHeader(CT.I32, id);
    this.zigzag(v);
  }

  i64(id: number, v: number): void {
    this.fieldHeader(CT.I64, id);
    this.zigzag(v);
  }

  i16(id: number, v: number): void {
    this.fieldHeader(CT.I16, id);
    this.zigzag(v);
  }

  i8(id: number, v: number): void {
    this.fieldHeader(CT.BYTE, id);
    this.byte(v);
  }

  bool(id: number, v: boolean): void {
    this.fieldHeader(v ? CT.TRUE : CT.FALSE, id);
  }

  binary(id: number, v: Uint8Array): void {
    this.fieldHeader(CT.BINARY, id);
    this.rawBinary(v);
  }

  string(id: number, v: string): void {
    this.binary(id, utf8.encode(v));
  }

  rawBinary(v: Uint8Array): void {
    this.varint(v.length);
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  /** Opens a struct-valued field (id > 0) or a struct element of a list (id = 0). */
  beginStruct(id = 0): void {
    if (id > 0) this.fieldHeader(CT.STRUCT, id);
    this.lastId.push(this.last);
    this.last = 0;
  }

  endStruct(): void {
    this.byte(0); // STOP
    this.last = this.lastId.pop() ?? 0;
  }

  /** Writes a list field header: `size` elements of `elem` type follow. */
  list(id: number, elem: CT, size: number): void {
    this.fieldHeader(CT.LIST, id);
    if (size < 15) this.byte((size << 4) | elem);
    else {
      this.byte(0xf0 | elem);
      this.varint(size);
    }
  }

  /** List elements: bare values without field headers. */
  elemI32(v: number): void {
    this.zigzag(v);
  }

  elemString(v: string): void {
    this.rawBinary(utf8.encode(v));
  }
}
