/**
 * buildTable + encodeParquet, checked with an independent reader (DuckDB): values bit for bit, types,
 * footer key-value metadata, and the encodings and codecs actually written.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type Data, type Field, type Float32, tableFromIPC, tableToIPC, type Vector } from 'apache-arrow';
import { Compression, Encoding, readParquet, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { buildTable, type ColumnSpec, LIST_ELEMENT_NAME } from '../../src/parquet/arrow-table.js';
import { encodeParquet, encodeParquetStream, MAX_ENCODE_BYTES, parquetWriterName, planEncodings } from '../../src/parquet/encode.js';
import { readParquetFooter } from '../../src/parquet/footer.js';
import { duckColumnChunks, duckKvMetadata, duckQuery, duckReadParquet, sqlString } from '../helpers/duckdb.js';

const dir = mkdtempSync(join(tmpdir(), 'desi-qad-parquet-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;

/** Writes `bytes` to a fresh temp file and returns its path. */
function save(bytes: Uint8Array): string {
  const path = join(dir, `t${fileNo++}.parquet`);
  writeFileSync(path, bytes);
  return path;
}

/** Returns the uint32 bit patterns of `values` stored as float32. */
function f32Bits(values: ArrayLike<number>): number[] {
  return Array.from(new Uint32Array(Float32Array.from(values).buffer));
}

/** Returns the two uint32 halves of each float64 in `values`, as "hi:lo" strings. */
function f64Bits(values: ArrayLike<number>): string[] {
  const u = new Uint32Array(Float64Array.from(values).buffer);
  const out: string[] = [];
  for (let i = 0; i < u.length; i += 2) out.push(`${u[i + 1].toString(16)}:${u[i].toString(16)}`);
  return out;
}

const MIN_SUBNORMAL_F32 = new Float32Array(new Uint32Array([1]).buffer)[0];
const MAX_SUBNORMAL_F32 = new Float32Array(new Uint32Array([0x007fffff]).buffer)[0];
const SPECIAL_F32 = [NaN, -0, 0, MIN_SUBNORMAL_F32, -MAX_SUBNORMAL_F32, Infinity, -Infinity, 3.4028234663852886e38, 1.1754943508222875e-38];
const SPECIAL_F64 = [NaN, -0, 0, 5e-324, -2.225073858507201e-308, Infinity, -Infinity, Number.MAX_VALUE, 2 ** -1022];

/** Returns `n` pseudo-random floats (deterministic), mostly distinct, so float leaves outgrow a dictionary. */
function noise(n: number, seed: number): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push((s / 2 ** 32 - 0.5) * 1000);
  }
  return out;
}

/** Returns a flat float array of rows*width noise with the special values at the start and near the end. */
function spectra<T extends Float32Array | Float64Array>(cls: new (n: number) => T, rows: number, width: number, specials: number[], seed: number): T {
  const a = new cls(rows * width);
  a.set(noise(rows * width, seed));
  a.set(specials, 0);
  a.set(specials, rows * width - specials.length - 3);
  return a;
}

