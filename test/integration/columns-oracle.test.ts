/**
 * Every catalog column of `--columns all` (and of the default set) against astropy's own reading of the FITS
 * (scripts/check-fits-astropy.py --values): synthetic tiles of main, sv1, sv3 and cmx (each with its own
 * target-mask columns), and the real DESI samples in ../shared/desi-samples when that folder is there.
 * Each output row is found in the FITS tables by TARGETID; integers must be equal, floats bit-identical,
 * strings equal, and a column the file lacks must be null in every row. The spectra columns too
 * (check-fits-astropy.py --row-digests): each row of B/R/Z_FLUX, _IVAR, _MASK and, with `--with resolution`,
 * B/R/Z_RESOLUTION (11 x nwave float32, astropy's `data[i].ravel()`) has the bytes of the coadd's row.
 * Skips without astropy, unless DESI_QAD_REQUIRE_ORACLES=1.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Table } from 'apache-arrow';
import { catalogColumns, type CatalogColumnDef } from '../../src/desi/schema.js';
import { synthTree, type SynthTileSpec } from '../../src/synth/index.js';
import { REPO, runCli } from '../helpers/cli.js';
import { hexOf, listRow, readArrow, scalarBits, sha256Of } from '../helpers/parquet-bits.js';

const PYTHON = '/usr/bin/python3';
const CHECK_SCRIPT = join(REPO, 'scripts', 'check-fits-astropy.py');
const SAMPLES = process.env.DESI_QAD_SAMPLES ?? resolve(REPO, '..', 'shared', 'desi-samples');

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
  dtype?: string;
  values?: string[];
}
interface Summary {
  ok: boolean;
  hdus: { name: string; columns?: Column[]; shape?: number[]; row_sha256?: string[] }[];
}

/** astropy's values of the REDSHIFTS/FIBERMAP/TSNR2 tables of the files, and the digests of every image row. */
function astropyValues(paths: string[]): Record<string, Summary> {
  const run = spawnSync(PYTHON, [CHECK_SCRIPT, '--values', '--row-digests', ...paths], { encoding: 'utf8', maxBuffer: 256 << 20 });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as Record<string, Summary>;
}

/** One table's columns by name, with a TARGETID → row index. */
function tableOf(s: Summary, hdu: string): { cols: Map<string, Column>; rowOf: Map<string, number> } {
  const h = s.hdus.find((x) => x.name === hdu);
  assert.ok(h?.columns, `no ${hdu} table`);
  const cols = new Map(h.columns.map((c) => [c.name, c]));
  const rowOf = new Map(cols.get('TARGETID')!.values!.map((t, r) => [t, r]));
  return { cols, rowOf };
}

/** The output value of row i as the oracle writes it (the Arrow value's bits, in the output type). */
function outputValue(table: Table, def: CatalogColumnDef, i: number): string | null {
  if (def.type === 'float32' || def.type === 'float64') return scalarBits(table, def.name, i);
  const v = table.getChild(def.name)!.get(i) as string | number | bigint | null;
  return v === null ? null : String(v);
}

/** The astropy value in the output's type (a float32 source of a float64 column widened exactly). */
function expectedValue(col: Column, r: number, def: CatalogColumnDef): string {
  const raw = col.values![r];
  if (def.type === 'float64' && col.dtype === 'float32') return hexOf(new Float64Array([Buffer.from(raw, 'hex').readFloatLE(0)]));
  return raw;
}

/**
 * Checks every scalar catalog column of the output file against the FITS tables (FIBERMAP of the coadd,
 * REDSHIFTS and TSNR2 of the redrock), row by row; returns how many values were compared.
 */
function compareCatalog(table: Table, coadd: Summary, redrock: Summary, defs: readonly CatalogColumnDef[]): number {
  const sources = { fibermap: tableOf(coadd, 'FIBERMAP'), redshifts: tableOf(redrock, 'REDSHIFTS'), tsnr2: tableOf(redrock, 'TSNR2') };
  const ids = table.getChild('TARGETID')!;
  let compared = 0;
  for (const def of defs) {
    if (def.from === 'tile' || def.list) continue;
    const src = sources[def.from];
    const col = src.cols.get(def.name);
    for (let i = 0; i < table.numRows; i++) {
      const got = outputValue(table, def, i);
      if (!col) {
        assert.equal(got, null, `${def.name}[${i}]: the file has no such column, so it must be null`);
        continue;
      }
      const r = src.rowOf.get(String(ids.get(i)));
      assert.ok(r !== undefined, `TARGETID ${ids.get(i)} is not in the ${def.from} table`);
      assert.equal(got, expectedValue(col, r, def), `${def.name} of TARGETID ${ids.get(i)}`);
      compared++;
    }
  }
  return compared;
}

