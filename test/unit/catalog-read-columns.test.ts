/**
 * readCatalogColumns (src/catalog/read-columns.ts) on small files written by the project's own encoder: the
 * copied columns a file has, by name, and a clear error naming the file and the column when a required one
 * is missing or the bytes are no Parquet file.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CatalogReadError, readCatalogColumns } from '../../src/catalog/read-columns.js';
import { buildTable, type ColumnSpec } from '../../src/parquet/arrow-table.js';
import { encodeParquet } from '../../src/parquet/encode.js';
import { MemorySource } from '../../src/storage/source.js';

const ROWS = 3;
const TARGETID: ColumnSpec = { name: 'TARGETID', kind: 'scalar', type: 'int64', values: BigInt64Array.from([11n, 12n, 13n]) };
const ZWARN: ColumnSpec = { name: 'ZWARN', kind: 'scalar', type: 'int64', values: BigInt64Array.from([0n, 4n, 0n]) };
const Z: ColumnSpec = { name: 'Z', kind: 'scalar', type: 'float64', values: Float64Array.from([1.5, 2.25, 0.125]) };
const SPECTYPE: ColumnSpec = { name: 'SPECTYPE', kind: 'scalar', type: 'utf8', values: ['QSO', 'QSO', 'GALAXY'] };
const FLUX: ColumnSpec = { name: 'B_FLUX', kind: 'scalar', type: 'float32', values: Float32Array.from([1, 2, 3]) };

const fileOf = (name: string, columns: ColumnSpec[]) => new MemorySource(name, encodeParquet(buildTable(ROWS, columns), {}));

test('readCatalogColumns: the copied columns a file has, by name; the others (spectra, TSNR2_LRG here) are not read', async () => {
  const got = await readCatalogColumns(fileOf('main/dark/263/26300.parquet', [TARGETID, FLUX, Z, SPECTYPE, ZWARN]));
  assert.equal(got.rows, ROWS);
  assert.deepEqual([...got.columns.keys()], ['TARGETID', 'Z', 'ZWARN', 'SPECTYPE']);
  const values = (name: 'Z' | 'SPECTYPE' | 'TARGETID') => Array.from({ length: ROWS }, (_, i): unknown => got.columns.get(name)!.get(i));
  assert.deepEqual(values('Z'), [1.5, 2.25, 0.125]);
  assert.deepEqual(values('SPECTYPE'), ['QSO', 'QSO', 'GALAXY']);
  assert.deepEqual(values('TARGETID'), [11n, 12n, 13n]);
});

test('readCatalogColumns: a file without a required column, or not Parquet, is a CatalogReadError naming the file and why', async () => {
  await assert.rejects(readCatalogColumns(fileOf('main/dark/263/26301.parquet', [TARGETID, Z])), (e: unknown) => {
    assert.ok(e instanceof CatalogReadError);
    assert.equal(e.message, 'main/dark/263/26301.parquet: no ZWARN column: not a file of a desi-qad dataset');
    return true;
  });
  await assert.rejects(readCatalogColumns(fileOf('main/dark/263/26302.parquet', [Z])), /26302\.parquet: no TARGETID, ZWARN column/);
  await assert.rejects(
    readCatalogColumns(new MemorySource('main/dark/263/26303.parquet', new TextEncoder().encode('not a parquet file at all'))),
    (e: unknown) => e instanceof CatalogReadError && e.message.startsWith('main/dark/263/26303.parquet: not a readable Parquet file'),
  );
});