describe('scalar columns', () => {
  const rows = 5;
  const columns: ColumnSpec[] = [
    { name: 'I8', kind: 'scalar', type: 'int8', values: Int8Array.from([-128, -1, 0, 1, 127]) },
    { name: 'I16', kind: 'scalar', type: 'int16', values: Int16Array.from([-32768, -1, 0, 1, 32767]) },
    { name: 'I32', kind: 'scalar', type: 'int32', values: Int32Array.from([-(2 ** 31), -1, 0, 1, 2 ** 31 - 1]), valid: Uint8Array.from([1, 1, 0, 1, 1]) },
    { name: 'TARGETID', kind: 'scalar', type: 'int64', values: BigInt64Array.from([-(2n ** 63n), -(2n ** 53n) - 1n, 0n, 2n ** 53n + 1n, 2n ** 63n - 1n]) },
    { name: 'U8', kind: 'scalar', type: 'uint8', values: Uint8Array.from([0, 1, 127, 128, 255]) },
    { name: 'U16', kind: 'scalar', type: 'uint16', values: Uint16Array.from([0, 1, 32767, 32768, 65535]) },
    { name: 'U32', kind: 'scalar', type: 'uint32', values: Uint32Array.from([0, 1, 2 ** 31, 2 ** 32 - 1, 0x80000001]) },
    { name: 'U64', kind: 'scalar', type: 'uint64', values: BigUint64Array.from([0n, 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 53n + 1n]) },
    { name: 'F32', kind: 'scalar', type: 'float32', values: Float32Array.from([NaN, -0, MIN_SUBNORMAL_F32, Infinity, -Infinity]) },
    { name: 'F64', kind: 'scalar', type: 'float64', values: Float64Array.from([NaN, -0, 5e-324, Infinity, -Infinity]) },
    { name: 'OK', kind: 'scalar', type: 'bool', values: Uint8Array.from([1, 0, 1, 0, 1]), valid: Uint8Array.from([1, 1, 0, 1, 1]) },
    { name: 'SPECTYPE', kind: 'scalar', type: 'utf8', values: ['', 'QSO', 'ü€😀', 'ignored', 'GALAXY'], valid: Uint8Array.from([1, 1, 1, 0, 1]) },
  ];
  const metadata = { 'desi-qad:version': '0.1.0', 'unicode ключ': 'значение ✓', empty: '', json: '{"a":[1,2]}' };
  const path = save(encodeParquet(buildTable(rows, columns), metadata));

  test('DuckDB reads every type with its signedness and width', async () => {
    const { columns: cols } = await duckReadParquet(path);
    assert.deepEqual(cols, [
      { name: 'I8', type: 'TINYINT' },
      { name: 'I16', type: 'SMALLINT' },
      { name: 'I32', type: 'INTEGER' },
      { name: 'TARGETID', type: 'BIGINT' },
      { name: 'U8', type: 'UTINYINT' },
      { name: 'U16', type: 'USMALLINT' },
      { name: 'U32', type: 'UINTEGER' },
      { name: 'U64', type: 'UBIGINT' },
      { name: 'F32', type: 'FLOAT' },
      { name: 'F64', type: 'DOUBLE' },
      { name: 'OK', type: 'BOOLEAN' },
      { name: 'SPECTYPE', type: 'VARCHAR' },
    ]);
  });

  test('integers round-trip exactly, including int64 beyond 2^53 and high-bit unsigned', async () => {
    const { rows: got } = await duckReadParquet(path);
    assert.deepEqual(
      got.map((r) => r.I8),
      [-128, -1, 0, 1, 127],
    );
    assert.deepEqual(
      got.map((r) => r.I16),
      [-32768, -1, 0, 1, 32767],
    );
    assert.deepEqual(
      got.map((r) => r.I32),
      [-(2 ** 31), -1, null, 1, 2 ** 31 - 1],
    );
    assert.deepEqual(
      got.map((r) => r.TARGETID),
      [-(2n ** 63n), -(2n ** 53n) - 1n, 0n, 2n ** 53n + 1n, 2n ** 63n - 1n],
    );
    assert.deepEqual(
      got.map((r) => r.U8),
      [0, 1, 127, 128, 255],
    );
    assert.deepEqual(
      got.map((r) => r.U16),
      [0, 1, 32767, 32768, 65535],
    );
    assert.deepEqual(
      got.map((r) => r.U32),
      [0, 1, 2 ** 31, 2 ** 32 - 1, 0x80000001],
    );
    assert.deepEqual(
      got.map((r) => r.U64),
      [0n, 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 53n + 1n],
    );
  });

  test('floats round-trip bit for bit: NaN, -0.0, subnormals, +-inf', async () => {
    const { rows: got } = await duckReadParquet(path);
    const f32 = got.map((r) => r.F32 as number);
    assert.deepEqual(f32Bits(f32), f32Bits([NaN, -0, MIN_SUBNORMAL_F32, Infinity, -Infinity]));
    assert.ok(Object.is(f32[1], -0), 'float32 -0.0 keeps its sign');
    const f64 = got.map((r) => r.F64 as number);
    assert.ok(Number.isNaN(f64[0]));
    assert.ok(Object.is(f64[1], -0), 'float64 -0.0 keeps its sign');
    assert.deepEqual(f64.slice(2), [5e-324, Infinity, -Infinity]);
  });

  test('bool and utf8 keep nulls apart from false and empty strings', async () => {
    const { rows: got } = await duckReadParquet(path);
    assert.deepEqual(
      got.map((r) => r.OK),
      [true, false, null, false, true],
    );
    assert.deepEqual(
      got.map((r) => r.SPECTYPE),
      ['', 'QSO', 'ü€😀', null, 'GALAXY'],
    );
  });

  test('an Arrow reader gets the exact Arrow schema back (ARROW:schema)', () => {
    const table = buildTable(rows, [...columns, { name: 'MASK', kind: 'list', type: 'uint32', values: new Uint32Array(rows * 2), width: 2 }]);
    const back = tableFromIPC(readParquet(encodeParquet(table, {})).intoIPCStream()); // intoIPCStream consumes the WASM table
    const show = (f: Field): string =>
      `${f.name} ${String(f.type)} nullable=${f.nullable} ${((f.type as { children: Field[] | null }).children ?? []).map((c) => `${c.name} nullable=${c.nullable}`).join()}`;
    assert.deepEqual(back.schema.fields.map(show), table.schema.fields.map(show));
    assert.match(show(back.schema.fields.at(-1)!), /^MASK List<Uint32> nullable=true element nullable=false$/);
  });

  test('footer key-value metadata holds ours and the Arrow schema', async () => {
    const kv = await duckKvMetadata(path);
    for (const [k, v] of Object.entries(metadata)) assert.equal(kv[k], v, k);
    assert.ok((kv['ARROW:schema'] ?? '').length > 0, 'ARROW:schema present');
    assert.deepEqual(Object.keys(kv).sort(), [...Object.keys(metadata), 'ARROW:schema'].sort());
  });

  test('encodings: BYTE_STREAM_SPLIT on float columns only, no dictionary, ZSTD everywhere', async () => {
    const chunks = await duckColumnChunks(path);
    assert.equal(chunks.length, columns.length);
    for (const c of chunks) {
      assert.equal(c.compression, 'ZSTD', c.path);
      assert.ok(!c.encodings.includes('RLE_DICTIONARY') && !c.encodings.includes('PLAIN_DICTIONARY'), `${c.path}: ${c.encodings.join()}`);
      const isFloat = c.physicalType === 'FLOAT' || c.physicalType === 'DOUBLE';
      assert.equal(c.encodings.includes('BYTE_STREAM_SPLIT'), isFloat, `${c.path} (${c.physicalType}): ${c.encodings.join()}`);
    }
  });
});

