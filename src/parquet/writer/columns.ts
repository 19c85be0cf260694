/**
 * One column chunk (an Arrow column's rows [r0, r1)) as Parquet v1 data pages appended to the file sink:
 * levels (RLE runs), values (BYTE_STREAM_SPLIT for float, PLAIN otherwise), page compression, header.
 * List leaves are cut into pages of about {@link PAGE_BYTES} of values at row boundaries and carry no
 * statistics; top-level columns are one page with statistics (page header and chunk).
 */
import type { Data } from 'apache-arrow';
import { split4, split8 } from './byte-stream-split.js';
import { LevelRuns } from './levels.js';
import { Codec, type ColumnMetaData, Enc, type Statistics, writeDataPageHeader } from './metadata.js';
import { isValid, scalarValues } from './plain.js';
import type { LeafInfo } from './schema.js';
import type { Sink } from './sink.js';
import { CompactWriter } from './thrift-compact.js';
import type { Zstd } from './zstd.js';

/** Target value bytes per data page (arrow-rs's default data page size limit). */
export const PAGE_BYTES = 1024 * 1024;

export interface Compression {
  codec: Codec;
  level: number;
  zstd: Zstd | undefined;
}

/** Per-thread scratch buffers, reused from page to page. */
class Scratch {
  page = new Uint8Array(PAGE_BYTES + 64 * 1024);
  header = new CompactWriter(256);
  rep = new LevelRuns();
  def = new LevelRuns();
  ensure(n: number): Uint8Array {
    if (this.page.length < n) this.page = new Uint8Array(Math.max(n, this.page.length * 2));
    return this.page;
  }
}
const scratch = new Scratch();

const VALUE_BYTES: Record<string, number> = { i8: 4, i16: 4, i32: 4, u8: 4, u16: 4, u32: 4, f32: 4, i64: 8, u64: 8, f64: 8 };

interface ChunkState {
  sink: Sink;
  comp: Compression;
  uncompressed: number;
  compressed: number;
  numValues: number;
  firstPage: number;
}

/** Assembles [rep][def][values] into the page scratch, compresses it and appends header + body to the sink. */
function emitPage(
  st: ChunkState,
  rep: Uint8Array | undefined,
  def: Uint8Array | undefined,
  valueBytes: number,
  fillValues: (dst: Uint8Array, at: number) => void,
  numValues: number,
  encoding: Enc,
  statistics?: Statistics,
): void {
  const size = (rep ? 4 + rep.length : 0) + (def ? 4 + def.length : 0) + valueBytes;
  const page = scratch.ensure(size);
  const dv = new DataView(page.buffer, page.byteOffset);
  let at = 0;
  for (const lv of [rep, def]) {
    if (lv === undefined) continue;
    dv.setUint32(at, lv.length, true);
    page.set(lv, at + 4);
    at += 4 + lv.length;
  }
  fillValues(page, at);
  const raw = page.subarray(0, size);
  const body = st.comp.codec === Codec.ZSTD ? st.comp.zstd!.compress(raw, st.comp.level) : raw;
  const h = scratch.header;
  h.reset();
  writeDataPageHeader(h, { uncompressed: size, compressed: body.length, numValues, encoding, statistics });
  if (st.firstPage < 0) st.firstPage = st.sink.pos;
  st.sink.write(h.bytes());
  st.sink.write(body);
  st.uncompressed += h.pos + size;
  st.compressed += h.pos + body.length;
  st.numValues += numValues;
}

