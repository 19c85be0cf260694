import type { ColumnData, Hdu, TableInfo } from '../fits/index.js';
import { findColumn, readColumn } from '../fits/index.js';
import { DesiError } from './errors.js';
import type { CatalogColumnDef, CatalogType } from './schema.js';

/** One catalog column's values for the output rows, already in the output schema's type. */
export type CatalogValues =
  | {
      name: string;
      type: Exclude<CatalogType, 'utf8'>;
      width?: number;
      values: BigInt64Array | Int32Array | Int16Array | Float32Array | Float64Array;
      valid?: Uint8Array;
    }
  | { name: string; type: 'utf8'; values: string[]; valid?: Uint8Array }
  | { name: string; type: CatalogType; absent: true };

/**
 * Reads the given columns of a binary table and keeps the rows in `rows` (in that order), converting each to
 * its output type. A column missing from the table is `absent` (null in the output); a column whose FITS type
 * cannot be carried losslessly into the output type is a DesiError naming the file, HDU and column.
 */
export function gatherColumns(file: string, hdu: Hdu, info: TableInfo, data: Uint8Array, defs: readonly CatalogColumnDef[], rows: Int32Array): CatalogValues[] {
  const out: CatalogValues[] = [];
  for (const def of defs) {
    const col = findColumn(info, def.name);
    if (!col) {
      out.push({ name: def.name, type: def.type, absent: true });
      continue;
    }
    const cd = readColumn(file, hdu, info, col, data);
    out.push(convert(file, hdu.name, def, cd, rows));
  }
  return out;
}

function convert(file: string, hduName: string, def: CatalogColumnDef, cd: ColumnData, rows: Int32Array): CatalogValues {
  const bad = (why: string) => new DesiError('BAD_TYPE', file, why, hduName, def.name);
  if (def.type === 'utf8') {
    if (cd.type !== 'string' || cd.repeat !== 1) throw bad(`expected one character string (A) per row, found ${cd.type} with ${cd.repeat} per row`);
    return { name: def.name, type: 'utf8', values: Array.from(rows, (r) => cd.values[r]) };
  }
  if (cd.type === 'string' || cd.type === 'bool' || cd.type === 'bits' || cd.type === 'varlen' || cd.type === 'complex64' || cd.type === 'complex128') {
    throw bad(`expected a numeric column of ${def.type}, found ${cd.type}`);
  }
  const width = cd.repeat;
  if (!def.list && width !== 1) throw bad(`expected one value per row, found a repeat count of ${width}`);
  const n = rows.length * width;
  const src = cd.values;
  let valid: Uint8Array | undefined;
  if (cd.nulls) {
    valid = new Uint8Array(rows.length).fill(1);
    rows.forEach((r, i) => {
      for (let j = 0; j < width; j++) if (cd.nulls![r * width + j]) valid![i] = 0;
    });
  }
  const fromType = cd.type;
  if (fromType === def.type) {
    // Same element type: copy the rows bit for bit (NaN payloads included) through an integer view.
    return { name: def.name, type: def.type, width: def.list ? width : undefined, valid, values: gatherSame(src as SameArray, rows, width) };
  }
  const gather = <T extends Record<number, number | bigint>>(dst: T, map: (v: number | bigint) => number | bigint): T => {
    let k = 0;
    for (const r of rows) {
      const base = r * width;
      for (let j = 0; j < width; j++) dst[k++] = map(src[base + j]);
    }
    return dst;
  };
  switch (def.type) {
    case 'int64': {
      if (fromType === 'float32' || fromType === 'float64') throw bad(`expected an integer column, found ${fromType}`);
      const dst = new BigInt64Array(n);
      if (fromType === 'uint64') {
        return {
          name: def.name,
          type: 'int64',
          width: def.list ? width : undefined,
          valid,
          values: gather(dst, (v) => {
            if ((v as bigint) > 0x7fffffffffffffffn) throw bad(`value ${v} does not fit int64`);
            return v;
          }),
        };
      }
      return { name: def.name, type: 'int64', width: def.list ? width : undefined, valid, values: gather(dst, (v) => (typeof v === 'bigint' ? v : BigInt(v))) };
    }
    case 'int32':
    case 'int16': {
      const ok = def.type === 'int32' ? ['int8', 'uint8', 'int16', 'uint16', 'int32'] : ['int8', 'uint8', 'int16'];
      if (!ok.includes(fromType)) throw bad(`expected ${def.type} or narrower, found ${fromType}`);
      const dst = def.type === 'int32' ? new Int32Array(n) : new Int16Array(n);
      return { name: def.name, type: def.type, width: def.list ? width : undefined, valid, values: gather(dst, (v) => v) };
    }
    case 'float64': {
      if (fromType !== 'float64' && fromType !== 'float32') throw bad(`expected a floating-point column, found ${fromType}`);
      return { name: def.name, type: 'float64', width: def.list ? width : undefined, valid, values: gather(new Float64Array(n), (v) => v) };
    }
    case 'float32': {
      if (fromType !== 'float32') throw bad(`expected float32 (E), found ${fromType}: narrowing would lose precision`);
      return { name: def.name, type: 'float32', width: def.list ? width : undefined, valid, values: gather(new Float32Array(n), (v) => v) };
    }
  }
}

export type SameArray = BigInt64Array | Int32Array | Int16Array | Float32Array | Float64Array;

/**
 * Copies the given rows (`width` values each) of a typed array into a new one of the same type, through an
 * unsigned-integer view of the same width so that every bit pattern survives (a float copy may quiet a NaN).
 */
export function gatherSame<T extends SameArray>(src: T, rows: Int32Array, width: number): T {
  const Ctor = src.constructor as new (n: number) => T;
  const dst = new Ctor(rows.length * width);
  // Both views have the same element width at run time; the casts only tell TypeScript so.
  const s = bitView(src) as Uint32Array;
  const d = bitView(dst) as Uint32Array;
  for (let i = 0; i < rows.length; i++) d.set(s.subarray(rows[i] * width, rows[i] * width + width), i * width);
  return dst;
}

function bitView(a: SameArray): Uint16Array | Uint32Array | BigUint64Array {
  const b = a.buffer as ArrayBuffer;
  if (a.BYTES_PER_ELEMENT === 8) return new BigUint64Array(b, a.byteOffset, a.length);
  if (a.BYTES_PER_ELEMENT === 4) return new Uint32Array(b, a.byteOffset, a.length);
  return new Uint16Array(b, a.byteOffset, a.length);
}