describe('null columns (absent from the source)', () => {
  const types = ['int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'float32', 'float64', 'bool', 'utf8'] as const;
  const duckTypes = ['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'FLOAT', 'DOUBLE', 'BOOLEAN', 'VARCHAR'];
  const rows = 3;
  const columns: ColumnSpec[] = types.map((type) => ({ name: `N_${type}`, kind: 'null', type }));
  columns.push({ name: 'FLUX', kind: 'list', type: 'float32', values: new Float32Array(6).fill(1), width: 2 });

  test('keep their declared types and are all null', async () => {
    const path = save(encodeParquet(buildTable(rows, columns), {}));
    const { columns: cols, rows: got } = await duckReadParquet(path);
    assert.deepEqual(
      cols.slice(0, types.length).map((c) => c.type),
      duckTypes,
    );
    assert.equal(got.length, rows);
    for (const r of got) for (const t of types) assert.equal(r[`N_${t}`], null, t);
    const chunks = await duckColumnChunks(path);
    for (const c of chunks) {
      if (c.path.startsWith('N_')) assert.equal(c.nullCount, BigInt(rows), c.path);
      assert.ok(!c.encodings.includes('BYTE_STREAM_SPLIT') || c.physicalType === 'FLOAT' || c.physicalType === 'DOUBLE', c.path);
    }
  });

  test('a file with the column absent has the same schema as one with it present', async () => {
    const present = buildTable(2, [{ name: 'Z', kind: 'scalar', type: 'float64', values: Float64Array.from([1, 2]) }]);
    const absent = buildTable(2, [{ name: 'Z', kind: 'null', type: 'float64' }]);
    assert.equal(String(present.schema.fields[0]), String(absent.schema.fields[0]));
    const a = await duckReadParquet(save(encodeParquet(present, {})));
    const b = await duckReadParquet(save(encodeParquet(absent, {})));
    assert.deepEqual(a.columns, b.columns);
    const schemaA = await duckQuery(`SELECT name, type, logical_type, repetition_type FROM parquet_schema(${sqlString(save(encodeParquet(present, {})))})`);
    const schemaB = await duckQuery(`SELECT name, type, logical_type, repetition_type FROM parquet_schema(${sqlString(save(encodeParquet(absent, {})))})`);
    assert.deepEqual(schemaA, schemaB);
  });
});

describe('list columns (spectra)', () => {
  const rows = 4;
  const width = 3000; // 12,000 values per column: more distinct floats than the dictionary strategy's page holds

  /** Reads `path` with DuckDB and checks each list column's values bit for bit against `columns`. */
  async function assertListsRoundTrip(path: string, columns: Extract<ColumnSpec, { kind: 'list' }>[]): Promise<void> {
    const { columns: cols, rows: got } = await duckReadParquet(path);
    assert.equal(got.length, rows);
    const expectType: Record<string, string> = { float32: 'FLOAT[]', float64: 'DOUBLE[]', uint32: 'UINTEGER[]', int32: 'INTEGER[]', int64: 'BIGINT[]' };
    for (const spec of columns) {
      assert.equal(cols.find((c) => c.name === spec.name)?.type, expectType[spec.type], spec.name);
      const flat = got.flatMap((r) => {
        const v = r[spec.name] as unknown[];
        assert.equal(v.length, spec.width, spec.name);
        return v;
      });
      if (spec.type === 'float32')
        assert.deepEqual(f32Bits(flat as number[]), Array.from(new Uint32Array(spec.values.buffer, spec.values.byteOffset, spec.values.length)), spec.name);
      else if (spec.type === 'float64') assert.deepEqual(f64Bits(flat as number[]), f64Bits(spec.values as Float64Array), spec.name);
      else assert.deepEqual(flat, Array.from(spec.values as ArrayLike<number | bigint>), spec.name);
    }
  }

  test('float lists only: BYTE_STREAM_SPLIT on the leaves, no dictionary', async () => {
    const columns: Extract<ColumnSpec, { kind: 'list' }>[] = [
      { name: 'B_FLUX', kind: 'list', type: 'float32', values: spectra(Float32Array, rows, width, SPECIAL_F32, 1), width },
      { name: 'B_IVAR', kind: 'list', type: 'float64', values: spectra(Float64Array, rows, width, SPECIAL_F64, 2), width },
    ];
    const table = buildTable(rows, [{ name: 'TARGETID', kind: 'scalar', type: 'int64', values: BigInt64Array.from([1n, 2n, 3n, 4n]) }, ...columns]);
    assert.equal(planEncodings(table).strategy, 'split');
    const path = save(encodeParquet(table, {}));
    await assertListsRoundTrip(path, columns);
    for (const c of await duckColumnChunks(path)) {
      assert.ok(!c.encodings.includes('RLE_DICTIONARY'), `${c.path}: ${c.encodings.join()}`);
      assert.equal(c.encodings.includes('BYTE_STREAM_SPLIT'), c.path !== 'TARGETID', `${c.path}: ${c.encodings.join()}`);
    }
    assert.deepEqual(
      (await duckColumnChunks(path)).map((c) => c.path),
      ['TARGETID', `B_FLUX.list.${LIST_ELEMENT_NAME}`, `B_IVAR.list.${LIST_ELEMENT_NAME}`],
    );
  });

  test('with uint32/int32/int64 lists: float leaves BYTE_STREAM_SPLIT, integer leaves never', async () => {
    const mask = new Uint32Array(rows * width);
    mask.set([2 ** 31, 2 ** 32 - 1, 1, 0x80000001], 10);
    mask.fill(1 << 20, 500, 700);
    const columns: Extract<ColumnSpec, { kind: 'list' }>[] = [
      { name: 'B_FLUX', kind: 'list', type: 'float32', values: spectra(Float32Array, rows, width, SPECIAL_F32, 3), width },
      { name: 'B_IVAR', kind: 'list', type: 'float64', values: spectra(Float64Array, rows, width, SPECIAL_F64, 4), width },
      { name: 'B_MASK', kind: 'list', type: 'uint32', values: mask, width },
      { name: 'I32', kind: 'list', type: 'int32', values: Int32Array.from({ length: rows * 2 }, (_, i) => (i % 2 ? -(2 ** 31) : i)), width: 2 },
      { name: 'I64', kind: 'list', type: 'int64', values: BigInt64Array.from([2n ** 62n + 1n, -(2n ** 53n) - 1n, 0n, 7n]), width: 1 },
    ];
    const table = buildTable(rows, [...columns, { name: 'Z', kind: 'scalar', type: 'float64', values: Float64Array.from([0.5, -0, NaN, 1]) }]);
    assert.equal(planEncodings(table).strategy, 'split-after-dictionary');
    const path = save(encodeParquet(table, {}));
    await assertListsRoundTrip(path, columns);
    const chunks = await duckColumnChunks(path);
    for (const c of chunks) {
      const isFloat = c.physicalType === 'FLOAT' || c.physicalType === 'DOUBLE';
      assert.equal(c.encodings.includes('BYTE_STREAM_SPLIT'), isFloat, `${c.path} (${c.physicalType}): ${c.encodings.join()}`);
    }
    assert.deepEqual(chunks.find((c) => c.path === 'Z')?.encodings.includes('RLE_DICTIONARY'), false, 'top-level columns stay dictionary-free');
  });

  test('statistics: on every top-level column, none on list leaves (spectra), in both writers', async () => {
    const columns: Extract<ColumnSpec, { kind: 'list' }>[] = [
      { name: 'B_FLUX', kind: 'list', type: 'float32', values: spectra(Float32Array, rows, width, SPECIAL_F32, 5), width },
      { name: 'B_MASK', kind: 'list', type: 'int32', values: new Int32Array(rows * width).fill(4, 7, 90), width },
    ];
    const table = buildTable(rows, [
      { name: 'TARGETID', kind: 'scalar', type: 'int64', values: BigInt64Array.from([9n, 2n, 3n, 4n]) },
      { name: 'Z', kind: 'scalar', type: 'float64', values: Float64Array.from([0.5, 2.25, -1, 1]) },
      ...columns,
    ]);
    const cases: [Uint8Array, string[][]][] = [
      [encodeParquet(table, {}), [['2', '9']]],
      [
        await encodeParquetStream(table, {}, { rowGroupRows: 2 }),
        [
          ['2', '9'],
          ['3', '4'],
        ],
      ], // row groups of 2 rows
    ];
    for (const [bytes, targetidStats] of cases) {
      const path = save(bytes);
      await assertListsRoundTrip(path, columns);
      const chunks = await duckColumnChunks(path);
      assert.ok(chunks.length >= 4);
      for (const c of chunks) {
        const leaf = c.path.includes('.list.');
        assert.equal(c.statsMin === null && c.statsMax === null && c.nullCount === null, leaf, `${c.path}: ${c.statsMin}..${c.statsMax}`);
      }
      assert.deepEqual(
        chunks.filter((c) => c.path === 'TARGETID').map((c) => [c.statsMin, c.statsMax]),
        targetidStats,
      );
    }
  });

  test('the dictionary page limit follows the exact distinct count of each integer leaf class, also on a slice', () => {
    // 2 x value size x distinct values, rounded up to a power of two (8 KiB at least).
    const limit = (type: 'uint32' | 'int32' | 'int64', values: Uint32Array | Int32Array | BigInt64Array, w: number, slice?: [number, number]) => {
      let table = buildTable(values.length / w, [{ name: 'M', kind: 'list', type, values, width: w }]);
      if (slice) table = table.slice(...slice);
      return planEncodings(table).dictionaryPageSizeLimit;
    };
    // 3,000 distinct uint32 values, half of them at or above 2^31 (negative through an Int32Array view): 24,000 -> 32 KiB.
    const u = Uint32Array.from({ length: 6000 }, (_, i) => (i % 3000) + (i % 2 ? 2 ** 31 : 0));
    assert.equal(limit('uint32', u, 100), 32 * 1024);
    // 1,024 distinct values -> 8,192 bytes -> 8 KiB; 1,025 -> 16 KiB (a run of equal values counts once).
    assert.equal(
      limit(
        'int32',
        Int32Array.from({ length: 4096 }, (_, i) => -(i >> 2)),
        64,
      ),
      8 * 1024,
    );
    assert.equal(
      limit(
        'int32',
        Int32Array.from({ length: 4100 }, (_, i) => -(i >> 2)),
        100,
      ),
      16 * 1024,
    );
    // A run of zeros starting the leaf still counts 0 once.
    assert.equal(limit('uint32', new Uint32Array(4096), 64), 8 * 1024);
    // int64: 1,500 distinct -> 24,000 bytes -> 32 KiB.
    assert.equal(
      limit(
        'int64',
        BigInt64Array.from({ length: 3000 }, (_, i) => BigInt(i % 1500) - 2n ** 62n),
        30,
      ),
      32 * 1024,
    );
    // Only the slice's rows count: rows 10..20 of 100-wide rows hold values 1,000..1,999 (1,000 distinct -> 8 KiB).
    assert.equal(
      limit(
        'uint32',
        Uint32Array.from({ length: 100_000 }, (_, i) => i),
        100,
        [10, 20],
      ),
      8 * 1024,
    );
  });

  test('an integer list with too many distinct values for a dictionary page: no dictionary, BYTE_STREAM_SPLIT on floats only', async () => {
    const many = Uint32Array.from({ length: rows * 40_000 }, (_, i) => (i * 2654435761) >>> 0);
    const columns: Extract<ColumnSpec, { kind: 'list' }>[] = [
      { name: 'R_FLUX', kind: 'list', type: 'float32', values: spectra(Float32Array, rows, width, SPECIAL_F32, 5), width },
      { name: 'R_MASK', kind: 'list', type: 'uint32', values: many, width: 40_000 },
    ];
    const table = buildTable(rows, [...columns, { name: 'Z', kind: 'scalar', type: 'float32', values: Float32Array.from([1, 2, 3, 4]) }]);
    assert.equal(planEncodings(table).strategy, 'plain');
    const path = save(encodeParquet(table, {}));
    await assertListsRoundTrip(path, columns);
    for (const c of await duckColumnChunks(path)) {
      assert.ok(!c.encodings.includes('RLE_DICTIONARY'), `${c.path}: ${c.encodings.join()}`);
      // parquet-wasm ('plain' strategy) leaves float list leaves PLAIN; the own writer splits every float leaf.
      const split = c.path === 'Z' || (parquetWriterName() === 'own' && c.physicalType === 'FLOAT');
      assert.equal(c.encodings.includes('BYTE_STREAM_SPLIT'), split, `${c.path}: ${c.encodings.join()}`);
    }
  });

  test('our footer reader agrees with DuckDB on every column chunk', async () => {
    const table = buildTable(rows, [
      { name: 'A', kind: 'list', type: 'float32', values: spectra(Float32Array, rows, width, SPECIAL_F32, 6), width },
      { name: 'M', kind: 'list', type: 'uint32', values: new Uint32Array(rows * width), width },
      { name: 'S', kind: 'scalar', type: 'utf8', values: ['a', 'b', 'c', 'd'] },
    ]);
    const bytes = encodeParquet(table, { k: 'v' }, { rowGroupRows: 3 });
    const footer = readParquetFooter(bytes);
    const duck = await duckColumnChunks(save(bytes));
    const ours = footer.rowGroups.flatMap((rg, i) =>
      rg.columns.map((c) => ({ rowGroup: i, path: c.path.join('.'), physicalType: c.physicalType, encodings: [...c.encodings].sort(), compression: c.codec })),
    );
    assert.deepEqual(
      ours,
      duck.map((c) => ({ rowGroup: c.rowGroup, path: c.path, physicalType: c.physicalType, encodings: [...c.encodings].sort(), compression: c.compression })),
    );
    assert.equal(footer.numRows, rows);
    assert.deepEqual(
      footer.rowGroups.map((rg) => rg.numRows),
      [3, 1],
    );
    assert.equal(footer.keyValue.get('k'), 'v');
  });
});

describe('the trap the encoding plan avoids', () => {
  test('a writer-wide BYTE_STREAM_SPLIT lands on an INT32 list leaf, and our footer check sees it', () => {
    const table = buildTable(2, [{ name: 'M', kind: 'list', type: 'uint32', values: Uint32Array.from([1, 2, 3, 4]), width: 2 }]);
    const props = new WriterPropertiesBuilder()
      .setDictionaryEnabled(false)
      .setEncoding(Encoding.BYTE_STREAM_SPLIT)
      .setColumnEncoding('M.list.element', Encoding.PLAIN) // ignored by parquet-wasm 0.8.0: one-part ColumnPath
      .setCompression(Compression.ZSTD)
      .build();
    const bytes = writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), props); // consumes both
    const leaf = readParquetFooter(bytes).rowGroups[0].columns[0];
    assert.deepEqual([leaf.path.join('.'), leaf.physicalType], ['M.list.element', 'INT32']);
    assert.ok(leaf.encodings.includes('BYTE_STREAM_SPLIT'), String(leaf.encodings));
    // encodeParquet never writes that: the mask leaf goes through a dictionary instead.
    const ours = readParquetFooter(encodeParquet(table, {})).rowGroups[0].columns[0];
    assert.ok(!ours.encodings.includes('BYTE_STREAM_SPLIT'), String(ours.encodings));
  });
});

