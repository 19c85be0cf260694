/**
 * PLAIN values of top-level (scalar) columns, and their min/max statistics. Top-level columns are small
 * (one value per row), so plain loops are fine here; the big list leaves never come through this file.
 */
import type { Data } from 'apache-arrow';
import type { Statistics } from './metadata.js';
import type { ValueKind } from './schema.js';

type Numeric = Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Uint32Array | BigUint64Array | Float32Array | Float64Array;

/** True if row i of `data` is valid (Arrow validity bitmap, LSB first). */
export function isValid(data: Data, i: number): boolean {
  if (data.nullCount === 0) return true;
  const bm = data.nullBitmap;
  if (bm === undefined || bm.length === 0) return true;
  const j = data.offset + i;
  return (bm[j >> 3] & (1 << (j & 7))) !== 0;
}

export interface PlainValues {
  /** PLAIN bytes of the non-null values (floats: the values' own bytes, to be byte-stream-split). */
  bytes: Uint8Array;
  count: number;
  nullCount: number;
  statistics: Statistics;
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Returns the non-null values of rows [r0, r1) of a scalar column, PLAIN, and their statistics. */
export function scalarValues(kind: ValueKind, data: Data, r0: number, r1: number): PlainValues {
  let nullCount = 0;
  for (let i = r0; i < r1; i++) if (!isValid(data, i)) nullCount++;
  if (kind === 'bool') return boolValues(data, r0, r1, nullCount);
  if (kind === 'utf8') return utf8Values(data, r0, r1, nullCount);
  const all = (data.values as Numeric).subarray(r0, r1);
  let vals: Numeric = all;
  if (nullCount > 0) {
    const ctor = all.constructor as new (n: number) => Numeric;
    const out = new ctor(r1 - r0 - nullCount);
    let k = 0;
    for (let i = r0; i < r1; i++) if (isValid(data, i)) out[k++] = all[i - r0];
    vals = out;
  }
  const statistics = numericStatistics(kind, vals, nullCount);
  let bytes: Uint8Array;
  if (kind === 'i8' || kind === 'i16' || kind === 'u8' || kind === 'u16') bytes = bytesOf(Int32Array.from(vals as ArrayLike<number>));
  else bytes = bytesOf(vals);
  return { bytes, count: vals.length, nullCount, statistics };
}

function numericStatistics(kind: ValueKind, vals: Numeric, nullCount: number): Statistics {
  if (vals.length === 0) return { nullCount };
  let min: number | bigint | undefined;
  let max: number | bigint | undefined;
  const float = kind === 'f32' || kind === 'f64';
  for (const v of vals) {
    if (float && Number.isNaN(v)) continue;
    if (min === undefined || v < min) min = v;
    if (max === undefined || v > max) max = v;
  }
  if (min === undefined || max === undefined) return { nullCount }; // all NaN: no min/max
  if (float) {
    // parquet-format: a zero min is written as -0.0 and a zero max as +0.0.
    if (min === 0) min = -0;
    if (max === 0) max = 0;
  }
  return { nullCount, min: encodeStat(kind, min), max: encodeStat(kind, max), signed: !kind.startsWith('u') };
}

function encodeStat(kind: ValueKind, v: number | bigint): Uint8Array {
  const size = kind === 'i64' || kind === 'u64' || kind === 'f64' ? 8 : 4;
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  if (kind === 'i64') dv.setBigInt64(0, v as bigint, true);
  else if (kind === 'u64') dv.setBigUint64(0, v as bigint, true);
  else if (kind === 'f64') dv.setFloat64(0, v as number, true);
  else if (kind === 'f32') dv.setFloat32(0, v as number, true);
  else if (kind === 'u32') dv.setUint32(0, v as number, true);
  else dv.setInt32(0, v as number, true);
  return b;
}

function boolValues(data: Data, r0: number, r1: number, nullCount: number): PlainValues {
  const n = r1 - r0 - nullCount;
  const out = new Uint8Array(Math.ceil(n / 8));
  const bits = data.values as Uint8Array;
  let k = 0;
  let seenTrue = false;
  let seenFalse = false;
  for (let i = r0; i < r1; i++) {
    if (!isValid(data, i)) continue;
    const j = data.offset + i;
    if ((bits[j >> 3] & (1 << (j & 7))) !== 0) {
      out[k >> 3] |= 1 << (k & 7);
      seenTrue = true;
    } else seenFalse = true;
    k++;
  }
  const statistics: Statistics = n === 0 ? { nullCount } : { nullCount, min: Uint8Array.of(seenFalse ? 0 : 1), max: Uint8Array.of(seenTrue ? 1 : 0) };
  return { bytes: out, count: n, nullCount, statistics };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function utf8Values(data: Data, r0: number, r1: number, nullCount: number): PlainValues {
  const offsets = data.valueOffsets as Int32Array;
  const chars = data.values as Uint8Array;
  let size = 0;
  for (let i = r0; i < r1; i++) if (isValid(data, i)) size += 4 + offsets[i + 1] - offsets[i];
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let at = 0;
  let min: Uint8Array | undefined;
  let max: Uint8Array | undefined;
  for (let i = r0; i < r1; i++) {
    if (!isValid(data, i)) continue;
    const s = chars.subarray(offsets[i], offsets[i + 1]);
    dv.setUint32(at, s.length, true);
    out.set(s, at + 4);
    at += 4 + s.length;
    if (min === undefined || compareBytes(s, min) < 0) min = s;
    if (max === undefined || compareBytes(s, max) > 0) max = s;
  }
  const statistics: Statistics = min === undefined || max === undefined ? { nullCount } : { nullCount, min: min.slice(), max: max.slice() };
  return { bytes: out, count: r1 - r0 - nullCount, nullCount, statistics };
}
