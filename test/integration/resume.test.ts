/**
 * Resumability: a run killed with SIGKILL in the middle of a batch and started again with the same command
 * ends with the same dataset as an uninterrupted run (every row once, no partial file), and says how many
 * tiles it found completed. And the failure-rate rule stops a run after the tiles in flight are journaled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect, latestLog, listFiles, readLocalJournal, runCli, startCli } from '../helpers/cli.js';
import { smallSpecs, synthTree } from '../../src/synth/index.js';
import { duckQuery } from '../helpers/duckdb.js';
import { mulberry32 } from '../../src/util/prng.js';

const COMMON = ['--quiet', '--threads', '2', '--batch-size', '4', '--downloads', '2'];

async function journalTiles(out: string): Promise<number> {
  try {
    return (await readLocalJournal(out)).filter((r) => r.type === 'tile').length;
  } catch {
    return 0;
  }
}

test('kill -9 at random moments, resume each time: the same dataset as a clean run', async () => {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-kill-'));
  const tree = join(work, 'tree');
  const specs = smallSpecs({ tiles: 12, seed: 7 });
  await synthTree({ out: tree, tiles: specs, wavelength: 'full' });
  const programs = [...new Set(specs.map((s) => s.program))].join(',');
  const surveys = [...new Set(specs.map((s) => s.survey))].join(',');
  const args = (out: string, logs: string) => [
    'convert',
    '--source',
    tree,
    '--out',
    out,
    '--log-dir',
    logs,
    '--survey',
    surveys,
    '--program',
    programs,
    ...COMMON,
  ];

  const clean = join(work, 'clean');
  const cleanRun = await runCli(args(clean, join(work, 'logs-clean')));
  assert.ok(cleanRun.code === 0, cleanRun.stderr);

  const out = join(work, 'killed');
  const logs = join(work, 'logs-killed');
  const rnd = mulberry32(20261124);
  let kills = 0;
  for (let attempt = 0; attempt < 4; attempt++) {
    const before = await journalTiles(out);
    const child = startCli(args(out, logs));
    const done = collect(child);
    // Kill once the run has made progress past where it started, after a random extra delay.
    const delay = 50 + Math.floor(rnd() * 400);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && child.exitCode === null && (await journalTiles(out)) <= before) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, delay));
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      kills += 1;
    }
    const r = await done;
    if (r.signal !== 'SIGKILL') break;
    // Nothing a reader would take for a tile is partial: every .parquet file in place reads whole.
    for (const f of (await listFiles(out)).filter((x) => x.endsWith('.parquet'))) {
      await duckQuery(`SELECT count(*) FROM read_parquet('${join(out, f)}')`);
    }
  }
  assert.ok(kills >= 1, 'at least one run was killed mid-way');
  const final = await runCli(args(out, logs));
  assert.equal(final.code, 0, final.stderr);
  const log = await latestLog(logs);
  const found = Number(/Found (\d+) completed tiles\./.exec(log)![1]);
  assert.ok(found > 0, 'the resumed run found completed tiles');

  const files = (await listFiles(out)).filter((f) => !f.startsWith('_desi-qad/'));
  assert.deepEqual(
    files,
    (await listFiles(clean)).filter((f) => !f.startsWith('_desi-qad/')),
    'same files, no temporaries',
  );
  for (const f of files) assert.ok((await readFile(join(out, f))).equals(await readFile(join(clean, f))), `${f}: same bytes as the clean run`);
  const rows = await duckQuery(`SELECT count(*) AS n, count(DISTINCT TARGETID) AS d FROM read_parquet('${out}/*/*/*/*.parquet')`);
  assert.equal(rows[0].n, rows[0].d, 'every row once');
  assert.equal(
    Number(rows[0].n),
    specs.reduce((s, t) => s + t.goodQso, 0),
  );
});

test('the failure-rate rule stops the run once judged, after journaling the tiles in flight (exit 3)', async () => {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-rate-'));
  const tree = join(work, 'tree');
  const specs = smallSpecs({ tiles: 30, seed: 3 }).map((s) => ({ ...s, survey: 'main', program: 'dark' }));
  const report = await synthTree({ out: tree, tiles: specs, wavelength: 'short' });
  // Break the redrock of the first 4 tiles (in discovery order): 4 of 20 is 20% > 10%.
  const sorted = [...report.tiles].sort((a, b) => a.healpix - b.healpix);
  for (const t of sorted.slice(0, 4)) await writeFile(t.redrockPath, 'garbage');
  const out = join(work, 'out');
  const r = await runCli([
    'convert',
    '--source',
    tree,
    '--out',
    out,
    '--log-dir',
    join(work, 'logs'),
    '--quiet',
    '--threads',
    '1',
    '--downloads',
    '1',
    '--batch-size',
    '8',
  ]);
  assert.equal(r.code, 3);
  assert.equal(await journalTiles(out), 20, 'stopped as soon as 20 tiles had finished');
  const log = await latestLog(join(work, 'logs'));
  assert.match(log, /Failure rate 20\.00% among the last 20 finished tiles exceeds --max-failure-rate 10\.00%/);
  assert.ok((await readLocalJournal(out)).length > 0);
});

test('--min-reduction warns on a batch under the bar', async () => {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-red-'));
  const tree = join(work, 'tree');
  const specs = smallSpecs({ tiles: 2, seed: 5 }).map((s, i) => ({ ...s, survey: 'main', program: 'dark', goodQso: Math.max(1, s.goodQso), healpix: 100 + i }));
  await synthTree({ out: tree, tiles: specs, wavelength: 'short' });
  const r = await runCli(['convert', '--source', tree, '--out', join(work, 'out'), '--log-dir', join(work, 'logs'), '--quiet', '--min-reduction', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(await latestLog(join(work, 'logs')), /\[WARN\] - Batch 1\/1: data reduction [\d.]+% is under --min-reduction 100\.00%/);
});
