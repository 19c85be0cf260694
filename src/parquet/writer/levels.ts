/**
 * Definition and repetition levels in Parquet's RLE/bit-packed hybrid (RLE runs only: every run of
 * equal levels is one varint header plus one value byte; levels here are at most 2, so 1 byte).
 * Runs of equal values are merged as they are pushed, so an all-valid column is a single run and a
 * fixed-width list costs two runs per row, whatever its width.
 */
export class LevelRuns {
  buf = new Uint8Array(256);
  pos = 0;
  private value = -1;
  private count = 0;

  reset(): void {
    this.pos = 0;
    this.value = -1;
    this.count = 0;
  }

  /** Appends `count` levels equal to `value`. */
  push(value: number, count: number): void {
    if (count <= 0) return;
    if (value === this.value) {
      this.count += count;
      return;
    }
    this.flush();
    this.value = value;
    this.count = count;
  }

  private flush(): void {
    if (this.count === 0) return;
    if (this.pos + 12 > this.buf.length) {
      const b = new Uint8Array(this.buf.length * 2);
      b.set(this.buf.subarray(0, this.pos));
      this.buf = b;
    }
    let v = this.count * 2; // RLE run: header = count << 1
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
    this.buf[this.pos++] = this.value;
    this.count = 0;
  }

  /** Ends the last run and returns the encoded levels (a view until the next reset). */
  finish(): Uint8Array {
    this.flush();
    this.value = -1;
    return this.buf.subarray(0, this.pos);
  }

  /**
   * Returns the levels of `rows` non-null lists of `width` values each, with `first` and `rest` the
   * levels of a row's first and following values (rep 0/1, or def max/max), built by replicating one
   * row's bytes: no per-value or per-row work beyond a doubling copy.
   */
  fixedRows(rows: number, width: number, first: number, rest: number): Uint8Array {
    this.reset();
    if (width === 1 || first === rest) {
      this.push(first, rows * width); // one value per row: every level is a row's first
      return this.finish();
    }
    this.push(first, 1);
    this.push(rest, width - 1);
    const one = this.finish().slice();
    const total = one.length * rows;
    if (this.buf.length < total) this.buf = new Uint8Array(total);
    this.buf.set(one, 0);
    let have = one.length;
    while (have < total) {
      const n = Math.min(have, total - have);
      this.buf.copyWithin(have, 0, n);
      have += n;
    }
    this.pos = total;
    return this.buf.subarray(0, total);
  }
}
