/**
 * The local conversion path end to end, as a user runs it: `desi-qad convert` on a tree of tiles written by
 * astropy (test/fixtures/tree), checked against what astropy itself reads from those files
 * (test/fixtures/expected, made by scripts/make-fixture-tree.py), through two independent readers of the
 * output: DuckDB (values) and Arrow (bits).
 */
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURE_EXPECTED, FIXTURE_TREE, latestLog, listFiles, runCli, readLocalJournal } from '../helpers/cli.js';
import { duckKvMetadata, duckQuery } from '../helpers/duckdb.js';
import type { FooterInfo } from '../../src/desi/schema.js';
import { hexOf, listRow, readArrow, sha256Of } from '../helpers/parquet-bits.js';

interface ExpectedColumn {
  dtype: string;
  values?: string[];
  hex?: string[];
  sha256?: string[];
}
interface Expected {
  status: 'ok' | 'empty' | 'missing-source';
  survey: string;
  program: string;
  healpix: number;
  rows: number;
  columns: Record<string, ExpectedColumn | null>;
  wavelength: Record<string, { dtype: string; sha256: string }>;
}

const ALL = ['--survey', 'main,sv3', '--program', 'dark,bright'];

async function loadExpected(): Promise<Expected[]> {
  const files = (await readdir(FIXTURE_EXPECTED)).filter((f) => f.endsWith('.json'));
  return Promise.all(files.map(async (f) => JSON.parse(await readFile(join(FIXTURE_EXPECTED, f), 'utf8')) as Expected));
}

function parquetPath(e: { survey: string; program: string; healpix: number }): string {
  return `${e.survey}/${e.program}/${Math.floor(e.healpix / 100)}/${e.survey}-${e.program}-${e.healpix}.parquet`;
}

async function convert(extra: string[] = []) {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-convert-'));
  const out = join(work, 'out');
  const logs = join(work, 'logs');
  const r = await runCli(['convert', '--source', FIXTURE_TREE, '--out', out, '--log-dir', logs, '--threads', '2', '--quiet', ...ALL, ...extra]);
  return { ...r, out, logs, log: await latestLog(logs) };
}

/** Float bits of a scalar column value, in the dtype astropy gave (the output may be wider, never narrower). */
function scalarHex(table: Awaited<ReturnType<typeof readArrow>>, name: string, i: number, dtype: string): string {
  const data = table.getChild(name)!.data;
  assert.equal(data.length, 1, `${name}: one chunk`);
  const values = data[0].values as Float32Array | Float64Array;
  const v = values.subarray(i, i + 1);
  if (dtype === 'float32' && v instanceof Float64Array) return hexOf(new Float32Array([v[0]]));
  if (dtype === 'float64' && v instanceof Float32Array) return hexOf(new Float64Array([v[0]]));
  return hexOf(v);
}

test('convert on an astropy-written tree: every value bit-identical to astropy, readable by DuckDB', async () => {
  const expected = await loadExpected();
  assert.ok(expected.length >= 6, 'the fixture set has its tiles');
  const run = await convert();
  assert.equal(run.code, 1, `one tile has no redrock, so the run ends "done with failed tiles"; stderr: ${run.stderr}`);
  for (const e of expected) {
    const path = join(run.out, parquetPath(e));
    if (e.rows === 0) {
      await assert.rejects(stat(path), `tile ${e.healpix} has no selected row and writes no file`);
      continue;
    }
    const table = await readArrow(path);
    assert.equal(table.numRows, e.rows, `${path}: rows`);
    for (const [name, col] of Object.entries(e.columns)) {
      const vec = table.getChild(name);
      assert.ok(vec, `${path}: column ${name} present`);
      if (col === null) {
        assert.equal(vec.nullCount, e.rows, `${path}: ${name} is absent from the FITS, so null`);
        continue;
      }
      for (let i = 0; i < e.rows; i++) {
        if (col.values) assert.equal(String(vec.get(i)), col.values[i], `${path}: ${name}[${i}]`);
        else if (col.hex) assert.equal(scalarHex(table, name, i, col.dtype), col.hex[i], `${path}: ${name}[${i}] bits`);
        else if (col.sha256) assert.equal(sha256Of(listRow(table, name, i)), col.sha256[i], `${path}: ${name}[${i}] bits`);
      }
    }
    const kv = await duckKvMetadata(path);
    const footer = JSON.parse(kv.desi_qad) as FooterInfo;
    for (const [arm, w] of Object.entries(e.wavelength)) {
      assert.equal(sha256Of(new Float64Array(footer.wavelength![arm])), w.sha256, `${path}: ${arm} wavelength grid`);
    }
    assert.deepEqual(Object.keys(footer.wavelength!), Object.keys(e.wavelength));
    assert.equal(footer.selection, "SPECTYPE == 'QSO' and ZWARN == 0");
    assert.equal(footer.tile, `${e.survey}/${e.program}/${e.healpix}`);
    assert.deepEqual(
      footer.sources.map((s) => s.role),
      ['coadd', 'redrock'],
    );
    assert.ok(footer.sources.every((s) => s.size > 0 && !Number.isNaN(Date.parse(s.mtime!))));
    assert.match(footer.version, /^desi-qad \d+\.\d+\.\d+/);
    assert.ok(footer.provenance.coadd.SPECPROD, 'provenance from the coadd primary header');

    // DuckDB, an independent reader, reads the same values: NaN where NaN, -0.0 keeps its sign.
    const rows = await duckQuery(`SELECT TARGETID, Z, B_FLUX, R_IVAR, Z_MASK FROM read_parquet('${path}')`);
    assert.equal(rows.length, e.rows);
    rows.forEach((r, i) => {
      assert.equal(String(r.TARGETID), e.columns.TARGETID!.values![i]);
      for (const [name, kind] of [
        ['B_FLUX', 'f'],
        ['R_IVAR', 'f'],
        ['Z_MASK', 'u'],
      ] as const) {
        const duck = r[name] as number[];
        const arrow = listRow(table, name, i) as Float32Array | Uint32Array;
        assert.equal(duck.length, arrow.length, `${name}[${i}] length`);
        for (let k = 0; k < duck.length; k++) {
          const a = kind === 'f' ? arrow[k] : arrow[k];
          assert.ok(Object.is(duck[k], a) || (Number.isNaN(duck[k]) && Number.isNaN(a)), `${path}: DuckDB ${name}[${i}][${k}] = ${duck[k]}, stored ${a}`);
        }
      }
    });
  }
  const dataset = await duckQuery(`SELECT count(*) AS n, count(DISTINCT TARGETID) AS d FROM read_parquet('${run.out}/*/*/*/*.parquet')`);
  const total = expected.reduce((s, e) => s + e.rows, 0);
  assert.equal(Number(dataset[0].n), total, 'the dataset holds every selected row once');
  assert.equal(Number(dataset[0].d), total);
});