const KINDS = ['FLUX', 'IVAR', 'MASK'];
const ARMS = ['B', 'R', 'Z'];

/**
 * Checks every spectra column of the output file against the coadd's images, row by row (the output row's
 * TARGETID found in FIBERMAP): the stored list's bytes must hash to astropy's digest of that image row. With
 * `resolution`, B/R/Z_RESOLUTION are compared too (and must be lists of 11 x nwave float32); without, they
 * must be absent. Returns how many rows were compared.
 */
function compareSpectra(table: Table, coadd: Summary, resolution: boolean): number {
  const { rowOf } = tableOf(coadd, 'FIBERMAP');
  const ids = table.getChild('TARGETID')!;
  const names = [...ARMS.flatMap((a) => KINDS.map((k) => `${a}_${k}`)), ...(resolution ? ARMS.map((a) => `${a}_RESOLUTION`) : [])];
  const spectra = table.schema.fields.map((f) => f.name).filter((n) => /^[BRZ]_(FLUX|IVAR|MASK|RESOLUTION)$/.test(n));
  assert.deepEqual(spectra, names, 'the spectra columns, in order');
  let compared = 0;
  for (const name of names) {
    const h = coadd.hdus.find((x) => x.name === name);
    assert.ok(h?.row_sha256 && h.shape, `astropy read no rows of ${name}`);
    for (let i = 0; i < table.numRows; i++) {
      const r = rowOf.get(String(ids.get(i)));
      assert.ok(r !== undefined, `TARGETID ${ids.get(i)} is not in FIBERMAP`);
      const row = listRow(table, name, i);
      if (name.endsWith('_RESOLUTION')) {
        assert.ok(row instanceof Float32Array, `${name} is float32`);
        assert.deepEqual(h.shape.slice(1), [11, row.length / 11], `${name}[${i}] holds 11 x nwave values`);
      }
      assert.equal(sha256Of(row), h.row_sha256[r], `${name} of TARGETID ${ids.get(i)} (FIBERMAP row ${r}): not the bytes astropy reads`);
      compared++;
    }
  }
  return compared;
}

const SPECS: SynthTileSpec[] = [
  { survey: 'main', program: 'dark', healpix: 23040, targets: 9, goodQso: 4, seed: 5 },
  { survey: 'sv1', program: 'dark', healpix: 1234, targets: 7, goodQso: 3, seed: 6 },
  { survey: 'sv3', program: 'bright', healpix: 4321, targets: 8, goodQso: 2, seed: 7, mask: 'uint32-bzero' },
  { survey: 'cmx', program: 'other', healpix: 999, targets: 6, goodQso: 2, seed: 8 },
];

