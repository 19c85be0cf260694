/**
 * BYTE_STREAM_SPLIT: byte k of every value goes to stream k, the streams one after another. Written
 * straight from the Arrow value bytes into the page buffer: one pass reading 32-bit words.
 */

let temp = new Uint32Array(1 << 18);

/**
 * Writes the BYTE_STREAM_SPLIT form of the `n` 4-byte values at `src` into `dst` from `at`. Four values
 * at a time: their four low bytes make one 32-bit word of stream 0, and so on, written into an aligned
 * scratch (streams at multiples of 4) and then copied to `dst` one stream at a time (dst offsets are
 * rarely aligned: the levels come first). About 2x a byte-at-a-time loop.
 */
export function split4(src: Uint8Array, n: number, dst: Uint8Array, at: number): void {
  const words = src.byteOffset % 4 === 0 ? new Uint32Array(src.buffer, src.byteOffset, n) : new Uint32Array(src.slice(0, 4 * n).buffer);
  const q = n >>> 2; // whole groups of four values
  const m = q + 1; // words per stream in the scratch (room for the tail)
  if (temp.length < 4 * m) temp = new Uint32Array(4 * m);
  const t = temp;
  for (let j = 0, i = 0; j < q; j++, i += 4) {
    const a = words[i];
    const b = words[i + 1];
    const c = words[i + 2];
    const d = words[i + 3];
    t[j] = (a & 0xff) | ((b & 0xff) << 8) | ((c & 0xff) << 16) | (d << 24);
    t[m + j] = ((a >>> 8) & 0xff) | (b & 0xff00) | ((c & 0xff00) << 8) | ((d & 0xff00) << 16);
    t[2 * m + j] = ((a >>> 16) & 0xff) | ((b >>> 8) & 0xff00) | (c & 0xff0000) | ((d & 0xff0000) << 8);
    t[3 * m + j] = (a >>> 24) | ((b >>> 16) & 0xff00) | ((c >>> 8) & 0xff0000) | (d & 0xff000000);
  }
  const tb = new Uint8Array(t.buffer, 0, 16 * m);
  for (let i = 4 * q; i < n; i++) {
    const v = words[i];
    const k = i - 4 * q;
    tb[4 * q + k] = v;
    tb[4 * m + 4 * q + k] = v >>> 8;
    tb[8 * m + 4 * q + k] = v >>> 16;
    tb[12 * m + 4 * q + k] = v >>> 24;
  }
  for (let k = 0; k < 4; k++) dst.set(tb.subarray(4 * m * k, 4 * m * k + n), at + k * n);
}

/** Writes the BYTE_STREAM_SPLIT form of the `n` 8-byte values at `src` into `dst` from `at`. */
export function split8(src: Uint8Array, n: number, dst: Uint8Array, at: number): void {
  const words = src.byteOffset % 4 === 0 ? new Uint32Array(src.buffer, src.byteOffset, 2 * n) : new Uint32Array(src.slice(0, 8 * n).buffer);
  for (let i = 0; i < n; i++) {
    const lo = words[2 * i];
    const hi = words[2 * i + 1];
    dst[at + i] = lo;
    dst[at + n + i] = lo >>> 8;
    dst[at + 2 * n + i] = lo >>> 16;
    dst[at + 3 * n + i] = lo >>> 24;
    dst[at + 4 * n + i] = hi;
    dst[at + 5 * n + i] = hi >>> 8;
    dst[at + 6 * n + i] = hi >>> 16;
    dst[at + 7 * n + i] = hi >>> 24;
  }
}
