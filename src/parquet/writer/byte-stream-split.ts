/**
 * BYTE_STREAM_SPLIT: byte k of every value goes to stream k, the streams one after another. Written
 * straight from the Arrow value bytes into the page buffer: one pass reading 32-bit words.
 */

/** Writes the BYTE_STREAM_SPLIT form of the `n` 4-byte values at `src` into `dst` from `at`. */
export function split4(src: Uint8Array, n: number, dst: Uint8Array, at: number): void {
  const words = src.byteOffset % 4 === 0 ? new Uint32Array(src.buffer, src.byteOffset, n) : new Uint32Array(src.slice(0, 4 * n).buffer);
  const s0 = at;
  const s1 = at + n;
  const s2 = at + 2 * n;
  const s3 = at + 3 * n;
  for (let i = 0; i < n; i++) {
    const v = words[i];
    dst[s0 + i] = v;
    dst[s1 + i] = v >>> 8;
    dst[s2 + i] = v >>> 16;
    dst[s3 + i] = v >>> 24;
  }
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
