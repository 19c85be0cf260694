/**
 * The own Parquet writer (src/parquet/writer): golden bytes of its Thrift compact encoder and level runs,
 * and a round trip of every column type against parquet-wasm's file of the same table (DuckDB values,
 * EXCEPT ALL both ways; parquet-wasm's reader, bit for bit through Arrow IPC).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { tableFromIPC, tableToIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';
import { buildTable, type ColumnSpec } from '../../src/parquet/arrow-table.js';
import { encodeParquet, encodeParquetStream, OWN_CREATED_BY } from '../../src/parquet/encode.js';
import { readParquetFooter } from '../../src/parquet/footer.js';
import { LevelRuns } from '../../src/parquet/writer/levels.js';
import { CompactWriter, CT } from '../../src/parquet/writer/thrift-compact.js';
import { duckQuery, sqlString } from '../helpers/duckdb.js';

const dir = mkdtempSync(join(tmpdir(), 'desi-qad-writer-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const save = (b: Uint8Array): string => {
  const p = join(dir, `w${n++}.parquet`);
  writeFileSync(p, b);
  return p;
};

/** Runs `f` with DESI_QAD_PARQUET_WRITER set to `v`. */
async function withWriter<T>(v: string, f: () => Promise<T> | T): Promise<T> {
  const old = process.env.DESI_QAD_PARQUET_WRITER;
  process.env.DESI_QAD_PARQUET_WRITER = v;
  try {
    return await f();
  } finally {
    if (old === undefined) delete process.env.DESI_QAD_PARQUET_WRITER;
    else process.env.DESI_QAD_PARQUET_WRITER = old;
  }
}

describe('thrift compact encoder', () => {
  test('golden bytes: short and long field deltas, zigzag, strings, lists, nested structs, bools', () => {
    const w = new CompactWriter(4);
    w.beginStruct();
    w.i32(1, 3); // 0x15, zigzag 6
    w.i64(3, -1); // delta 2: 0x26, zigzag 1
    w.string(4, 'ab'); // 0x18, len 2, 'a' 'b'
    w.i32(20, 300); // long form: 0x05, zigzag(20)=40, zigzag(300)=600 -> 0xd8 0x04
    w.beginStruct(21); // 0x1c
    w.bool(1, true); // 0x11
    w.endStruct(); // 0x00
    w.list(22, CT.I32, 2); // 0x19, 0x25
    w.elemI32(0);
    w.elemI32(-2);
    w.endStruct();
    assert.deepEqual([...w.bytes()], [0x15, 6, 0x26, 1, 0x18, 2, 0x61, 0x62, 0x05, 40, 0xd8, 0x04, 0x1c, 0x11, 0x00, 0x19, 0x25, 0, 3, 0x00]);
  });
});

describe('level runs', () => {
  test('RLE runs merge equal values; fixed-width rows replicate one row', () => {
    const r = new LevelRuns();
    r.push(1, 3);
    r.push(1, 2);
    r.push(0, 200);
    assert.deepEqual([...r.finish()], [10, 1, 0x90, 0x03, 0]);
    assert.deepEqual([...r.fixedRows(3, 4, 0, 1)], [2, 0, 6, 1, 2, 0, 6, 1, 2, 0, 6, 1]);
    assert.deepEqual([...r.fixedRows(5, 1, 0, 1)], [10, 0]);
    assert.deepEqual([...r.fixedRows(2, 3, 2, 2)], [12, 2]);
  });
});

const F32 = Float32Array.from([NaN, -0, 0, 1.4e-45, -1.1754942e-38, Infinity, -Infinity, 3.4028234663852886e38]);
const F64 = Float64Array.from([NaN, -0, 0, 5e-324, -2.225073858507201e-308, Infinity, -Infinity, Number.MAX_VALUE]);
const rows = F32.length;
const valid = Uint8Array.from([1, 0, 1, 1, 1, 1, 0, 1]);
const ragged = Int32Array.from([0, 2, 2, 5, 5, 6, 9, 9, 12]);

function everyType(): ColumnSpec[] {
  return [
    { name: 'I8', kind: 'scalar', type: 'int8', values: Int8Array.from([-128, -1, 0, 1, 127, 5, 6, 7]), valid },
    { name: 'I16', kind: 'scalar', type: 'int16', values: Int16Array.from([-32768, -1, 0, 1, 32767, 5, 6, 7]) },
    { name: 'I32', kind: 'scalar', type: 'int32', values: Int32Array.from([-(2 ** 31), -1, 0, 1, 2 ** 31 - 1, 5, 6, 7]), valid },
    { name: 'I64', kind: 'scalar', type: 'int64', values: BigInt64Array.from([-(2n ** 63n), -1n, 0n, 2n ** 53n + 1n, 2n ** 63n - 1n, 5n, 6n, 7n]) },
    { name: 'U8', kind: 'scalar', type: 'uint8', values: Uint8Array.from([0, 1, 127, 128, 255, 5, 6, 7]) },
    { name: 'U16', kind: 'scalar', type: 'uint16', values: Uint16Array.from([0, 1, 32767, 32768, 65535, 5, 6, 7]), valid },
    { name: 'U32', kind: 'scalar', type: 'uint32', values: Uint32Array.from([0, 1, 2 ** 31, 2 ** 32 - 1, 0x80000001, 5, 6, 7]) },
    { name: 'U64', kind: 'scalar', type: 'uint64', values: BigUint64Array.from([0n, 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 53n + 1n, 5n, 6n, 7n]), valid },
    { name: 'F32', kind: 'scalar', type: 'float32', values: F32, valid },
    { name: 'F64', kind: 'scalar', type: 'float64', values: F64 },
    { name: 'OK', kind: 'scalar', type: 'bool', values: Uint8Array.from([1, 0, 1, 0, 1, 1, 0, 0]), valid },
    { name: 'S', kind: 'scalar', type: 'utf8', values: ['', 'QSO', 'ü€😀', 'x', 'GALAXY', 'STAR', 'y', 'zz'], valid },
    { name: 'NF', kind: 'null', type: 'float32' },
    { name: 'NS', kind: 'null', type: 'utf8' },
    {
      name: 'FLUX',
      kind: 'list',
      type: 'float32',
      values: Float32Array.from({ length: rows * 3 }, (_, i) => F32[i % rows] * (i + 1)),
      width: 3,
      metadata: { unit: 'erg' },
    },
    { name: 'IVAR', kind: 'list', type: 'float64', values: Float64Array.from({ length: rows * 2 }, (_, i) => F64[i % rows] / (i + 1)), width: 2 },
    {
      name: 'MASK',
      kind: 'list',
      type: 'uint32',
      values: Uint32Array.from({ length: rows * 3 }, (_, i) => (i === 4 ? 2 ** 32 - 1 : i % 5 === 0 ? 2 ** 31 : 0)),
      width: 3,
    },
    {
      name: 'L32',
      kind: 'list',
      type: 'int32',
      values: Int32Array.from({ length: 12 }, (_, i) => (i % 2 ? -(2 ** 31) : 2 ** 31 - 1 - i)),
      width: 0,
      offsets: ragged,
    },
    {
      name: 'L64',
      kind: 'list',
      type: 'int64',
      values: BigInt64Array.from({ length: rows }, (_, i) => (i % 2 ? -(2n ** 63n) : 2n ** 62n + BigInt(i))),
      width: 1,
    },
    { name: 'NL', kind: 'nullList', type: 'float32' },
  ];
}