describe('buildTable', () => {
  test("shares the caller's buffers for list children and numeric scalars (zero-copy)", () => {
    const flux = new Float32Array(6).map((_, i) => i);
    const ids = BigInt64Array.from([5n, 6n]);
    const table = buildTable(2, [
      { name: 'TARGETID', kind: 'scalar', type: 'int64', values: ids },
      { name: 'B_FLUX', kind: 'list', type: 'float32', values: flux, width: 3 },
    ]);
    const list = table.getChild('B_FLUX')!.data[0] as Data;
    assert.equal(list.children[0].values, flux, "list child is the caller's Float32Array");
    assert.deepEqual(Array.from(list.valueOffsets as Int32Array), [0, 3, 6]);
    assert.equal(table.getChild('TARGETID')!.data[0].values, ids);
    assert.equal(String(table.schema.fields[1].type), 'List<Float32>');
    assert.equal(list.type.children[0].name, LIST_ELEMENT_NAME);
    assert.equal(list.type.children[0].nullable, false);
    flux[4] = 42; // a view, not a copy
    assert.equal((table.getChild('B_FLUX')!.get(1) as Vector<Float32>).get(1), 42);
  });

  test('rejects specs that would silently write wrong data', () => {
    assert.throws(() => buildTable(2, [{ name: 'M', kind: 'list', type: 'uint32', values: new Int32Array(4), width: 2 }]), /needs a Uint32Array/);
    assert.throws(() => buildTable(2, [{ name: 'F', kind: 'list', type: 'float32', values: new Float32Array(5), width: 2 }]), /expected rows\*width/);
    assert.throws(() => buildTable(2, [{ name: 'X', kind: 'scalar', type: 'int64', values: new BigInt64Array(3) }]), /expected 2/);
    assert.throws(() => buildTable(1, [{ name: 'X', kind: 'scalar', type: 'int64', values: new Int32Array(1) }]), /needs a BigInt64Array/);
    assert.throws(
      () =>
        buildTable(1, [
          { name: 'X', kind: 'null', type: 'int8' },
          { name: 'X', kind: 'null', type: 'int8' },
        ]),
      /duplicate/,
    );
    assert.throws(() => buildTable(1, [{ name: 'V', kind: 'scalar', type: 'int8', values: new Int8Array(1), valid: new Uint8Array(2) }]), /expected 1/);
    assert.throws(() => buildTable(-1, []), RangeError);
  });
});