test("the log holds the seed's lines with the right numbers", async () => {
  const run = await convert(['--batch-size', '3']);
  const tiles = (await listFiles(FIXTURE_TREE)).filter((f) => f.endsWith('.fits'));
  const dirs = new Set(tiles.map((f) => f.split('/').slice(0, 4).join('/')));
  const log = run.log;
  const line = (re: RegExp) => assert.match(log, re);
  line(/\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[INFO\] - Found 0 completed tiles\./);
  line(new RegExp(`\\[INFO\\] - Discovered ${dirs.size} tiles remaining to be processed\\.`));
  const batches = Math.ceil(dirs.size / 3);
  line(new RegExp(`\\[INFO\\] - Ready to process ${batches} batches of up to 3 tiles each\\.`));
  for (let b = 1; b <= batches; b++) line(new RegExp(`--- Starting Batch ${b}/${batches} ---`));
  assert.equal(log.match(/--- Batch Summary ---/g)?.length, batches);
  // Each tile line states the real FITS size of its coadd + redrock and the real size of its Parquet file.
  for (const dir of dirs) {
    const [survey, program, , pix] = dir.split('/');
    const files = tiles.filter((f) => f.startsWith(dir + '/'));
    const fits = (await Promise.all(files.map((f) => stat(join(FIXTURE_TREE, f))))).reduce((s, st) => s + st.size, 0);
    const pq = await stat(join(run.out, parquetPath({ survey, program, healpix: Number(pix) }))).then(
      (s) => s.size,
      () => 0,
    );
    const m = new RegExp(`Tile ${pix}: FITS Size=([\\d.,]+) MB, Parquet Size=([\\d.,]+) MB, .*Survey=${survey}, Program=${program}, Status=(\\w+)`).exec(log);
    assert.ok(m, `a summary line for ${dir}`);
    assert.equal(m[1], (fits / 1e6).toFixed(2), `${dir} FITS size`);
    assert.equal(m[2], (pq / 1e6).toFixed(2), `${dir} Parquet size`);
  }
  line(/Tile 27248: .*Status=missing \[MISSING_SOURCE\] .*no redrock file/);
  line(/FITS Downloaded : [\d.,]+ MB/);
  line(/Data Reduction {2}: [\d.]+%/);
  line(/Batch Speed {5}: [\d.]+ MB\/s/);
  line(/Duration {8}: [\d.]+ sec/);
  line(/TOTALS:/);
  line(/Avg Compression : [\d.]+%/);
  line(/--- Outcomes ---/);
  line(/missing source : 1 tiles/);
  // Exit 1 (one tile lacks its redrock): the ending says so instead of "✅ Run finished."
  line(/Run finished with 0 failed and 1 missing-source tiles; exit status 1\. Run the same command to retry them\./);
  assert.doesNotMatch(log, /✅/);
});