/** Arrow IPC of what parquet-wasm's reader gets from `bytes` (bit-exact comparison of every buffer). */
const wasmRead = (bytes: Uint8Array) => tableFromIPC(readParquet(bytes).intoIPCStream());

describe('own writer against parquet-wasm', () => {
  test('every column type: same DuckDB types and values (EXCEPT ALL both ways), same Arrow data from parquet-wasm', async () => {
    for (const rowGroupRows of [rows, 3]) {
      const table = buildTable(rows, everyType());
      const own = await encodeParquetStream(table, { k: 'v' }, { rowGroupRows });
      const wasm = await withWriter('wasm', () => encodeParquetStream(table, { k: 'v' }, { rowGroupRows }));
      assert.equal(readParquetFooter(own).createdBy, OWN_CREATED_BY);
      assert.notEqual(readParquetFooter(wasm).createdBy, OWN_CREATED_BY);
      assert.equal(readParquetFooter(own).rowGroups.length, Math.ceil(rows / rowGroupRows));
      const a = sqlString(save(own));
      const b = sqlString(save(wasm));
      const [d1, d2] = await Promise.all([duckQuery(`DESCRIBE SELECT * FROM ${a}`), duckQuery(`DESCRIBE SELECT * FROM ${b}`)]);
      assert.deepEqual(d1, d2);
      // DuckDB values (NaN equals NaN in set operations); the bits of every float are compared below through parquet-wasm's reader.
      const sel = (f: string) => `SELECT * FROM ${f}`;
      const diff = await duckQuery(`SELECT count(*) AS n FROM ((${sel(a)} EXCEPT ALL ${sel(b)}) UNION ALL (${sel(b)} EXCEPT ALL ${sel(a)}))`);
      assert.equal(Number(diff[0].n), 0);
      assert.equal(Number((await duckQuery(`SELECT count(*) AS n FROM ${a}`))[0].n), rows);
      // parquet-wasm's reader: the same Arrow schema (ARROW:schema restores uint32 etc.) and the same buffers.
      const ta = wasmRead(own);
      const tb = wasmRead(wasm);
      assert.equal(String(ta.schema.fields.map((f) => `${f.name}:${String(f.type)}`)), String(tb.schema.fields.map((f) => `${f.name}:${String(f.type)}`)));
      assert.deepEqual(tableToIPC(ta, 'stream'), tableToIPC(tb, 'stream'));
      assert.deepEqual(ta.schema.fields.find((f) => f.name === 'FLUX')?.metadata.get('unit'), 'erg');
    }
  });

  test("statistics of top-level columns equal parquet-wasm's; none on list leaves", async () => {
    const table = buildTable(rows, everyType());
    const stats = async (bytes: Uint8Array) =>
      duckQuery(
        `SELECT path_in_schema AS p, stats_min AS a, stats_max AS b, stats_min_value AS c, stats_max_value AS d, stats_null_count AS e FROM parquet_metadata(${sqlString(save(bytes))}) ORDER BY column_id`,
      );
    const own = await stats(encodeParquet(table, {}));
    const wasm = await stats(await withWriter('wasm', () => encodeParquet(table, {})));
    assert.deepEqual(own, wasm);
    assert.ok(own.some((r) => r.c !== null));
  });

  test('a zero-row table and an unknown writer name', async () => {
    const table = buildTable(0, [
      { name: 'I64', kind: 'scalar', type: 'int64', values: new BigInt64Array(0) },
      { name: 'FLUX', kind: 'list', type: 'float32', values: new Float32Array(0), width: 3 },
    ]);
    const own = encodeParquet(table, { k: 'v' });
    assert.equal(readParquetFooter(own).numRows, 0);
    assert.equal(readParquetFooter(own).keyValue.get('k'), 'v');
    assert.ok(readParquetFooter(own).keyValue.has('ARROW:schema'));
    await assert.rejects(
      withWriter('fast', () => encodeParquet(table, {})),
      /DESI_QAD_PARQUET_WRITER/,
    );
  });
});