describe('encodeParquet', () => {
  const small = (): ReturnType<typeof buildTable> =>
    buildTable(5, [
      { name: 'TARGETID', kind: 'scalar', type: 'int64', values: BigInt64Array.from([1n, 2n, 3n, 4n, 5n]) },
      { name: 'FLUX', kind: 'list', type: 'float32', values: Float32Array.from({ length: 10 }, (_, i) => i / 3), width: 2 },
    ]);

  test('compression options reach every column chunk; a ZSTD level it cannot honour is refused', async () => {
    for (const [compression, codec] of [
      ['snappy', 'SNAPPY'],
      ['none', 'UNCOMPRESSED'],
      ['zstd', 'ZSTD'],
    ] as const) {
      const chunks = await duckColumnChunks(save(encodeParquet(small(), {}, { compression })));
      assert.deepEqual([...new Set(chunks.map((c) => c.compression))], [codec]);
    }
    assert.throws(() => encodeParquet(small(), {}, { zstdLevel: 9 }), /zstdLevel 9/);
    assert.throws(() => encodeParquet(small(), {}, { rowGroupRows: 0 }), RangeError);
    assert.throws(() => encodeParquet(small(), { 'ARROW:schema': 'x' }), /reserved/);
  });

  test('rowGroupRows splits the rows into row groups', async () => {
    const path = save(encodeParquet(small(), {}, { rowGroupRows: 2 }));
    const groups = await duckQuery(`SELECT row_group_id, row_group_num_rows AS n FROM parquet_metadata(${sqlString(path)}) WHERE column_id = 0 ORDER BY 1`);
    assert.deepEqual(
      groups.map((g) => g.n),
      [2n, 2n, 1n],
    );
    const { rows } = await duckReadParquet(path);
    assert.deepEqual(
      rows.map((r) => r.TARGETID),
      [1n, 2n, 3n, 4n, 5n],
    );
  });

  test('zero rows: a valid file with the schema, the metadata and no rows', async () => {
    const table = buildTable(0, [
      { name: 'TARGETID', kind: 'scalar', type: 'int64', values: new BigInt64Array(0) },
      { name: 'S', kind: 'scalar', type: 'utf8', values: [] },
      { name: 'FLUX', kind: 'list', type: 'float32', values: new Float32Array(0), width: 2751 },
      { name: 'MASK', kind: 'list', type: 'uint32', values: new Uint32Array(0), width: 2751 },
      { name: 'N', kind: 'null', type: 'float64' },
    ]);
    const path = save(encodeParquet(table, { survey: 'main' }));
    const { columns, rows } = await duckReadParquet(path);
    assert.equal(rows.length, 0);
    assert.deepEqual(
      columns.map((c) => c.type),
      ['BIGINT', 'VARCHAR', 'FLOAT[]', 'UINTEGER[]', 'DOUBLE'],
    );
    assert.equal((await duckKvMetadata(path)).survey, 'main');
  });

  test('the result owns its ArrayBuffer, so a worker can transfer it', () => {
    const bytes = encodeParquet(small(), {});
    assert.equal(bytes.byteOffset, 0);
    assert.equal(bytes.buffer.byteLength, bytes.byteLength);
  });

  test(`a table above ${MAX_ENCODE_BYTES / 2 ** 20} MiB is refused before any WASM work`, () => {
    // Zero-filled pages are not touched, so this costs address space, not memory.
    const width = 1024 * 1024;
    const rows = Math.ceil(MAX_ENCODE_BYTES / 4 / width) + 1;
    const table = buildTable(rows, [{ name: 'F', kind: 'list', type: 'float32', values: new Float32Array(rows * width), width }]);
    assert.throws(
      () => encodeParquet(table, {}),
      (e: unknown) => e instanceof RangeError && e.message.includes('encodeParquetStream'),
    );
  });
});

