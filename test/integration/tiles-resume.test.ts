/**
 * `--layout tiles` resumes after SIGKILL: a run killed mid-batch and started again with the same command ends
 * with the same dataset as an uninterrupted run: the same files with the same bytes (nothing lost, nothing
 * doubled, no temporary left), every row once, and the resumed run says how many units it found completed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect, latestLog, listFiles, readLocalJournal, runCli, startCli } from '../helpers/cli.js';
import { synthTree, tileLayoutSpecs, SYNTH_LASTNIGHT, SYNTH_TILEID } from '../../src/synth/index.js';
import { duckQuery } from '../helpers/duckdb.js';
import { mulberry32 } from '../../src/util/prng.js';

async function journalTiles(out: string): Promise<number> {
  try {
    return (await readLocalJournal(out)).filter((r) => r.type === 'tile').length;
  } catch {
    return 0;
  }
}

test('a tile-layout run killed with SIGKILL and resumed: the same dataset as a clean run', async () => {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-tiles-kill-'));
  try {
    const tree = join(work, 'cumulative');
    const specs = tileLayoutSpecs({ tiles: 12, seed: 7, superseded: true });
    await synthTree({ out: tree, tiles: specs, wavelength: 'full' });
    const latest = specs.filter((s) => !(s.cumulative!.tileid === SYNTH_TILEID && s.cumulative!.lastnight === SYNTH_LASTNIGHT - 1));
    const args = (out: string, logs: string) => [
      'convert',
      '--layout',
      'tiles',
      '--source',
      tree,
      '--out',
      out,
      '--log-dir',
      logs,
      '--quiet',
      '--threads',
      '2',
      '--batch-size',
      '4',
      '--downloads',
      '2',
    ];

    const clean = join(work, 'clean');
    const cleanRun = await runCli(args(clean, join(work, 'logs-clean')));
    assert.equal(cleanRun.code, 0, cleanRun.stderr);

    const out = join(work, 'killed');
    const logs = join(work, 'logs-killed');
    const rnd = mulberry32(20261203);
    let kills = 0;
    for (let attempt = 0; attempt < 4; attempt++) {
      const before = await journalTiles(out);
      const child = startCli(args(out, logs));
      const done = collect(child);
      // Kill once the run has journaled a unit past where it started, after a random extra delay.
      const delay = 30 + Math.floor(rnd() * 300);
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && child.exitCode === null && (await journalTiles(out)) <= before) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, delay));
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        kills += 1;
      }
      const r = await done;
      if (r.signal !== 'SIGKILL') break;
      // Nothing a reader would take for a unit is partial: every .parquet file in place reads whole.
      for (const f of (await listFiles(out)).filter((x) => x.endsWith('.parquet'))) await duckQuery(`SELECT count(*) FROM read_parquet('${join(out, f)}')`);
    }
    assert.ok(kills >= 1, 'at least one run was killed mid-way');
    const final = await runCli(args(out, logs));
    assert.equal(final.code, 0, final.stderr);
    const found = Number(/Found (\d+) completed tiles\./.exec(await latestLog(logs))![1]);
    assert.ok(found > 0, 'the resumed run found completed units');

    const files = (await listFiles(out)).filter((f) => !f.startsWith('_desi-qad/'));
    assert.deepEqual(
      files,
      (await listFiles(clean)).filter((f) => !f.startsWith('_desi-qad/')),
      'same files, no temporaries',
    );
    assert.ok(files.filter((f) => f.startsWith('cumulative/')).length >= 4, files.join('\n'));
    for (const f of files) assert.ok((await readFile(join(out, f))).equals(await readFile(join(clean, f))), `${f}: same bytes as the clean run`);
    const rows = await duckQuery(`SELECT count(*) AS n, count(DISTINCT TARGETID) AS d FROM read_parquet('${out}/cumulative/*/*.parquet')`);
    assert.equal(rows[0].n, rows[0].d, 'every row once');
    assert.equal(
      Number(rows[0].n),
      latest.reduce((s, t) => s + t.goodQso, 0),
    );
    // One done record per unit in the journal's latest state: none lost, none counted twice.
    const records = (await readLocalJournal(out)).flatMap((r) => (r.type === 'tile' ? [r] : []));
    const done = records.filter((r) => r.status === 'ok' || r.status === 'empty').map((r) => r.tile);
    assert.equal(new Set(done).size, latest.length, 'every unit done');
    assert.equal(done.length, latest.length, 'no unit done twice (resume skipped what was journaled)');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
