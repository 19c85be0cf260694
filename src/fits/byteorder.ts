/**
 * Big-endian (FITS) to native byte order and back, with the fast paths measured in dependency-notes.md:
 * `Buffer#swap16/32/64` in place on a buffer that is ours, then a typed-array view. Table fields sit at
 * odd offsets inside rows, so a column is first gathered into a fresh aligned buffer.
 */

/** True on little-endian hosts (all the platforms Node ships for today); FITS data is big-endian. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Turns big-endian values of `size` bytes (1, 2, 4, 8 or 16 = two 8-byte halves of a complex) into native
 * order in place and returns the same bytes; the same swap turns native values big-endian for the writer.
 * The caller must own `u8` (it is overwritten).
 */
export function swapInPlace(u8: Uint8Array, size: number): Uint8Array {
  if (!LITTLE_ENDIAN || size === 1 || u8.byteLength === 0) return u8;
  const buf = Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
  if (size === 2) buf.swap16();
  else if (size === 4) buf.swap32();
  else if (size === 8 || size === 16) buf.swap64();
  else throw new RangeError(`no byte swap for ${size}-byte values`);
  return u8;
}

/**
 * Returns `u8` itself when its offset is a multiple of `align` (so a typed-array view works), or an aligned
 * copy otherwise. ByteSource slices start at offset 0, so the copy is only for callers' subarrays.
 */
export function aligned(u8: Uint8Array, align: number): Uint8Array {
  if (u8.byteOffset % align === 0) return u8;
  const copy = new Uint8Array(u8.byteLength);
  copy.set(u8);
  return copy;
}

/**
 * Copies one field of every row of a table (`width` bytes at `offset` in rows of `rowBytes`) into a fresh
 * buffer, rows back to back: the column's bytes made contiguous and aligned for a typed-array view.
 */
export function gatherField(data: Uint8Array, rows: number, rowBytes: number, offset: number, width: number): Uint8Array {
  const out = new Uint8Array(rows * width);
  if (width === 0 || rows === 0) return out;
  if (width === rowBytes && offset === 0) {
    out.set(data.subarray(0, rows * width));
    return out;
  }
  if (width <= 16) {
    let src = offset;
    let dst = 0;
    for (let r = 0; r < rows; r++, src += rowBytes) {
      for (let k = 0; k < width; k++) out[dst++] = data[src + k];
    }
  } else {
    for (let r = 0, src = offset; r < rows; r++, src += rowBytes) {
      out.set(data.subarray(src, src + width), r * width);
    }
  }
  return out;
}

/**
 * Reads big-endian 64-bit signed integers as doubles, correctly rounded like numpy's int64 -> float64
 * cast: hi * 2^32 is exact and adding the unsigned low word rounds once. `native` must already be swapped
 * to host order (the result of swapInPlace(_, 8)) and 4-byte aligned.
 */
export function int64ToFloat64(native: Uint8Array, unsigned = false): Float64Array {
  const n = native.byteLength / 8;
  const words = new Uint32Array(native.buffer, native.byteOffset, n * 2);
  const out = new Float64Array(n);
  const hiIdx = LITTLE_ENDIAN ? 1 : 0;
  const loIdx = 1 - hiIdx;
  for (let i = 0; i < n; i++) {
    const hiU = words[2 * i + hiIdx];
    const hi = unsigned ? hiU : hiU | 0;
    out[i] = hi * 4294967296 + words[2 * i + loIdx];
  }
  return out;
}