test('a second run skips what is done, says how many it found, and retries the missing tile', async () => {
  const first = await convert();
  // The dataset's files; _desi-qad/ gains the second run's own journal file.
  const dataFiles = async () => (await listFiles(first.out)).filter((f) => !f.startsWith('_desi-qad/'));
  const before = await dataFiles();
  const mtimes = await Promise.all(before.map(async (f) => (await stat(join(first.out, f))).mtimeMs));
  const logs2 = join(first.out, '..', 'logs2');
  const again = await runCli(['convert', '--source', FIXTURE_TREE, '--out', first.out, '--log-dir', logs2, '--quiet', ...ALL]);
  assert.equal(again.code, 1);
  const log = await latestLog(logs2);
  const done = (await loadExpected()).filter((e) => e.status !== 'missing-source').length;
  assert.match(log, new RegExp(`Found ${done} completed tiles\\.`));
  assert.match(log, /Discovered 1 tiles remaining to be processed\./);
  const after = await dataFiles();
  assert.deepEqual(after, before);
  const mtimes2 = await Promise.all(after.map(async (f) => (await stat(join(first.out, f))).mtimeMs));
  assert.deepEqual(
    mtimes2.filter((_, i) => before[i].endsWith('.parquet')),
    mtimes.filter((_, i) => before[i].endsWith('.parquet')),
    'done files are not rewritten',
  );
});

test('--fetch full and --fetch ranges write byte-identical files; ranges reads fewer bytes', async () => {
  const ranges = await convert(['--fetch', 'ranges']);
  const full = await convert(['--fetch', 'full']);
  const files = (await listFiles(ranges.out)).filter((f) => f.endsWith('.parquet'));
  assert.deepEqual(
    files,
    (await listFiles(full.out)).filter((f) => f.endsWith('.parquet')),
  );
  for (const f of files) assert.ok((await readFile(join(ranges.out, f))).equals(await readFile(join(full.out, f))), `${f} identical`);
  const fetched = (log: string) => Number(/TOTALS:[\s\S]*?Bytes Fetched\s+: ([\d.,]+) MB/.exec(log)![1].replace(/,/g, ''));
  assert.ok(fetched(ranges.log) < fetched(full.log), `ranges fetched ${fetched(ranges.log)} MB, full ${fetched(full.log)} MB`);
});

test('selections: --spectype any --keep-zwarn keeps more rows; a resumed run with another selection is refused', async () => {
  const all = await convert(['--spectype', 'any', '--keep-zwarn']);
  const n = await duckQuery(`SELECT count(*) AS n FROM read_parquet('${all.out}/*/*/*/*.parquet')`);
  const qso = (await loadExpected()).reduce((s, e) => s + e.rows, 0);
  assert.ok(Number(n[0].n) > qso, `${Number(n[0].n)} rows with every class vs ${qso} good quasars`);
  const clash = await runCli(['convert', '--source', FIXTURE_TREE, '--out', all.out, '--log-dir', all.logs, '--quiet', ...ALL]);
  assert.equal(clash.code, 2);
  assert.match(await latestLog(all.logs), /another selection or source[^]*selection: "all rows" in the dataset/);
});

test('bad usage exits 2 with a message', async () => {
  const r = await runCli(['convert', '--source', FIXTURE_TREE, '--out', '/tmp/x', '--batch-size', '0']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--batch-size must be an integer >= 1/);
  const r2 = await runCli(['frobnicate']);
  assert.equal(r2.code, 2);
});

test('a --tiles value that is not a healpix number or survey/program/healpix is a usage error naming it', async () => {
  for (const bad of ['99999', '../../x', 'main/dark', '12a']) {
    const r = await runCli(['convert', '--source', FIXTURE_TREE, '--out', '/tmp/desi-qad-never-written', '--tiles', `23040,${bad}`]);
    assert.equal(r.code, 2, `--tiles ${bad}: ${r.stderr}`);
    assert.ok(r.stderr.includes(`"${bad}"`), `the message names ${bad}: ${r.stderr}`);
    assert.ok(!existsSync('/tmp/desi-qad-never-written'), 'nothing was written');
  }
});

test('--max-batches and --sample bound a dry run, and the same command resumes the same sample', async () => {
  const first = await convert(['--sample', '4', '--seed', '3', '--batch-size', '2', '--max-batches', '1']);
  assert.match(first.log, /Discovered 4 tiles remaining to be processed\./);
  assert.match(first.log, /Ready to process 1 batches of up to 2 tiles each\./);
  const records = async () => (await readLocalJournal(first.out)).filter((r) => r.type === 'tile');
  const journal = async () => (await records()).map((r) => r.tile);
  const batch1 = await journal();
  assert.equal(batch1.length, 2);
  const done1 = (await records()).filter((r) => r.status === 'ok' || r.status === 'empty').length;
  const again = await runCli([
    'convert',
    '--source',
    FIXTURE_TREE,
    '--out',
    first.out,
    '--log-dir',
    first.logs,
    '--threads',
    '2',
    '--quiet',
    ...ALL,
    '--sample',
    '4',
    '--seed',
    '3',
    '--batch-size',
    '2',
  ]);
  assert.ok(again.code === 0 || again.code === 1, again.stderr);
  const log = await latestLog(first.logs);
  assert.match(log, new RegExp(`Found ${done1} completed tiles\\.`));
  assert.match(log, new RegExp(`Discovered ${4 - done1} tiles remaining to be processed\\.`), 'the rest of the same sample of 4');
  const all = await journal();
  assert.equal(new Set(all).size, 4);
  assert.ok(batch1.every((t) => all.includes(t)));
});