describe('encodeParquetStream', () => {
  test('a table that fits in one slice gives the bytes of encodeParquet (one row group)', async () => {
    const rows = 5;
    const width = 2000;
    const table = buildTable(rows, [
      { name: 'TARGETID', kind: 'scalar', type: 'int64', values: BigInt64Array.from({ length: rows }, (_, i) => BigInt(i)) },
      { name: 'B_FLUX', kind: 'list', type: 'float32', values: spectra(Float32Array, rows, width, SPECIAL_F32, 11), width },
      { name: 'B_MASK', kind: 'list', type: 'int32', values: new Int32Array(rows * width).fill(2, 3, 40), width },
    ]);
    const streamed = await encodeParquetStream(table, { k: 'v' });
    assert.deepEqual(streamed, encodeParquet(table, { k: 'v' }));
    assert.deepEqual(
      readParquetFooter(streamed).rowGroups.map((rg) => rg.numRows),
      [rows],
    );
  });

  test('writes the same rows, types and encodings as encodeParquet, one row group per slice', async () => {
    // Row groups of 3, 3, 2 rows. arrow-rs checks for dictionary fallback after each spectrum, so a float
    // leaf's first spectrum in a row group overflows the small dictionary page and the next ones are
    // BYTE_STREAM_SPLIT; a one-row row group would stay all dictionary.
    const rows = 8;
    const width = 3000;
    const mask = new Uint32Array(rows * width);
    mask.fill(0x80000000, 100, 180);
    const table = buildTable(rows, [
      { name: 'TARGETID', kind: 'scalar', type: 'int64', values: BigInt64Array.from({ length: rows }, (_, i) => 2n ** 60n + BigInt(i)) },
      { name: 'SPECTYPE', kind: 'scalar', type: 'utf8', values: ['QSO', '', 'GALAXY', 'STAR', 'QSO', 'ü', 'x', 'y'] },
      { name: 'B_FLUX', kind: 'list', type: 'float32', values: spectra(Float32Array, rows, width, SPECIAL_F32, 7), width },
      { name: 'B_MASK', kind: 'list', type: 'uint32', values: mask, width },
    ]);
    const streamed = save(await encodeParquetStream(table, { k: 'v' }, { rowGroupRows: 3 }));
    const whole = save(encodeParquet(table, { k: 'v' }));
    const diff = await duckQuery(
      `SELECT (SELECT count(*) FROM (SELECT * FROM read_parquet(${sqlString(streamed)}) EXCEPT ALL SELECT * FROM read_parquet(${sqlString(whole)}))) AS a,
              (SELECT count(*) FROM (SELECT * FROM read_parquet(${sqlString(whole)}) EXCEPT ALL SELECT * FROM read_parquet(${sqlString(streamed)}))) AS b,
              (SELECT count(*) FROM read_parquet(${sqlString(streamed)})) AS n`,
    );
    assert.deepEqual(diff, [{ a: 0n, b: 0n, n: BigInt(rows) }]);
    const chunks = await duckColumnChunks(streamed);
    assert.deepEqual(
      readParquetFooter(await encodeParquetStream(table, {}, { rowGroupRows: 3 })).rowGroups.map((rg) => rg.numRows),
      [3, 3, 2],
    );
    for (const c of chunks) {
      const isFloat = c.physicalType === 'FLOAT' || c.physicalType === 'DOUBLE';
      assert.equal(c.encodings.includes('BYTE_STREAM_SPLIT'), isFloat, `${c.path}: ${c.encodings.join()}`);
    }
    assert.equal((await duckKvMetadata(streamed)).k, 'v');
    // Bit-level check of the floats through the streamed file, in row order.
    const { rows: got } = await duckReadParquet(streamed);
    const flux = table.getChild('B_FLUX')!.data[0].children[0].values as Float32Array;
    assert.deepEqual(f32Bits(got.flatMap((r) => r.B_FLUX as number[])), Array.from(new Uint32Array(flux.buffer)));
  });
});
