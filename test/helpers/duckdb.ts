/**
 * DuckDB (through @duckdb/node-api) as an independent Parquet reader for tests.
 *
 * Values come back as plain JS: BIGINT/UBIGINT/HUGEINT as bigint, TINYINT..UINTEGER/FLOAT/DOUBLE as
 * number, VARCHAR as string, BOOLEAN as boolean, lists as arrays, NULL as null. Each call opens a fresh
 * in-memory database and closes it (connection, then instance) before returning, also on error.
 */
import { DuckDBInstance } from '@duckdb/node-api';

/** Returns the rows of `sql` run in a fresh in-memory DuckDB, as objects keyed by column name. */
export async function duckQuery(sql: string): Promise<Record<string, unknown>[]> {
  return (await duckQueryWithColumns(sql)).rows;
}

/** Returns the rows of `sql` and its result columns (name, DuckDB type as text, e.g. "FLOAT[]"). */
export async function duckQueryWithColumns(sql: string): Promise<{ columns: { name: string; type: string }[]; rows: Record<string, unknown>[] }> {
  const instance = await DuckDBInstance.create(':memory:');
  try {
    const connection = await instance.connect();
    try {
      const reader = await connection.runAndReadAll(sql);
      const names = reader.columnNames();
      const types = reader.columnTypes();
      const columns = names.map((name, i) => ({ name, type: types[i].toString() }));
      return { columns, rows: reader.getRowObjectsJS() };
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** `v` as the string DuckDB gives for a VARCHAR value (checked). */
function varchar(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new TypeError(`DuckDB: ${what} is not a VARCHAR value (${typeof v})`);
  return v;
}

/** `v` as the bigint DuckDB gives for a BIGINT value (checked). */
function bigintValue(v: unknown, what: string): bigint {
  if (typeof v !== 'bigint') throw new TypeError(`DuckDB: ${what} is not a BIGINT value (${typeof v})`);
  return v;
}

/** Returns `path` quoted as a SQL string literal. */
export function sqlString(path: string): string {
  return `'${path.replaceAll("'", "''")}'`;
}

/** Returns every column (name, DuckDB type) and every row of the Parquet file at `path`, in file order. */
export async function duckReadParquet(path: string): Promise<{ columns: { name: string; type: string }[]; rows: Record<string, unknown>[] }> {
  return duckQueryWithColumns(`SELECT * FROM read_parquet(${sqlString(path)})`);
}

/** Returns the Parquet footer key-value metadata of `path` as DuckDB decodes it (keys and values as UTF-8 text). */
export async function duckKvMetadata(path: string): Promise<Record<string, string>> {
  const rows = await duckQuery(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${sqlString(path)})`);
  const out: Record<string, string> = {};
  for (const r of rows) out[String(r.k)] = r.v === null ? '' : varchar(r.v, 'a decoded metadata value');
  return out;
}

/** One column chunk as DuckDB's parquet_metadata() reports it. */
export interface DuckColumnChunk {
  rowGroup: number;
  /** Leaf path joined with '.', e.g. "B_FLUX.list.element". */
  path: string;
  physicalType: string;
  /** e.g. ["RLE", "BYTE_STREAM_SPLIT"]. */
  encodings: string[];
  compression: string;
  statsMin: string | null;
  statsMax: string | null;
  nullCount: bigint | null;
  numValues: bigint;
}

/** Returns every column chunk of every row group of `path` as DuckDB's parquet_metadata() reports it. */
export async function duckColumnChunks(path: string): Promise<DuckColumnChunk[]> {
  const rows = await duckQuery(
    `SELECT row_group_id, path_in_schema, type, encodings, compression, stats_min, stats_max, stats_null_count, num_values
     FROM parquet_metadata(${sqlString(path)}) ORDER BY row_group_id, column_id`,
  );
  return rows.map((r) => ({
    rowGroup: Number(r.row_group_id),
    path: String(r.path_in_schema).split(', ').join('.'),
    physicalType: String(r.type),
    encodings: String(r.encodings).split(', '),
    compression: String(r.compression),
    statsMin: r.stats_min === null ? null : varchar(r.stats_min, 'stats_min'),
    statsMax: r.stats_max === null ? null : varchar(r.stats_max, 'stats_max'),
    nullCount: r.stats_null_count === null ? null : bigintValue(r.stats_null_count, 'stats_null_count'),
    numValues: bigintValue(r.num_values, 'num_values'),
  }));
}
