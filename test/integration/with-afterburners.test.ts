/**
 * `--with qso_qn,qso_mgii,emline` on a synthetic tree: every added column of every output row is what astropy
 * reads from the afterburner file at the row's TARGETID (scripts/check-fits-astropy.py --values; integers
 * and logicals equal, floats bit-identical, strings equal, COEFFS element by element), under the default
 * selection (redrock-qso, which keeps only some REDSHIFTS rows) and with desi-qso-dr1 (whose own QN/MgII
 * columns are not repeated). A tile without its emline file fails with MISSING_SOURCE naming the file while
 * the others convert; an emline file whose TARGETIDs differ fails its tile naming both files; a run with
 * other --with groups on the dataset is refused. Skips without astropy, unless DESI_QAD_REQUIRE_ORACLES=1.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Table } from 'apache-arrow';
import { afterburnerColumns, type AfterburnerColumn } from '../../src/desi/afterburner-columns.js';
import type { AfterburnerKind } from '../../src/desi/selection.js';
import { synthTree, type SynthTileSpec } from '../../src/synth/index.js';
import { tilePaths } from '../../src/synth/tree.js';
import { readLocalJournal, REPO, runCli } from '../helpers/cli.js';
import { duckKvMetadata } from '../helpers/duckdb.js';
import { hexOf, listRow, readArrow, scalarBits } from '../helpers/parquet-bits.js';

const PYTHON = '/usr/bin/python3';
const CHECK_SCRIPT = join(REPO, 'scripts', 'check-fits-astropy.py');

function missingOracle(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const probe = spawnSync(PYTHON, ['-c', 'import astropy, numpy'], { encoding: 'utf8' });
  return probe.status === 0 ? null : `astropy/numpy not importable by ${PYTHON}`;
}
const missing = missingOracle();
if (missing && process.env.DESI_QAD_REQUIRE_ORACLES === '1') test('oracles are required (DESI_QAD_REQUIRE_ORACLES=1)', () => assert.fail(missing));
const skip = missing ? `oracle missing (${missing})` : false;

interface Column {
  name: string;
  format: string;
  dtype?: string;
  values?: string[];
}
interface Summary {
  ok: boolean;
  hdus: { name: string; columns?: Column[] }[];
}

const KINDS: AfterburnerKind[] = ['qso_qn', 'qso_mgii', 'emline'];
const HDU: Record<AfterburnerKind, string> = { qso_qn: 'QN_RR', qso_mgii: 'MGII', emline: 'EMLINEFIT' };

const TILES: SynthTileSpec[] = [
  { survey: 'main', program: 'dark', healpix: 23040, targets: 60, goodQso: 10, seed: 11, qsoCases: true },
  { survey: 'main', program: 'bright', healpix: 9000, targets: 45, goodQso: 6, seed: 12 },
  { survey: 'main', program: 'dark', healpix: 23041, targets: 30, goodQso: 5, seed: 13, emline: 'mismatch' },
  { survey: 'main', program: 'dark', healpix: 23042, targets: 30, goodQso: 5, seed: 14, emline: 'none' },
];
const GOOD = TILES.slice(0, 2);
const SURVEY = ['--survey', 'main', '--program', 'dark,bright'];

function astropyValues(paths: string[]): Record<string, Summary> {
  const run = spawnSync(PYTHON, [CHECK_SCRIPT, '--values', ...paths], { encoding: 'utf8', maxBuffer: 256 << 20 });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as Record<string, Summary>;
}

function afterburnerPath(spec: SynthTileSpec, kind: AfterburnerKind): string {
  return join(tilePaths(TREE(), spec).dir, `${kind}-${spec.survey}-${spec.program}-${spec.healpix}.fits`);
}

/** The output value of row i as the oracle writes it: stored bits for floats, decimal text otherwise. */
function outputValue(table: Table, c: AfterburnerColumn, i: number): string | null {
  if (c.list) return hexOf(listRow(table, c.name, i));
  if (c.type === 'float32' || c.type === 'float64') return scalarBits(table, c.name, i);
  const v = table.getChild(c.name)!.get(i) as string | number | bigint | boolean | null;
  if (v === null) return null;
  return typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
}

/** Compares every --with column of `table` with astropy's reading of the tile's afterburners; returns the count. */
function compareAfterburners(table: Table, spec: SynthTileSpec, summary: Record<string, Summary>): number {
  const ids = table.getChild('TARGETID')!;
  let compared = 0;
  for (const kind of KINDS) {
    const h = summary[afterburnerPath(spec, kind)].hdus.find((x) => x.name === HDU[kind]);
    assert.ok(h?.columns, `${kind}: no ${HDU[kind]} table`);
    const cols = new Map(h.columns.map((c) => [c.name, c]));
    const fileIds = cols.get('TARGETID')!.values!;
    const rowOf = new Map(fileIds.map((t, r) => [t, r]));
    // The file's rows are in an order of their own: matching by position would give other rows' values.
    const outIds = Array.from({ length: table.numRows }, (_, i) => String(ids.get(i)));
    assert.ok(
      outIds.some((t, i) => fileIds[i] !== t),
      `${kind}: the file's row order differs from the output's`,
    );
    for (const c of afterburnerColumns(kind)) {
      const col = cols.get(c.source);
      assert.ok(col?.values, `${kind}: astropy gives no values for ${c.source}`);
      for (let i = 0; i < table.numRows; i++) {
        const r = rowOf.get(outIds[i]);
        assert.ok(r !== undefined, `TARGETID ${outIds[i]} is not in the ${kind} file`);
        assert.equal(outputValue(table, c, i), col.values[r], `${c.name} (${kind} ${c.source}) of TARGETID ${outIds[i]}`);
        compared++;
      }
    }
  }
  return compared;
}

