/**
 * `npm run bench`: measures desi-qad on a dataset shaped like the seed's dry run (built once, cached in
 * bench/.cache). Prints a markdown table and writes bench/results/latest.{json,md}. Figures are measured,
 * never asserted in tests.
 *
 *   npm run bench -- [--scale 0.1] [--bandwidth 35] [--rtt 20] [--gaps 16,64,256] [--skip-local] [--skip-s3] [--skip-memory]
 *                    [--skip-scale] [--shards 1,2,4] [--dr1-s3] [--skip-costs] [--cost-tiles 1000,4000,12207,40000]
 *                    [--keep-costs] [--only costs]
 *
 * Sections: the worker's conversion rate on one thread (next to a memcpy); `desi-qad convert` on the local
 * disk with --threads 1 and 2; the dataset served by s3rver behind a link shaper (default 35 MB/s, 20 ms: the
 * seed's link) and unshaped, with --fetch full and --fetch ranges (at several --gap-bytes), side by side with
 * their ratio; peak memory with a 2 GB coadd in the set; and scale-out (bench/scale-out.ts): 1, 2, 4 shards
 * each through its own shaped link, and `plan --shards 32` on a DR1-sized listing; and costs at scale
 * (bench/costs.ts): discovery, journal, resume and status at 1,000 to 40,000 tiny tiles, local and on s3rver.
 * `--only costs` runs that section alone (no dataset is built).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDataset } from './dataset.js';
import { measureMemcpy, measureWorkerRate } from './worker-rate.js';
import { runCliMeasured, type CliRun } from './run-cli.js';
import { measureLinks, type LinkRuns } from './s3-link.js';
import { measureMemory, type MemoryRun } from './memory.js';
import { measureScaleOut, scaleOutMarkdown, type ScaleOut } from './scale-out.js';
import { costsMarkdown, DEFAULT_COST_TILES, measureCosts, type Costs } from './costs.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const scale = Number(opt('scale', '1'));
const skipLocal = args.includes('--skip-local');
const skipS3 = args.includes('--skip-s3');
const skipMemory = args.includes('--skip-memory');
const skipScale = args.includes('--skip-scale');
const dr1S3 = args.includes('--dr1-s3');
const skipCosts = args.includes('--skip-costs');
const keepCosts = args.includes('--keep-costs');
const only = opt('only', '');
if (only !== '' && only !== 'costs') throw new Error(`bench: --only knows the section "costs", got ${only}`);
const costTiles = opt('cost-tiles', DEFAULT_COST_TILES.join(',')).split(',').map(Number);
if (costTiles.some((n) => !Number.isInteger(n) || n < 1))
  throw new Error(`bench: --cost-tiles wants a comma list of positive integers, got ${opt('cost-tiles', '')}`);
const shardCounts = opt('shards', '1,2,4').split(',').map(Number);
if (shardCounts.some((n) => !Number.isInteger(n) || n < 1))
  throw new Error(`bench: --shards wants a comma list of positive integers, got ${opt('shards', '')}`);
const bandwidth = Number(opt('bandwidth', '35')) * 1e6;
const rttMs = Number(opt('rtt', '20'));
const gaps = opt('gaps', '16,64,256')
  .split(',')
  .map((k) => Number(k) * 1024);
const MB = 1e6;

async function main(): Promise<void> {
  const cache = join(REPO, 'bench', '.cache');
  if (only === 'costs') return costsOnly(cache);
  const { root, report } = await benchDataset(cache, scale);
  const tree = join(root, 'tree');
  const machine = machineText();
  const date = new Date().toISOString().slice(0, 10);

  process.stderr.write('bench: worker conversion rate (one thread, bytes in memory)...\n');
  const w = await measureWorkerRate(report);
  const memcpy = measureMemcpy(256 * 2 ** 20);

  const runs: CliRun[] = [];
  if (!skipLocal) {
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

  let links: LinkRuns | undefined;
  if (!skipS3) links = await measureLinks(cache, tree, { bandwidth, rttMs }, 2, gaps);
  let memory: { coaddBytes: number; runs: MemoryRun[] } | undefined;
  if (!skipMemory) memory = await measureMemory(cache, 2);
  let scaleOut: ScaleOut | undefined;
  if (!skipScale) scaleOut = await measureScaleOut(cache, tree, { bandwidth, rttMs, shardCounts, threads: 2, dr1S3 });
  let costs: Costs | undefined;
  if (!skipCosts) costs = await measureCosts(cache, costTiles, keepCosts);

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
    links,
    memory,
    scaleOut,
    costs,
  };
  const row = (r: CliRun) =>
    `| ${r.label} | ${r.wallSec.toFixed(1)} s | ${(r.fitsBytes / MB / r.wallSec).toFixed(0)} | ${(r.fetchedBytes / MB).toFixed(1)} MB (${((100 * r.fetchedBytes) / r.fitsBytes).toFixed(2)}%) | ${r.requests} | ${r.peakRssMB.toFixed(0)} MB | ${(r.parquetBytes / MB).toFixed(1)} MB, ${r.rows} rows |`;
  const header = [
    '| run (`desi-qad convert`, dataset above) | wall | MB/s of FITS | fetched (% of FITS) | requests | peak RSS | Parquet |',
    '|---|---|---|---|---|---|---|',
  ];
  const linkLines: string[] = [];
  if (links) {
    linkLines.push(...header, ...links.runs.map(row), '');
    for (const [name, same] of Object.entries(links.identical)) {
      const mine = links.runs.filter((r) => r.label.startsWith(`S3 ${name},`));
      const full = mine.find((r) => r.label.endsWith('--fetch full'));
      if (full === undefined) throw new Error(`bench: no --fetch full run for S3 ${name}`);
      const best = mine.filter((r) => r !== full).sort((a, b) => a.wallSec - b.wallSec)[0];
      linkLines.push(
        `- ${name}: \`--fetch full\` took ${full.wallSec.toFixed(1)} s, the fastest \`--fetch ranges\` (${best.label.replace(/^.*--fetch /, '')}) ${best.wallSec.toFixed(1)} s: **${(full.wallSec / best.wallSec).toFixed(1)}× sooner**, fetching ${((100 * best.fetchedBytes) / best.fitsBytes).toFixed(2)}% of the FITS bytes; Parquet output of every ranges run byte-identical to full: **${same ? 'yes' : 'NO'}**.`,
      );
    }
    linkLines.push('');
  }
  const memLines = memory
    ? [
        `Peak memory with a ${(memory.coaddBytes / 1e9).toFixed(2)} GB coadd in the set (the seed shape at 5% plus that tile, from s3rver on loopback):`,
        '',
        '| run | --memory | peak RSS | wall |',
        '|---|---|---|---|',
        ...memory.runs.map(
          (r) => `| ${r.label} | ${(r.budgetBytes / 1e9).toFixed(1)} GB | ${(r.peakRssMB / 1000).toFixed(2)} GB | ${r.wallSec.toFixed(1)} s |`,
        ),
        '',
      ]
    : [];
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
    ...(runs.length ? [...header, ...runs.map(row), ''] : []),
    ...linkLines,
    ...memLines,
    ...(scaleOut ? scaleOutMarkdown(scaleOut) : []),
    ...(costs ? costsMarkdown(costs) : []),
  ].join('\n');
  const outDir = join(REPO, 'bench', 'results');
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'latest.json'), JSON.stringify(result, null, 2) + '\n');
  await writeFile(join(outDir, 'latest.md'), md + '\n');
  process.stdout.write(md + '\n');
}

/** `--only costs`: the costs-at-scale section alone, written to bench/results/costs.{json,md}. */
async function costsOnly(cache: string): Promise<void> {
  const date = new Date().toISOString().slice(0, 10);
  const costs = await measureCosts(cache, costTiles, keepCosts);
  const md = [`Measured ${date} on ${machineText()}.`, '', ...costsMarkdown(costs)].join('\n');
  const outDir = join(REPO, 'bench', 'results');
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'costs.json'), JSON.stringify({ date, machine: machineText(), costs }, null, 2) + '\n');
  await writeFile(join(outDir, 'costs.md'), md + '\n');
  process.stdout.write(md + '\n');
}

function machineText(): string {
  return `${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
