import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tableFromIPC, type Data, type Table } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';

/** Reads a Parquet file back into an Arrow table (for bit-level checks of the stored values). */
export async function readArrow(path: string): Promise<Table> {
  const wasm = readParquet(new Uint8Array(await readFile(path)));
  return tableFromIPC(wasm.intoIPCStream());
}

/** Little-endian bytes of a typed array, hex. */
export function hexOf(a: ArrayBufferView): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
}

export function sha256Of(a: ArrayBufferView): string {
  return createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');
}

/** The raw values of row i of a list column, as the stored typed array (no float conversion). */
export function listRow(table: Table, column: string, i: number): ArrayBufferView {
  const v = table.getChild(column);
  if (!v) throw new Error(`no column ${column}`);
  const row = v.get(i) as { toArray(): ArrayBufferView } | null;
  if (row === null) throw new Error(`${column}[${i}] is null`);
  return row.toArray();
}

/** A digest of a column's stored buffers (values, offsets, validity, children), chunk by chunk. */
export function columnDigest(table: Table, name: string): string {
  const h = createHash('sha256');
  const walk = (d: Data) => {
    for (const b of [d.values, d.valueOffsets, d.nullBitmap] as (ArrayBufferView | undefined)[]) {
      if (b) h.update(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
      h.update('|');
    }
    for (const c of d.children) walk(c);
  };
  for (const d of table.getChild(name)!.data as Data[]) walk(d); // a Table<any>'s columns hold Data<any>
  return h.digest('hex');
}

/**
 * The stored bits of row i of a scalar numeric column, as little-endian hex of its element (read from the
 * Arrow buffer, never through a JS number, so a NaN payload shows as it is stored); null when the row is null.
 */
export function scalarBits(table: Table, column: string, i: number): string | null {
  const v = table.getChild(column);
  if (!v) throw new Error(`no column ${column}`);
  let row = i;
  for (const d of v.data as Data[]) {
    if (row < d.length) {
      if (!d.getValid(row)) return null;
      const values = d.values as ArrayBufferView & { BYTES_PER_ELEMENT: number; subarray(a: number, b: number): ArrayBufferView };
      return hexOf(values.subarray(d.offset + row, d.offset + row + 1));
    }
    row -= d.length;
  }
  throw new Error(`${column}[${i}] is past the end`);
}
