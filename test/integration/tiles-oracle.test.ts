/**
 * `--layout tiles` against astropy (scripts/check-fits-astropy.py --values): every output value of a
 * converted tile-layout tree is what astropy reads from the unit's FITS files. Catalog columns (`--columns
 * all`) are found by TARGETID in FIBERMAP, REDSHIFTS and TSNR2 (integers equal, floats bit-identical, strings
 * equal, a column the file lacks null); each spectrum (B/R/Z FLUX, IVAR, MASK) hashes as astropy's row of the
 * coadd image; TILEID, PETAL and LASTNIGHT are the coadd's PRIMARY TILEID, PETAL and SPGRPVAL (the night of
 * its folder). Skips without astropy, unless DESI_QAD_REQUIRE_ORACLES=1.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Table } from 'apache-arrow';
import { catalogColumns, type CatalogColumnDef } from '../../src/desi/schema.js';
import { synthTree, tileLayoutSpecs, SYNTH_LASTNIGHT, SYNTH_TILEID } from '../../src/synth/index.js';
import { REPO, runCli } from '../helpers/cli.js';
import { hexOf, listRow, readArrow, scalarBits, sha256Of } from '../helpers/parquet-bits.js';

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
  dtype?: string;
  values?: string[];
}
interface Summary {
  ok: boolean;
  primary: Record<string, string | number | boolean>;
  hdus: { name: string; columns?: Column[]; row_sha256?: string[] }[];
}

function astropyValues(paths: string[]): Record<string, Summary> {
  const run = spawnSync(PYTHON, [CHECK_SCRIPT, '--values', ...paths], { encoding: 'utf8', maxBuffer: 256 << 20 });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as Record<string, Summary>;
}

function tableOf(s: Summary, hdu: string): { cols: Map<string, Column>; rowOf: Map<string, number> } {
  const h = s.hdus.find((x) => x.name === hdu);
  assert.ok(h?.columns, `no ${hdu} table`);
  const cols = new Map(h.columns.map((c) => [c.name, c]));
  return { cols, rowOf: new Map(cols.get('TARGETID')!.values!.map((t, r) => [t, r])) };
}

function outputValue(table: Table, def: CatalogColumnDef, i: number): string | null {
  if (def.type === 'float32' || def.type === 'float64') return scalarBits(table, def.name, i);
  const v = table.getChild(def.name)!.get(i) as string | number | bigint | null;
  return v === null ? null : String(v);
}

function expectedValue(col: Column, r: number, def: CatalogColumnDef): string {
  const raw = col.values![r];
  if (def.type === 'float64' && col.dtype === 'float32') return hexOf(new Float64Array([Buffer.from(raw, 'hex').readFloatLE(0)]));
  return raw;
}

describe('tile-layout output against astropy', { skip }, () => {
  let work = '';
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'desi-qad-tiles-oracle-'));
  });
  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('every catalog value, every spectrum and TILEID/PETAL/LASTNIGHT are what astropy reads', async () => {
    const src = join(work, 'cumulative');
    const specs = tileLayoutSpecs({ tiles: 6, seed: 11, superseded: true });
    const report = await synthTree({ out: src, tiles: specs, wavelength: 'short' });
    const out = join(work, 'out');
    const r = await runCli([
      'convert',
      '--layout',
      'tiles',
      '--source',
      src,
      '--out',
      out,
      '--log-dir',
      join(work, 'logs'),
      '--columns',
      'all',
      '--quiet',
      '--threads',
      '1',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const latest = report.tiles.filter((t) => !(t.cumulative!.tileid === SYNTH_TILEID && t.cumulative!.lastnight === SYNTH_LASTNIGHT - 1));
    const summary = astropyValues(latest.flatMap((t) => [t.coaddPath, t.redrockPath]));
    const defs = catalogColumns('all');
    let files = 0;
    let compared = 0;
    for (const t of latest) {
      const c = t.cumulative!;
      if (t.goodQso === 0) continue;
      files += 1;
      const rel = `cumulative/${c.tileid}/cumulative-${c.tileid}-${c.petal}.parquet`;
      const table = await readArrow(join(out, rel));
      assert.equal(table.numRows, t.goodQso, rel);
      const coadd = summary[t.coaddPath];
      const redrock = summary[t.redrockPath];
      const sources = { fibermap: tableOf(coadd, 'FIBERMAP'), redshifts: tableOf(redrock, 'REDSHIFTS'), tsnr2: tableOf(redrock, 'TSNR2') };
      const ids = table.getChild('TARGETID')!;
      for (let i = 0; i < table.numRows; i++) {
        // The unit's keys, from astropy's reading of the coadd's PRIMARY header.
        assert.equal(table.getChild('TILEID')!.get(i), coadd.primary.TILEID, `${rel}: TILEID`);
        assert.equal(table.getChild('PETAL')!.get(i), coadd.primary.PETAL, `${rel}: PETAL`);
        assert.equal(table.getChild('LASTNIGHT')!.get(i), coadd.primary.SPGRPVAL, `${rel}: LASTNIGHT`);
        assert.equal(coadd.primary.SPGRP, 'cumulative');
        assert.equal(table.getChild('SURVEY')!.get(i), coadd.primary.SURVEY);
        assert.equal(table.getChild('PROGRAM')!.get(i), coadd.primary.PROGRAM);
        // Each spectrum: the coadd image's row of this TARGETID (FIBERMAP order), hashed over astropy's values.
        const row = sources.fibermap.rowOf.get(String(ids.get(i)));
        assert.ok(row !== undefined, `${rel}: TARGETID ${ids.get(i)} in FIBERMAP`);
        for (const arm of ['B', 'R', 'Z'])
          for (const kind of ['FLUX', 'IVAR', 'MASK']) {
            const name = `${arm}_${kind}`;
            const image = coadd.hdus.find((h) => h.name === name);
            assert.ok(image?.row_sha256, `${t.coaddPath}: ${name} hashed by astropy`);
            assert.equal(sha256Of(listRow(table, name, i)), image.row_sha256[row], `${rel}: ${name} of TARGETID ${ids.get(i)}, bit for bit`);
            compared += 1;
          }
      }
      for (const def of defs) {
        if (def.from === 'tile' || def.list) continue;
        const src = sources[def.from];
        const col = src.cols.get(def.name);
        for (let i = 0; i < table.numRows; i++) {
          const got = outputValue(table, def, i);
          if (!col) {
            assert.equal(got, null, `${rel}: ${def.name}[${i}]: the file has no such column, so it must be null`);
            continue;
          }
          const r = src.rowOf.get(String(ids.get(i)));
          assert.ok(r !== undefined, `${rel}: TARGETID ${ids.get(i)} is not in the ${def.from} table`);
          assert.equal(got, expectedValue(col, r, def), `${rel}: ${def.name} of TARGETID ${ids.get(i)}`);
          compared += 1;
        }
      }
      // HEALPIX is null in a tile dataset: a petal spans many pixels.
      assert.equal(table.getChild('HEALPIX')!.nullCount, table.numRows, rel);
    }
    assert.ok(files >= 2, 'units with rows were compared');
    assert.ok(compared > files * defs.length, `${compared} values compared`);
  });
});
