/**
 * The README's plotting recipes (docs/recipes/), run as a user runs them on a converted dataset: each gives one
 * spectrum's pixels (ARM, WAVELENGTH, FLUX) from the spectra files joined with the dataset's wavelength table,
 * and each must give exactly the stored flux on exactly the stored grid. DuckDB always runs; Polars where its
 * native binding is installed (npm skips it on Node < 22); pandas/pyarrow only where Python has them (CI does
 * not): each skip says why.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Table } from 'apache-arrow';
import { readWavelengthFile, WAVELENGTH_REL, type ArmGrid } from '../../src/desi/wavelength.js';
import { FIXTURE_TREE, REPO, runCli } from '../helpers/cli.js';
import { duckQuery } from '../helpers/duckdb.js';
import { listRow, readArrow } from '../helpers/parquet-bits.js';

const RECIPES = join(REPO, 'docs', 'recipes');
const PYTHON = '/usr/bin/python3';

interface Pixel {
  ARM: string;
  WAVELENGTH: number;
  FLUX: number;
}

/** Why Polars cannot run here, or undefined when it can. */
function polarsSkip(): string | undefined {
  try {
    createRequire(import.meta.url)('nodejs-polars');
    return undefined;
  } catch (err) {
    // CI (DESI_QAD_REQUIRE_ORACLES=1) installs the binding under Node 24: there, a Polars that does not load fails.
    if (process.env.DESI_QAD_REQUIRE_ORACLES === '1' && Number(process.versions.node.split('.')[0]) >= 22) return undefined;
    return `nodejs-polars does not load here (its native binding needs Node >= 22, npm skips it on ${process.version}): ${(err as Error).message.split('\n')[0]}`;
  }
}

/** Why the pandas recipe cannot run here, or undefined when it can. */
function pythonSkip(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import pandas, pyarrow'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : `pandas/pyarrow not importable by ${PYTHON}: the pandas recipe is checked only where they are installed`;
}

/** Asserts that `pixels` are exactly the arms' grids with the row's stored flux, bit for bit. */
function assertSpectrum(pixels: Pixel[], grids: ArmGrid[], table: Table, row: number, who: string): void {
  assert.equal(
    pixels.length,
    grids.reduce((n, g) => n + g.values.length, 0),
    `${who}: one row per pixel of every arm`,
  );
  let at = 0;
  for (const g of grids) {
    const flux = listRow(table, `${g.arm}_FLUX`, row) as Float32Array;
    for (let i = 0; i < g.values.length; i++, at++) {
      const p = pixels[at];
      assert.equal(p.ARM, g.arm, `${who}: pixel ${at} arm`);
      assert.ok(Object.is(p.WAVELENGTH, g.values[i]), `${who}: ${g.arm} pixel ${i} at ${p.WAVELENGTH} Å, the grid says ${g.values[i]}`);
      assert.ok(Object.is(p.FLUX, flux[i]) || (Number.isNaN(p.FLUX) && Number.isNaN(flux[i])), `${who}: ${g.arm} pixel ${i} flux ${p.FLUX}, stored ${flux[i]}`);
    }
  }
}

describe('the README plotting recipes', () => {
  let out = '';
  let grids: ArmGrid[] = [];
  let table: Table;
  let targetid = 0n;

  before(async () => {
    out = join(await mkdtemp(join(tmpdir(), 'desi-qad-recipes-')), 'out');
    const r = await runCli(['convert', '--source', FIXTURE_TREE, '--out', out, '--log-dir', join(out, '..', 'logs'), '--threads', '2', '--quiet']);
    assert.ok(r.code === 0 || r.code === 1, `convert: ${r.stderr}`);
    grids = readWavelengthFile(await readFile(join(out, WAVELENGTH_REL)), WAVELENGTH_REL).grids;
    table = await readArrow(join(out, 'main', 'dark', '230', 'main-dark-23040.parquet'));
    targetid = table.getChild('TARGETID')!.get(1) as bigint;
  });

  test('the spectra glob reads the spectra files only, never the wavelength table', async () => {
    const [n] = await duckQuery(`SELECT count(*) AS n, count(*) FILTER (WHERE B_FLUX IS NULL) AS nulls FROM read_parquet('${out}/*/*/*/*.parquet')`);
    assert.ok(Number(n.n) >= table.numRows);
    assert.equal(Number(n.nulls), 0);
    // `**` matches every folder, _wavelength/ too: a query naming a column fails loudly (DuckDB takes the first file's schema,
    // `_wavelength` sorts first), but count(*) (footers
    // only) counts the table's 3 rows as spectra. Hence the depth glob in every recipe.
    await assert.rejects(duckQuery(`SELECT count(TARGETID) FROM read_parquet('${out}/**/*.parquet')`), /schema mismatch|not found/);
    const [all] = await duckQuery(`SELECT count(*) AS n FROM read_parquet('${out}/**/*.parquet')`);
    assert.equal(Number(all.n), Number(n.n) + grids.length);
  });

  test('DuckDB (spectrum.sql through @duckdb/node-api)', async () => {
    const mod = (await import(pathToFileURL(join(RECIPES, 'spectrum-duckdb.mjs')).href)) as {
      spectrum(out: string, id: bigint): Promise<(Pixel & { SURVEY: string })[]>;
    };
    const pixels = await mod.spectrum(out, targetid);
    assert.ok(pixels.every((p) => p.SURVEY === 'main'));
    assertSpectrum(pixels, grids, table, 1, 'DuckDB');
  });

  test('Polars (spectrum-polars.mjs)', { skip: polarsSkip() }, async () => {
    const mod = (await import(pathToFileURL(join(RECIPES, 'spectrum-polars.mjs')).href)) as {
      spectrum(out: string, id: bigint): { toRecords(): Pixel[]; getColumn(n: string): { dtype: { toString(): string } } };
    };
    const frame = mod.spectrum(out, targetid);
    assert.match(String(frame.getColumn('FLUX').dtype), /Float32/, 'the flux stays float32');
    assertSpectrum(frame.toRecords(), grids, table, 1, 'Polars');
  });

  test('pandas/pyarrow (spectrum.py)', { skip: pythonSkip() }, () => {
    const r = spawnSync(PYTHON, [join(RECIPES, 'spectrum.py'), out, String(targetid), '--json'], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { unit: string; rows: [string, number, number][] };
    assert.equal(doc.unit, '10**-17 erg/(s cm2 Angstrom)', 'pyarrow sees the unit in the field metadata');
    assertSpectrum(
      doc.rows.map(([ARM, WAVELENGTH, FLUX]) => ({ ARM, WAVELENGTH, FLUX })),
      grids,
      table,
      1,
      'pandas',
    );
  });
});