let work = '';
const TREE = () => join(work, 'tree');

async function convert(out: string, extra: string[]) {
  return runCli(['convert', '--source', TREE(), '--out', out, '--log-dir', join(work, 'logs'), '--threads', '2', '--quiet', ...SURVEY, ...extra]);
}

function parquetOf(out: string, spec: SynthTileSpec): string {
  return join(out, spec.survey, spec.program, String(Math.floor(spec.healpix / 100)), `${spec.survey}-${spec.program}-${spec.healpix}.parquet`);
}

describe('--with qso_qn,qso_mgii,emline against astropy', { skip }, () => {
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'desi-qad-with-'));
    await synthTree({ out: TREE(), tiles: TILES, wavelength: 'short' });
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('redrock-qso: every added column is bit-identical to astropy at the matching TARGETID; bad tiles fail alone', async () => {
    const out = join(work, 'out-default');
    const r = await convert(out, ['--select', 'redrock-qso', '--with', 'qso_qn,qso_mgii', '--with', 'emline']);
    assert.equal(r.code, 1, r.stderr); // some tiles failed, the others converted
    const recs = (await readLocalJournal(out)).filter((x) => x.type === 'tile') as { tile: string; status: string; errorClass?: string; error?: string }[];
    const by = (t: string) => recs.find((x) => x.tile === t)!;
    assert.equal(by('main/dark/23040').status, 'ok');
    assert.equal(by('main/bright/9000').status, 'ok');
    assert.equal(by('main/dark/23042').errorClass, 'MISSING_SOURCE');
    assert.match(by('main/dark/23042').error ?? '', /no emline file emline-main-dark-23042\.fits/);
    assert.equal(by('main/dark/23041').errorClass, 'TARGET_MISMATCH');
    assert.match(
      by('main/dark/23041').error ?? '',
      /emline-main-dark-23041\.fits.*EMLINEFIT.*TARGETID.*differ from the REDSHIFTS TARGETIDs of .*redrock-main-dark-23041\.fits/,
    );

    const summary = astropyValues(GOOD.flatMap((s) => KINDS.map((k) => afterburnerPath(s, k))));
    for (const spec of GOOD) {
      const table = await readArrow(parquetOf(out, spec));
      assert.equal(table.numRows, spec.qsoCases ? table.numRows : spec.goodQso);
      assert.ok(table.numRows > 0);
      const names = table.schema.fields.map((f) => f.name);
      const added = KINDS.flatMap((k) => afterburnerColumns(k).map((c) => c.name));
      // Once each, after the catalog columns and before the spectra.
      assert.equal(new Set(names).size, names.length);
      for (const n of added) assert.ok(names.includes(n), n);
      assert.ok(names.indexOf(added[0]) > names.indexOf('TSNR2_QSO') && names.indexOf(added.at(-1)!) < names.indexOf('B_FLUX'));
      assert.ok(compareAfterburners(table, spec, summary) >= table.numRows * added.length);
    }
    // The file says what it adds, and which afterburner files it read.
    const info = JSON.parse((await duckKvMetadata(parquetOf(out, GOOD[1]))).desi_qad) as { with?: string[]; sources: { role: string }[] };
    assert.deepEqual(info.with, ['qso_qn', 'qso_mgii', 'emline']);
    assert.deepEqual(info.sources.map((s) => s.role).sort(), ['coadd', 'emline', 'qso_mgii', 'qso_qn', 'redrock']);

    // Another --with on this dataset is another schema: refused (exit 2) saying what differs.
    const other = await convert(out, ['--with', 'emline']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /with: "qso_qn,qso_mgii,emline" in the dataset, "emline" in this run/);
    const none = await convert(out, []);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /with: "qso_qn,qso_mgii,emline" in the dataset, "none" in this run/);
  });

  test('desi-qso-dr1 with --with qso_qn,qso_mgii: the rules columns once, the rest added, all as astropy reads them', async () => {
    const out = join(work, 'out-dr1');
    const r = await runCli([
      'convert',
      '--source',
      TREE(),
      '--out',
      out,
      '--log-dir',
      join(work, 'logs'),
      '--quiet',
      '--survey',
      'main',
      '--program',
      'bright',
      '--select',
      'desi-qso-dr1',
      '--with',
      'qso_qn,qso_mgii',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const spec = TILES[1];
    const table = await readArrow(parquetOf(out, spec));
    const names = table.schema.fields.map((f) => f.name);
    assert.equal(new Set(names).size, names.length, 'no column twice');
    for (const n of ['Z_RR', 'ZERR_RR', 'QSO_MASKBITS', 'Z_NEW', 'C_LYA', 'IS_QSO_MGII', 'QSO_QN_Z_RR', 'QSO_MGII_Z_RR', 'COEFFS', 'Z_QN', 'A'])
      assert.ok(names.includes(n), n);
    assert.ok(!names.some((n) => n.startsWith('EMLINE_') || n === 'OII_FLUX'), 'emline not asked for');
    const summary = astropyValues(KINDS.slice(0, 2).map((k) => afterburnerPath(spec, k)));
    const ids = table.getChild('TARGETID')!;
    for (const kind of ['qso_qn', 'qso_mgii'] as const) {
      const cols = new Map(summary[afterburnerPath(spec, kind)].hdus.find((x) => x.name === HDU[kind])!.columns!.map((c) => [c.name, c]));
      const rowOf = new Map(cols.get('TARGETID')!.values!.map((t, i) => [t, i]));
      for (const c of afterburnerColumns(kind))
        for (let i = 0; i < table.numRows; i++)
          assert.equal(outputValue(table, c, i), cols.get(c.source)!.values![rowOf.get(String(ids.get(i)))!], `${c.name} of TARGETID ${ids.get(i)}`);
    }
  });
});
