/**
 * `--layout tiles`: a generated tiles/cumulative tree (three petals per tile, one tile with a superseded
 * older LASTNIGHT folder holding a petal the latest lacks) converts, keyed by TILEID and PETAL, and a second
 * run resumes from the journal without converting anything again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthTree, tileLayoutSpecs, SYNTH_LASTNIGHT, SYNTH_TILEID } from '../../src/synth/index.js';
import { latestLog, listFiles, runCli } from '../helpers/cli.js';
import { readArrow, scalarBits } from '../helpers/parquet-bits.js';

test('a tile-layout tree converts by TILEID and PETAL from the latest LASTNIGHT, and resumes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'desi-qad-tiles-'));
  try {
    const src = join(dir, 'cumulative');
    const specs = tileLayoutSpecs({ tiles: 6, seed: 3, superseded: true });
    await synthTree({ out: src, tiles: specs, wavelength: 'short' });
    const out = join(dir, 'out');
    const logs = join(dir, 'logs');
    const args = ['convert', '--layout', 'tiles', '--source', src, '--out', out, '--log-dir', logs, '--threads', '1', '--quiet'];
    const first = await runCli(args);
    assert.equal(first.code, 0, first.stderr);
    const log = await latestLog(logs);
    assert.match(log, /petal 9 is in LASTNIGHT 20210516 but not in the latest, 20210517/);

    // Every unit of the latest nights, and only those: the superseded night's files are never read.
    const latest = specs.filter((s) => !(s.cumulative!.tileid === SYNTH_TILEID && s.cumulative!.lastnight === SYNTH_LASTNIGHT - 1));
    let okUnits = 0;
    for (const s of latest) {
      const c = s.cumulative!;
      const path = join(out, 'cumulative', String(c.tileid), `cumulative-${c.tileid}-${c.petal}.parquet`);
      if (s.goodQso === 0) {
        await assert.rejects(stat(path), `${path}: no selected row, no file`);
        continue;
      }
      okUnits += 1;
      const table = await readArrow(path);
      assert.equal(table.numRows, s.goodQso, `${path}: rows`);
      for (let i = 0; i < table.numRows; i++) {
        assert.equal(table.getChild('TILEID')!.get(i), c.tileid);
        assert.equal(table.getChild('PETAL')!.get(i), c.petal);
        assert.equal(table.getChild('LASTNIGHT')!.get(i), c.lastnight);
        assert.equal(table.getChild('HEALPIX')!.get(i), null, 'HEALPIX is null in the tile layout');
        assert.equal(table.getChild('SURVEY')!.get(i), s.survey, 'SURVEY comes from the coadd header');
        assert.equal(table.getChild('PROGRAM')!.get(i), s.program);
      }
    }
    assert.ok(okUnits >= 2, 'the set has units with rows');
    await assert.rejects(stat(join(out, 'cumulative', String(SYNTH_TILEID), `cumulative-${SYNTH_TILEID}-9.parquet`)), 'petal 9 only in an old night');
    const manifest = JSON.parse(await readFile(join(out, '_desi-qad', 'dataset.json'), 'utf8')) as { layout?: string };
    assert.equal(manifest.layout, 'tiles');

    const second = await runCli(args);
    assert.equal(second.code, 0, second.stderr);
    const log2 = await latestLog(logs);
    assert.match(log2, new RegExp(`Found ${latest.length} completed tiles\\.`));

    // The same --out is a tiles dataset: a healpix run on it is refused (exit 2), naming the layout.
    const healpix = await runCli(['convert', '--source', src, '--out', out, '--log-dir', logs, '--quiet']);
    assert.equal(healpix.code, 2, healpix.stderr);
    assert.match(healpix.stderr + (await latestLog(logs)), /layout: "tiles" in the dataset, "healpix" in this run/);

    // --survey is refused with the tile layout.
    const bad = await runCli([...args, '--survey', 'main']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--survey cannot be given with --layout tiles/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('--select desi-qso-dr1 --layout tiles reads the tile-style afterburners and agrees with the same tiles in the healpix layout', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'desi-qad-tiles-dr1-'));
  try {
    // The same tiles (same seeds, so the same targets and afterburner values), written in both layouts.
    const specs = tileLayoutSpecs({ tiles: 6, seed: 9 }).map((s) => ({ ...s, qsoCases: true }));
    const tiles = join(dir, 'cumulative');
    const healpix = join(dir, 'healpix');
    await synthTree({ out: tiles, tiles: specs, wavelength: 'short' });
    await synthTree({ out: healpix, tiles: specs.map(({ cumulative: _, ...s }) => s), wavelength: 'short' });
    const common = ['--select', 'desi-qso-dr1', '--threads', '1', '--quiet'];
    const t = await runCli(['convert', '--layout', 'tiles', '--source', tiles, '--out', join(dir, 'out-tiles'), '--log-dir', join(dir, 'logs-t'), ...common]);
    assert.equal(t.code, 0, t.stderr);
    const surveys = [...new Set(specs.map((s) => s.survey))].join(',');
    const programs = [...new Set(specs.map((s) => s.program))].join(',');
    const h = await runCli([
      'convert',
      '--source',
      healpix,
      '--out',
      join(dir, 'out-healpix'),
      '--log-dir',
      join(dir, 'logs-h'),
      '--survey',
      surveys,
      '--program',
      programs,
      ...common,
    ]);
    assert.equal(h.code, 0, h.stderr);
    const rowsOf = async (root: string) => {
      const out = new Map<string, string>();
      for (const f of (await listFiles(root)).filter((x) => x.endsWith('.parquet') && !x.startsWith('_'))) {
        const table = await readArrow(join(root, f));
        for (let i = 0; i < table.numRows; i++)
          out.set(
            String(table.getChild('TARGETID')!.get(i)),
            JSON.stringify([table.getChild('QSO_MASKBITS')!.get(i), scalarBits(table, 'Z', i), scalarBits(table, 'ZERR', i), scalarBits(table, 'C_LYA', i)]),
          );
      }
      return out;
    };
    const fromTiles = await rowsOf(join(dir, 'out-tiles'));
    assert.ok(fromTiles.size > 0, 'the DR1 rules kept rows');
    assert.deepEqual([...fromTiles].sort(), [...(await rowsOf(join(dir, 'out-healpix')))].sort(), 'same rows, same QSO_MASKBITS, Z, ZERR, C_LYA');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
