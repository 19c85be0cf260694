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
import { latestLog, runCli } from '../helpers/cli.js';
import { readArrow } from '../helpers/parquet-bits.js';

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
