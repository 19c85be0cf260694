/**
 * The streamed `--fetch full` (src/pipeline/fetch-full.ts) end to end on a generated tree, with afterburner
 * columns (--with qso_qn,qso_mgii,emline) and --with resolution, in small chunks (DESI_QAD_STREAM_CHUNK) so
 * every file crosses many of them: its Parquet files are byte-identical to --fetch ranges', no read went
 * backward, every byte of every coadd it opened was read, and the memory budget held the kept bytes plus the
 * chunk buffers, never whole files (the whole-file way held twice the files of a tile, more than the peak here).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthTree, type SynthTileSpec } from '../../src/synth/index.js';
import { latestLog, listFiles, runCli } from '../helpers/cli.js';

const TILES: SynthTileSpec[] = [
  { survey: 'main', program: 'dark', healpix: 23040, targets: 120, goodQso: 20, seed: 31 },
  { survey: 'main', program: 'dark', healpix: 23041, targets: 80, goodQso: 9, seed: 32 },
  { survey: 'main', program: 'dark', healpix: 23042, targets: 60, goodQso: 0, seed: 33 },
];
const CHUNK = 65536;
let work = '';
let fileSizes: { tile: string; coadd: number; redrock: number }[] = [];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'desi-qad-fullstream-'));
  const report = await synthTree({ out: join(work, 'tree'), tiles: TILES, wavelength: 'full' });
  fileSizes = report.tiles.map((t) => ({ tile: String(t.healpix), coadd: t.coaddBytes, redrock: t.redrockBytes }));
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function convert(name: string, extra: string[]) {
  const out = join(work, name);
  const logs = join(work, `logs-${name}`);
  const args = [
    'convert',
    '--source',
    join(work, 'tree'),
    '--out',
    out,
    '--log-dir',
    logs,
    '--survey',
    'main',
    '--program',
    'dark',
    '--quiet',
    '--threads',
    '2',
  ];
  const r = await runCli([...args, '--with', 'qso_qn,qso_mgii,emline', '--with', 'resolution', ...extra], undefined, {
    ...process.env,
    DESI_QAD_STREAM_CHUNK: String(CHUNK),
  });
  assert.equal(r.code, 0, r.stderr);
  return { out, log: await latestLog(logs) };
}

test('streamed --fetch full: byte-identical to --fetch ranges with afterburners and resolution; no backward read; the budget holds kept bytes', async () => {
  const ranges = await convert('ranges', ['--fetch', 'ranges']);
  const full = await convert('full', ['--fetch', 'full']);
  const files = (await listFiles(ranges.out)).filter((f) => f.endsWith('.parquet'));
  assert.ok(files.length >= 2, `parquet files: ${files.join(', ')}`);
  assert.deepEqual(
    (await listFiles(full.out)).filter((f) => f.endsWith('.parquet')),
    files,
  );
  for (const f of files) assert.ok((await readFile(join(ranges.out, f))).equals(await readFile(join(full.out, f))), `${f} identical`);

  const m = /Streamed --fetch full: ([\d.,]+) MB read front to back, ([\d.,]+) MB of it kept; (\d+) header peeks, (\d+) backward reads/.exec(full.log);
  assert.ok(m, 'the run logs what the stream read');
  const num = (s: string) => Number(s.replace(/,/g, ''));
  assert.equal(Number(m[4]), 0, 'no read went backward');
  assert.ok(num(m[2]) < num(m[1]), 'only part of what was read was kept');
  // Every byte of each file the tile opened: the redrocks of all tiles, the coadds of the tiles with rows.
  const withRows = fileSizes.filter((t) => t.tile !== '23042');
  const opened = fileSizes.reduce((s, t) => s + t.redrock, 0) + withRows.reduce((s, t) => s + t.coadd, 0);
  assert.ok(Math.abs(num(m[1]) - opened / 1e6) < 0.02, `streamed ${m[1]} MB, the opened files are ${(opened / 1e6).toFixed(2)} MB`);
  assert.doesNotMatch(ranges.log, /Streamed --fetch full/, 'ranges does not stream');

  // The budget's peak: chunk buffers and kept bytes; the whole-file way held 2 x (coadd + redrock + afterburners) per tile.
  const peak = num(/Memory: at most ([\d.,]+) MB of tile data in flight/.exec(full.log)![1]) * 1e6;
  const smallestWhole = Math.min(...withRows.map((t) => 2 * (t.coadd + t.redrock)));
  assert.ok(peak < smallestWhole / 2, `budget peak ${peak} B, a whole tile ${smallestWhole} B`);
  assert.ok(peak >= CHUNK, `the chunk buffer is in the budget (peak ${peak} B)`);
});
