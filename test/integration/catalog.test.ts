/**
 * The primary-spectra table (OUT/_catalog/zcatalog.parquet) end to end: a tree whose targets are observed in
 * several surveys (test/helpers/shared-targets-tree.ts) is converted with every row kept; the run that
 * completes the dataset writes the table; DuckDB reads it; FILE and ROW lead to the spectrum; the planted
 * cases come out as the rule says; verify calls nothing stray; `desi-qad catalog` writes the same bytes
 * again reading no spectra byte; and scripts/check-primary-astropy.py, an independent implementation over
 * the FITS files read by astropy, agrees on every PRIMARY/NSPEC flag (skipped when python3/astropy are
 * missing, unless DESI_QAD_REQUIRE_ORACLES=1).
 *
 * The per-tile files carry TSNR2_LRG (from redrock's TSNR2 HDU), so the rule ranks by ZWARN, then TSNR2_LRG,
 * then the tie-break, and the oracle checks that ranking and the TSNR2_LRG values against the FITS (it is
 * given --no-tsnr2 only for a table without any TSNR2_LRG value, which the planted cases rule out here). The
 * TSNR2 ranking itself is also tested on in-memory rows in unit/catalog-primary.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCatalogColumns } from '../../src/catalog/read-columns.js';
import type { ByteSource } from '../../src/fits/source.js';
import { LocalFileSource } from '../../src/storage/local.js';
import { REPO, runCli } from '../helpers/cli.js';
import { duckQuery, sqlString } from '../helpers/duckdb.js';
import { writeSharedTargetsTree } from '../helpers/shared-targets-tree.js';

const PYTHON = '/usr/bin/python3';
const ORACLE = join(REPO, 'scripts', 'check-primary-astropy.py');

function missingOracle(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const probe = spawnSync(PYTHON, ['-c', 'import astropy, numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) return `astropy/numpy not importable by ${PYTHON}`;
  return null;
}
const missing = missingOracle();
const required = process.env.DESI_QAD_REQUIRE_ORACLES === '1';
if (missing && required) test('the Python oracle is required (DESI_QAD_REQUIRE_ORACLES=1)', () => assert.fail(`oracle missing: ${missing}`));
const skipOracle = missing ? `python oracle missing (${missing}); set DESI_QAD_REQUIRE_ORACLES=1 to fail instead` : false;

let work: string;
let src: string;
let out: string;
let catalog: string;
let convertStdout: string;

const SPECTRA = (dir: string) => sqlString(`${dir}/*/*/*/*.parquet`);

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'desi-qad-catalog-'));
  src = join(work, 'src');
  out = join(work, 'out');
  catalog = join(out, '_catalog', 'zcatalog.parquet');
  await writeSharedTargetsTree(src);
  const r = await runCli([
    'convert',
    '--source',
    src,
    '--out',
    out,
    '--survey',
    'main,sv1,sv3,special',
    '--program',
    'dark,bright',
    '--spectype',
    'any',
    '--keep-zwarn',
    '--threads',
    '1',
    '--log-dir',
    join(work, 'logs'),
  ]);
  assert.equal(r.code, 0, r.stderr);
  convertStdout = r.stdout;
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

test('the run that completes the dataset writes _catalog/zcatalog.parquet: one row per spectrum, the documented columns', async () => {
  assert.match(convertStdout, /Catalog: .*zcatalog\.parquet \(42 spectra of 35 targets, from 5 files/);
  const [{ n }] = await duckQuery(`SELECT count(*) AS n FROM read_parquet(${SPECTRA(out)})`);
  const [{ c }] = await duckQuery(`SELECT count(*) AS c FROM read_parquet(${sqlString(catalog)})`);
  assert.equal(n, 42n);
  assert.equal(c, n);
  const cols = await duckQuery(`SELECT column_name AS name, column_type AS type FROM (DESCRIBE SELECT * FROM read_parquet(${sqlString(catalog)}))`);
  assert.deepEqual(
    cols.map((x) => `${String(x.name)}:${String(x.type)}`),
    [
      'TARGETID:BIGINT',
      'SURVEY:VARCHAR',
      'PROGRAM:VARCHAR',
      'HEALPIX:INTEGER',
      'TARGET_RA:DOUBLE',
      'TARGET_DEC:DOUBLE',
      'Z:DOUBLE',
      'ZERR:DOUBLE',
      'ZWARN:BIGINT',
      'CHI2:DOUBLE',
      'DELTACHI2:DOUBLE',
      'SPECTYPE:VARCHAR',
      'SUBTYPE:VARCHAR',
      'TSNR2_LRG:FLOAT',
      'FILE:VARCHAR',
      'ROW:INTEGER',
      'ZCAT_NSPEC:SMALLINT',
      'ZCAT_PRIMARY:BOOLEAN',
      'MAIN_NSPEC:SMALLINT',
      'MAIN_PRIMARY:BOOLEAN',
      'SV_NSPEC:SMALLINT',
      'SV_PRIMARY:BOOLEAN',
    ],
  );
  // Exactly one ZCAT primary per TARGETID; rows in tile order.
  const [{ bad }] = await duckQuery(
    `SELECT count(*) AS bad FROM (SELECT TARGETID, sum(ZCAT_PRIMARY::INT) AS p FROM read_parquet(${sqlString(catalog)}) GROUP BY TARGETID) WHERE p <> 1`,
  );
  assert.equal(bad, 0n);
});

test("FILE and ROW lead to the spectrum's row, and the values are the file's", async () => {
  const [{ matched }] = await duckQuery(`
    WITH s AS (SELECT TARGETID, Z, filename, file_row_number FROM read_parquet(${SPECTRA(out)}, filename = true, file_row_number = true))
    SELECT count(*) AS matched FROM read_parquet(${sqlString(catalog)}) c JOIN s
      ON s.filename = ${sqlString(`${out}/`)} || c.FILE AND s.file_row_number = c.ROW AND s.TARGETID = c.TARGETID AND s.Z IS NOT DISTINCT FROM c.Z`);
  assert.equal(matched, 42n);
});

test('the planted cases: ZWARN decides, three surveys, another pixel, special counts in ZCAT only', async () => {
  const rows = await duckQuery(`SELECT * FROM read_parquet(${sqlString(catalog)}) WHERE ZCAT_NSPEC > 1 ORDER BY TARGETID, SURVEY, PROGRAM`);
  const byTarget = new Map<bigint, Record<string, unknown>[]>();
  for (const r of rows) byTarget.set(r.TARGETID as bigint, [...(byTarget.get(r.TARGETID as bigint) ?? []), r]);
  assert.equal(byTarget.size, 6, 'six targets have more than one spectrum');
  const where = (r: Record<string, unknown>) => `${String(r.SURVEY)}/${String(r.PROGRAM)}/${String(r.HEALPIX)}`;
  const groups = [...byTarget.values()].map((g) => ({ g, at: g.map(where).sort().join(' ') }));
  const hasTsnr2 = rows.some((r) => r.TSNR2_LRG !== null);
  assert.ok(hasTsnr2, 'the per-tile files carry TSNR2_LRG (redrock TSNR2 HDU)');

  const zwarn = groups.find((x) => x.g.some((r) => where(r) === 'main/bright/6026' && r.ZWARN === 4n))!;
  assert.deepEqual(zwarn.g.filter((r) => r.ZCAT_PRIMARY).map(where), ['main/dark/6026'], 'ZWARN 0 beats ZWARN 4 with a larger TSNR2');

  const three = groups.find((x) => x.g.length === 3)!;
  assert.equal(three.at, 'main/dark/6026 sv1/dark/6027 sv3/dark/6026');
  for (const r of three.g) {
    assert.equal(r.ZCAT_NSPEC, 3);
    assert.equal(r.MAIN_NSPEC, r.SURVEY === 'main' ? 1 : 0);
    assert.equal(r.SV_NSPEC, r.SURVEY === 'main' ? 0 : 2);
  }
  // Equal TSNR2_LRG (or none): ties go to main before sv1 before sv3; in SV, sv1 before sv3.
  assert.deepEqual(three.g.filter((r) => r.ZCAT_PRIMARY).map(where), ['main/dark/6026']);
  assert.deepEqual(three.g.filter((r) => r.SV_PRIMARY).map(where), ['sv1/dark/6027']);

  const special = groups.find((x) => x.g.some((r) => r.SURVEY === 'special'))!;
  for (const r of special.g) if (r.SURVEY === 'special') assert.deepEqual([r.MAIN_NSPEC, r.SV_NSPEC, r.MAIN_PRIMARY, r.SV_PRIMARY], [0, 0, false, false]);

  const otherPixel = groups.find((x) => x.at === 'main/dark/6026 sv1/dark/6027')!;
  // With TSNR2_LRG the NaN of main/dark ranks last; without it, the tie-break puts main first.
  assert.deepEqual(otherPixel.g.filter((r) => r.ZCAT_PRIMARY).map(where), [hasTsnr2 ? 'sv1/dark/6027' : 'main/dark/6026']);
});

test('verify calls nothing stray: _catalog/ is a dataset-level folder', async () => {
  const r = await runCli(['verify', '--out', out]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /5 files checked, 0 findings/);
});

test('desi-qad catalog writes the same bytes again, reading no byte of the spectra columns', async () => {
  const before = await readFile(catalog);
  await rm(catalog);
  const r = await runCli(['catalog', '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Catalog: .*zcatalog\.parquet \(42 spectra/m);
  assert.ok(Buffer.compare(before, await readFile(catalog)) === 0, 'same input, same bytes');
  const mtime = (await stat(catalog)).mtimeMs;
  const again = await runCli(['catalog', '--out', out]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /, unchanged$/m);
  assert.equal((await stat(catalog)).mtimeMs, mtime, 'a table with the same bytes is not rewritten');

  // The reads of one file's catalog columns, against where its spectra column chunks lie.
  const file = join(out, 'main', 'dark', '60', 'main-dark-6026.parquet');
  const chunks = await duckQuery(
    `SELECT path_in_schema AS p, coalesce(dictionary_page_offset, data_page_offset) AS start, total_compressed_size AS size FROM parquet_metadata(${sqlString(file)})`,
  );
  const spectra = chunks.filter((c) => /^[BRZ]_(FLUX|IVAR|MASK)/.test(String(c.p))).map((c) => [Number(c.start), Number(c.start) + Number(c.size)]);
  assert.ok(spectra.length >= 9);
  const local = await LocalFileSource.open(file);
  const ranges: [number, number][] = [];
  const recorder: ByteSource = { name: local.name, byteLength: local.byteLength, slice: (s, e) => (ranges.push([s, e]), local.slice(s, e)) };
  try {
    const got = await readCatalogColumns(recorder);
    assert.equal(got.rows, 12);
  } finally {
    await local.close();
  }
  assert.ok(ranges.length > 0);
  for (const [s, e] of ranges) for (const [a, b] of spectra) assert.ok(e <= a || s >= b, `read [${s}, ${e}) overlaps a spectra chunk [${a}, ${b})`);
});

test('the Python oracle (astropy over the FITS) agrees on every PRIMARY/NSPEC flag, row for row', { skip: skipOracle }, async () => {
  const csv = join(work, 'zcatalog.csv');
  await duckQuery(`COPY (SELECT * FROM read_parquet(${sqlString(catalog)})) TO ${sqlString(csv)} (HEADER, DELIMITER ',')`);
  const [{ t }] = await duckQuery(`SELECT count(TSNR2_LRG) AS t FROM read_parquet(${sqlString(catalog)})`);
  const args = [ORACLE, '--source', src, '--catalog', csv, '--all-rows', ...(t === 0n ? ['--no-tsnr2'] : [])];
  const r = spawnSync(PYTHON, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const summary = JSON.parse(r.stdout.trim()) as { rows: number; targets: number; multi: number; mismatches: number; problems: number };
  assert.deepEqual(summary, { ...summary, rows: 42, targets: 35, multi: 6, mismatches: 0, problems: 0 });

  // The oracle can fail: a flipped flag is caught.
  const text = await readFile(csv, 'utf8');
  const lines = text.split('\n');
  lines[1] = lines[1].replace(/,(true|false)$/, (_m, v: string) => `,${v === 'true' ? 'false' : 'true'}`);
  const flipped = join(work, 'flipped.csv');
  await writeFile(flipped, lines.join('\n'));
  const bad = spawnSync(PYTHON, [ORACLE, '--source', src, '--catalog', flipped, ...(t === 0n ? ['--no-tsnr2'] : [])], { encoding: 'utf8' });
  assert.equal(bad.status, 1, bad.stdout + bad.stderr);
  assert.match(bad.stdout, /"mismatches": 1/);
});

test('desi-qad catalog: exit 2 for a folder that is no dataset, 4 (naming the file) for a file that cannot be read', async () => {
  const empty = await mkdtemp(join(work, 'empty-'));
  const none = await runCli(['catalog', '--out', empty]);
  assert.equal(none.code, 2, none.stderr);
  assert.match(none.stderr, /not a desi-qad dataset/);

  const copy = join(work, 'broken');
  const cp = spawnSync('cp', ['-r', out, copy]);
  assert.equal(cp.status, 0);
  const victim = join(copy, 'sv3', 'dark', '60', 'sv3-dark-6026.parquet');
  await truncate(victim, (await stat(victim)).size - 100);
  const before = await readFile(join(copy, '_catalog', 'zcatalog.parquet'));
  const r = await runCli(['catalog', '--out', copy]);
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /sv3-dark-6026\.parquet/);
  assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
  assert.ok(Buffer.compare(before, await readFile(join(copy, '_catalog', 'zcatalog.parquet'))) === 0, 'the table in place is left as it was');
});