describe('catalog columns against astropy', { skip }, () => {
  let work = '';
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'desi-qad-columns-'));
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const set of ['all', 'default'] as const) {
    // The default set's run also has --with resolution: its spectra then include B/R/Z_RESOLUTION.
    const resolution = set === 'default';
    test(`--columns ${set}${resolution ? ' --with resolution' : ''}: every column of every survey's tiles is what astropy reads`, async () => {
      const tree = join(work, `tree-${set}`);
      const report = await synthTree({ out: tree, tiles: SPECS, wavelength: 'short' });
      const out = join(work, `out-${set}`);
      const r = await runCli([
        'convert',
        '--source',
        tree,
        '--out',
        out,
        '--log-dir',
        join(work, `logs-${set}`),
        '--survey',
        'main,sv1,sv3,cmx',
        '--program',
        'dark,bright,other',
        '--columns',
        set,
        ...(resolution ? ['--with', 'resolution'] : []),
        '--quiet',
        '--threads',
        '1',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const summary = astropyValues(report.tiles.flatMap((t) => [t.coaddPath, t.redrockPath]));
      const defs = catalogColumns(set);
      const nulls: Record<string, string[]> = {};
      for (const t of report.tiles) {
        const rel = `${t.survey}/${t.program}/${Math.floor(t.healpix / 100)}/${t.survey}-${t.program}-${t.healpix}.parquet`;
        const table = await readArrow(join(out, rel));
        assert.equal(table.numRows, t.goodQso, rel);
        assert.deepEqual(
          table.schema.fields.slice(0, defs.length).map((f) => f.name),
          defs.map((d) => d.name),
          `${rel}: the column set's fixed list, in order`,
        );
        assert.ok(compareCatalog(table, summary[t.coaddPath], summary[t.redrockPath], defs) > defs.length, rel);
        assert.equal(compareSpectra(table, summary[t.coaddPath], resolution), t.goodQso * (resolution ? 12 : 9), rel);
        nulls[t.survey] = defs.filter((d) => table.getChild(d.name)!.nullCount === table.numRows).map((d) => d.name);
      }
      // Each survey has its own target masks and no other survey's.
      const targets = (s: string) => nulls[s].filter((n) => n.endsWith('_TARGET'));
      assert.ok(!targets('main').includes('DESI_TARGET') && targets('main').includes('SV1_DESI_TARGET') && targets('main').includes('CMX_TARGET'));
      assert.ok(targets('sv1').includes('DESI_TARGET') && !targets('sv1').includes('SV1_DESI_TARGET') && targets('sv1').includes('SV3_DESI_TARGET'));
      assert.ok(!targets('sv3').includes('SV3_SCND_TARGET') && targets('sv3').includes('SCND_TARGET'));
      assert.deepEqual(
        defs.filter((d) => d.name.endsWith('_TARGET') && !targets('cmx').includes(d.name)).map((d) => d.name),
        ['CMX_TARGET', ...(set === 'all' ? ['FA_TARGET'] : [])].filter((n) => defs.some((d) => d.name === n)),
      );
      // TSNR2 is never null (every synthetic redrock has the HDU).
      assert.ok(Object.values(nulls).every((names) => !names.some((n) => n.startsWith('TSNR2_'))));
    });
  }

  const samples = ['coadd-special-dark-27247.fits', 'redrock-special-dark-27247.fits'].map((f) => join(SAMPLES, f));
  test(
    'the real DESI samples convert with --columns all --with resolution, every column as astropy reads it',
    { skip: samples.every((p) => existsSync(p)) ? false : `no DESI samples in ${SAMPLES} (set DESI_QAD_SAMPLES)` },
    async () => {
      // The samples are linked (never copied) into a healpix tree: special/dark/272/27247.
      const dir = join(work, 'samples', 'special', 'dark', '272', '27247');
      await mkdir(dir, { recursive: true });
      for (const p of samples) await symlink(p, join(dir, p.slice(SAMPLES.length + 1)));
      const out = join(work, 'samples-out');
      const r = await runCli([
        'convert',
        '--source',
        join(work, 'samples'),
        '--out',
        out,
        '--log-dir',
        join(work, 'samples-logs'),
        '--survey',
        'special',
        '--program',
        'dark',
        '--spectype',
        'any',
        '--keep-zwarn',
        '--columns',
        'all',
        '--with',
        'resolution',
        '--quiet',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const table = await readArrow(join(out, 'special/dark/272/special-dark-27247.parquet'));
      assert.equal(table.numRows, 1);
      const summary = astropyValues(samples);
      const defs = catalogColumns('all');
      compareCatalog(table, summary[samples[0]], summary[samples[1]], defs);
      assert.equal(compareSpectra(table, summary[samples[0]], true), 12);
      // DESI's full grids: B_RESOLUTION is 11 x 2751 values, about 3/4 of the row's spectra bytes.
      assert.equal(listRow(table, 'B_RESOLUTION', 0).byteLength / 4, 11 * 2751);
      // The sample is a later production: DESINAME and the MJDs are there, and TSNR2 has real values.
      assert.match(String(table.getChild('DESINAME')!.get(0)), /^DESI J/);
      assert.ok((table.getChild('TSNR2_LRG')!.get(0) as number) > 0);
    },
  );
});
