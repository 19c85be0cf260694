/**
 * `npm run bench`: measures desi-qad on a dataset shaped like the seed's dry run (built once, cached in
 * bench/.cache). Prints a markdown table and writes bench/results/latest.{json,md}. Figures are measured,
 * never asserted in tests.
 *
 *   npm run bench -- [--scale 0.1] [--skip-e2e]
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDataset } from './dataset.js';
import { measureMemcpy, measureWorkerRate } from './worker-rate.js';
import { runCliMeasured, type CliRun } from './run-cli.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const scale = Number(opt('scale', '1'));
const skipE2e = args.includes('--skip-e2e');
const MB = 1e6;

async function main(): Promise<void> {
  const cache = join(REPO, 'bench', '.cache');
  const { root, report } = await benchDataset(cache, scale);
  const tree = join(root, 'tree');
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  const date = new Date().toISOString().slice(0, 10);

  process.stderr.write('bench: worker conversion rate (one thread, bytes in memory)...\n');
  const w = await measureWorkerRate(report);
  const memcpy = measureMemcpy(256 * 2 ** 20);

  const runs: CliRun[] = [];
  if (!skipE2e) {
    const work = join(cache, 'runs');
    for (const [label, extra] of [
      ['local, --fetch full, --threads 1', ['--fetch', 'full', '--threads', '1']],
      ['local, --fetch full, --threads 2', ['--fetch', 'full', '--threads', '2']],
      ['local, --fetch ranges, --threads 1', ['--fetch', 'ranges', '--threads', '1']],
      ['local, --fetch ranges, --threads 2', ['--fetch', 'ranges', '--threads', '2']],
    ] as const) {
      const out = join(work, 'out');
      await rm(work, { recursive: true, force: true });
      await mkdir(work, { recursive: true });
      process.stderr.write(`bench: ${label}...\n`);
      runs.push(await runCliMeasured(label, ['convert', '--source', tree, '--out', out, ...extra], join(work, 'logs')));
    }
    await rm(work, { recursive: true, force: true });
  }

  const result = {
    date,
    machine,
    dataset: { scale, tiles: report.tiles.length, fitsBytes: report.totalBytes, goodQso: report.tiles.reduce((s, t) => s + t.goodQso, 0) },
    worker: {
      ...w,
      fitsCoveredMBps: w.fitsBytes / MB / w.computeSec,
      decodedMBps: w.decodedBytes / MB / w.computeSec,
      parquetEncodeMBps: w.parquetRawBytes / MB / w.encodeSec,
      memcpyGBps: memcpy,
    },
    runs,
  };
  const md = [
    `Measured ${date} on ${machine}; dataset: the seed dry run's shape at scale ${scale} (${report.tiles.length} tiles, ${(report.totalBytes / 1e9).toFixed(2)} GB of FITS, ${result.dataset.goodQso} good quasars).`,
    '',
    '| worker, one thread | value |',
    '|---|---|',
    `| FITS covered per second of compute (file sizes / select+match+encode time) | ${result.worker.fitsCoveredMBps.toFixed(0)} MB/s |`,
    `| FITS bytes decoded per second (REDSHIFTS, FIBERMAP, selected rows) | ${result.worker.decodedMBps.toFixed(1)} MB/s |`,
    `| Parquet encoded per second (raw values in) | ${result.worker.parquetEncodeMBps.toFixed(1)} MB/s |`,
    `| memcpy of the same machine (Uint8Array#set, 256 MiB) | ${(memcpy * 1000).toFixed(0)} MB/s |`,
    '',
    ...(runs.length
      ? [
          '| end to end (`desi-qad convert`) | wall | MB/s of FITS | fetched | requests | peak RSS | Parquet |',
          '|---|---|---|---|---|---|---|',
          ...runs.map((r) => `| ${r.label} | ${r.wallSec.toFixed(1)} s | ${(r.fitsBytes / MB / r.wallSec).toFixed(0)} | ${(r.fetchedBytes / MB).toFixed(1)} MB | ${r.requests} | ${r.peakRssMB.toFixed(0)} MB | ${(r.parquetBytes / MB).toFixed(1)} MB, ${r.rows} rows |`),
        ]
      : []),
  ].join('\n');
  const outDir = join(REPO, 'bench', 'results');
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'latest.json'), JSON.stringify(result, null, 2) + '\n');
  await writeFile(join(outDir, 'latest.md'), md + '\n');
  process.stdout.write(md + '\n');
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