/** Writes rows [r0, r1) of `data` (the column of `leaf`) as one column chunk; returns its metadata. */
export function writeColumnChunk(sink: Sink, comp: Compression, leaf: LeafInfo, data: Data, r0: number, r1: number): ColumnMetaData {
  const st: ChunkState = { sink, comp, uncompressed: 0, compressed: 0, numValues: 0, firstPage: -1 };
  const float = leaf.kind === 'f32' || leaf.kind === 'f64';
  const encoding = float ? Enc.BYTE_STREAM_SPLIT : Enc.PLAIN;
  let statistics: Statistics | undefined;
  if (!leaf.list) {
    const v = scalarValues(leaf.kind, data, r0, r1);
    let def: Uint8Array | undefined;
    if (leaf.nullable) {
      const d = scratch.def;
      d.reset();
      if (v.nullCount === 0) d.push(1, r1 - r0);
      else for (let i = r0; i < r1; i++) d.push(isValid(data, i) ? 1 : 0, 1);
      def = d.finish();
    }
    const fill = float
      ? (dst: Uint8Array, at: number) => (leaf.kind === 'f32' ? split4(v.bytes, v.count, dst, at) : split8(v.bytes, v.count, dst, at))
      : (dst: Uint8Array, at: number) => dst.set(v.bytes, at);
    statistics = v.statistics;
    emitPage(st, undefined, def, v.bytes.length, fill, r1 - r0, encoding, statistics);
  } else {
    writeListPages(st, leaf, data, r0, r1, encoding);
  }
  return {
    type: leaf.physical,
    encodings: encoding === Enc.PLAIN ? [Enc.PLAIN, Enc.RLE] : [Enc.RLE, encoding],
    path: leaf.path,
    codec: comp.codec,
    numValues: st.numValues,
    uncompressed: st.uncompressed,
    compressed: st.compressed,
    dataPageOffset: st.firstPage,
    statistics,
  };
}

function writeListPages(st: ChunkState, leaf: LeafInfo, list: Data, r0: number, r1: number, encoding: Enc): void {
  const offsets = list.valueOffsets as Int32Array;
  const child = list.children[0];
  const values = child.values as ArrayBufferView;
  const size = VALUE_BYTES[leaf.kind];
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const defMax = leaf.nullable ? 2 : 1;
  const fixedWidth = fixedRowWidth(list, offsets, r0, r1);
  let a = r0;
  while (a < r1) {
    // Rows [a, b): at least one, then as many as keep the values within PAGE_BYTES.
    let b = a + 1;
    if (fixedWidth > 0) b = Math.min(r1, a + Math.max(1, Math.floor(PAGE_BYTES / (fixedWidth * size))));
    else while (b < r1 && (offsets[b + 1] - offsets[a]) * size <= PAGE_BYTES) b++;
    const v0 = offsets[a];
    const n = offsets[b] - v0;
    let rep: Uint8Array;
    let def: Uint8Array;
    let levels: number;
    if (fixedWidth > 0) {
      rep = scratch.rep.fixedRows(b - a, fixedWidth, 0, 1);
      def = scratch.def.fixedRows(b - a, fixedWidth, defMax, defMax);
      levels = n;
    } else {
      const r = scratch.rep;
      const d = scratch.def;
      r.reset();
      d.reset();
      levels = 0;
      for (let i = a; i < b; i++) {
        const len = offsets[i + 1] - offsets[i];
        if (!isValid(list, i)) {
          r.push(0, 1);
          d.push(0, 1);
          levels++;
        } else if (len === 0) {
          r.push(0, 1);
          d.push(defMax - 1, 1);
          levels++;
        } else {
          r.push(0, 1);
          r.push(1, len - 1);
          d.push(defMax, len);
          levels += len;
        }
      }
      rep = r.finish();
      def = d.finish();
    }
    const src = bytes.subarray(v0 * size, (v0 + n) * size);
    const fill =
      encoding === Enc.BYTE_STREAM_SPLIT
        ? (dst: Uint8Array, at: number) => (size === 4 ? split4(src, n, dst, at) : split8(src, n, dst, at))
        : (dst: Uint8Array, at: number) => dst.set(src, at);
    emitPage(st, rep, def, n * size, fill, levels, encoding);
    a = b;
  }
}

/** Returns w > 0 if rows [r0, r1) are all valid lists of exactly w values, else 0. */
function fixedRowWidth(list: Data, offsets: Int32Array, r0: number, r1: number): number {
  if (list.nullCount !== 0 || r1 <= r0) return 0;
  const w = offsets[r0 + 1] - offsets[r0];
  if (w <= 0) return 0;
  for (let i = r0 + 1; i < r1; i++) if (offsets[i + 1] - offsets[i] !== w) return 0;
  return w;
}
