/**
 * `npm run bench`: measures desi-qad on a dataset shaped like the seed's dry run (built once, cached in
 * bench/.cache). Prints a markdown table and writes bench/results/latest.{json,md}. Figures are measured,
 * never asserted in tests.
 *
 *   npm run bench -- [--scale 0.1] [--bandwidth 35] [--rtt 20] [--gaps 16,64,256] [--skip-local] [--skip-s3] [--skip-memory]
 *                    [--skip-scale] [--shards 1,2,4] [--dr1-s3] [--skip-costs] [--cost-tiles 1000,4000,12207,40000]
 *                    [--keep-costs] [--cost-dir DIR] [--only worker,local,s3,memory,scale,costs,gets,selections,link]
 *
 * Sections: the worker's conversion rate on one thread, for the default cut and for `--spectype any --keep-zwarn`,
 * with where the encode's time goes (next to a memcpy); `desi-qad convert` on the local
 * disk with --threads 1 and 2; the dataset served by s3rver behind a link shaper (default 35 MB/s, 20 ms: the
 * seed's link) and unshaped, with --fetch full and --fetch ranges (at several --gap-bytes), side by side with
 * their ratio; peak memory with a 2 GB coadd in the set; and scale-out (bench/scale-out.ts): 1, 2, 4 shards
 * each through its own shaped link, and `plan --shards 32` on a DR1-sized listing; and costs at scale
 * (bench/costs.ts): discovery, journal, resume and status at 1,000 to 40,000 tiny tiles, local and on s3rver.
 * `--only costs` runs that section alone (no dataset is built). Selections (bench/selections.ts): bytes
 * fetched, requests and rows for `--select redrock-qso` next to `desi-qso-dr1` and `desi-qso`, also written
 * to bench/results/selections.{json,md}; `--only selections` runs it alone (latest.* are then left as they are).
 * The link section (bench/link-section.ts: default settings through the shaper against the lean bench server
 * and s3rver, with server CPU) and client CPU per ranged GET (bench/ranged-gets.ts) run in the same run, and
 * the printout opens with issue 13's figures side by side, each beside its target (bench/limits-summary.ts):
 * `npm run bench -- --only worker,local,link,gets,costs` is the shortest run that prints all of them.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDataset } from './dataset.js';
import { compareKept, measureMemcpy, measureWorkerRate, type EncodeStages, type WorkerRate, type WriterName } from './worker-rate.js';
import { DEFAULT_SELECTION, parseSelection } from '../src/desi/selection.js';
import { runCliMeasured, type CliRun } from './run-cli.js';
import { measureLinks, type LinkRuns } from './s3-link.js';
import { linkSectionTable, measureLinkSection, type LinkMode, type LinkSectionRun, type LinkServer } from './link-section.js';
import { measureMemory, type MemoryRun } from './memory.js';
import { measureScaleOut, scaleOutMarkdown, type ScaleOut } from './scale-out.js';
import { costsMarkdown, DEFAULT_COST_TILES, measureCosts, type Costs } from './costs.js';
import { measureRangedGets, rangedGetsMarkdown, type RangedGets } from './ranged-gets.js';
import { measureSelections, selectionsMarkdown, type Selections } from './selections.js';
import { limitsSummary } from './limits-summary.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A result as committed JSON: folders of this machine (the checkout, the temporary folder, a --cost-dir) become
 * "<repo>/…", "<tmp>/…" and "<cost-dir>/…", so no machine's paths land in bench/results.
 */
function resultJson(value: unknown): string {
  const roots: [string, string][] = [
    [REPO.replace(/\/+$/, ''), '<repo>'],
    ...(costDir ? [[resolve(costDir), '<cost-dir>'] as [string, string]] : []),
    [tmpdir(), '<tmp>'],
  ];
  const portable = (v: string) => {
    for (const [root, name] of roots) if (v === root || v.startsWith(root + '/')) return name + v.slice(root.length);
    return v;
  };
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'string' ? portable(v) : v), 2) + '\n';
}
const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const scale = Number(opt('scale', '1'));
// --only: the sections to run (comma list); the --skip-* flags take sections out of them.
const SECTIONS = ['worker', 'local', 's3', 'memory', 'scale', 'costs', 'gets', 'selections', 'link'];
const only = args.includes('--only') ? opt('only', '').split(',') : SECTIONS;
if (only.some((s) => !SECTIONS.includes(s))) throw new Error(`bench: --only wants a comma list of ${SECTIONS.join(', ')}, got ${opt('only', '')}`);
const skipWorker = !only.includes('worker');
const skipLocal = args.includes('--skip-local') || !only.includes('local');
const skipS3 = args.includes('--skip-s3') || !only.includes('s3');
const skipMemory = args.includes('--skip-memory') || !only.includes('memory');
const skipScale = args.includes('--skip-scale') || !only.includes('scale');
const dr1S3 = args.includes('--dr1-s3');
const skipCosts = args.includes('--skip-costs') || !only.includes('costs');
const keepCosts = args.includes('--keep-costs');
// --cost-dir: where the costs fixtures are built (default: bench/.cache/costs).
const costDir = args.includes('--cost-dir') ? opt('cost-dir', '') : undefined;
const skipSelections = !only.includes('selections');
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
/** The cut that keeps every spectrum: the encode, not the reads, bounds it. */
const EVERY_ROW = ['--spectype', 'any', '--keep-zwarn'] as const;

/**
 * The local section's verdicts: for each cut and --fetch mode run with 1 and 2 threads, the speed-up of the
 * second thread (issue 13 asks >= 1.8x for --fetch full) and the peak RSS of --fetch full (< 1.5 GB).
 */
function localVerdicts(runs: readonly CliRun[]): string[] {
  const lines: string[] = [];
  const local = runs.filter((r) => r.label.startsWith('local, '));
  for (const one of local.filter((r) => r.label.includes('--threads 1'))) {
    const two = local.find((r) => r.label === one.label.replace('--threads 1', '--threads 2'));
    if (!two) continue;
    const what = one.label.replace('local, ', '').replace(', --threads 1', '');
    const ratio = one.wallSec / two.wallSec;
    const full = what.includes('--fetch full');
    const rss = Math.max(one.peakRssMB, two.peakRssMB);
    lines.push(
      `- ${what}: 2 threads ${two.wallSec.toFixed(1)} s against 1 thread ${one.wallSec.toFixed(1)} s: **${ratio.toFixed(2)}×**` +
        (full ? ` (${ratio >= 1.8 ? 'at least' : 'NOT at least'} 1.8×); peak RSS ${rss.toFixed(0)} MB (${rss < 1500 ? 'under' : 'NOT under'} 1.5 GB)` : '') +
        `; CPU ${(one.cpuSec ?? 0).toFixed(1)} s and ${(two.cpuSec ?? 0).toFixed(1)} s.`,
    );
  }
  return lines.length > 0 ? [...lines, ''] : [];
}

async function main(): Promise<void> {
  const cache = join(REPO, 'bench', '.cache');
  if (only.length === 1 && only[0] === 'costs') return costsOnly(cache);
  if (only.length === 1 && only[0] === 'gets') return getsOnly();
  const { root, report } = await benchDataset(cache, scale);
  const tree = join(root, 'tree');
  const machine = machineText();
  const date = new Date().toISOString().slice(0, 10);
  if (only.length === 1 && only[0] === 'link') return linkOnly(cache, tree);
  let selections: Selections | undefined;
  if (!skipSelections) selections = await selectionsSection(cache, tree, report);
  if (only.length === 1 && selections) return;

  const workers: { label: string; rate: WorkerRate; check?: string }[] = [];
  if (!skipWorker) {
    const keep = join(cache, 'worker-kept');
    for (const [label, selection] of [
      ['default cut (QSO, ZWARN == 0)', DEFAULT_SELECTION],
      ['--spectype any --keep-zwarn', parseSelection({ spectype: 'any', keepZwarn: true })],
    ] as const) {
      await rm(keep, { recursive: true, force: true });
      const rates: Partial<Record<WriterName, WorkerRate>> = {};
      for (const writer of ['own', 'wasm'] as const) {
        process.stderr.write(`bench: worker conversion rate, ${label}, ${writer} Parquet writer (one thread, bytes in memory)...\n`);
        rates[writer] = await measureWorkerRate(report, selection, writer, join(keep, writer));
      }
      const own = rates.own!;
      const wasm = rates.wasm!;
      const cmp = await compareKept(join(keep, 'own'), join(keep, 'wasm'), own.tiles);
      const check =
        `${cmp.files} files, rows own EXCEPT ALL wasm: ${cmp.aNotB}, wasm EXCEPT ALL own: ${cmp.bNotA}; ` +
        `size own/wasm ${((100 * own.parquetBytes) / wasm.parquetBytes).toFixed(2)} %`;
      workers.push({ label: `${label}, own writer`, rate: own, check }, { label: `${label}, parquet-wasm`, rate: wasm, check });
    }
    await rm(keep, { recursive: true, force: true });
  }
  const memcpy = measureMemcpy(256 * 2 ** 20);

  const runs: CliRun[] = [];
  if (!skipLocal) {
    const work = join(cache, 'runs');
    for (const [label, extra] of [
      ['local, --fetch full, --threads 1', ['--fetch', 'full', '--threads', '1']],
      ['local, --fetch full, --threads 2', ['--fetch', 'full', '--threads', '2']],
      ['local, --fetch ranges, --threads 1', ['--fetch', 'ranges', '--threads', '1']],
      ['local, --fetch ranges, --threads 2', ['--fetch', 'ranges', '--threads', '2']],
      ['local, --fetch full, --threads 1, --spectype any --keep-zwarn', ['--fetch', 'full', '--threads', '1', ...EVERY_ROW]],
      ['local, --fetch full, --threads 2, --spectype any --keep-zwarn', ['--fetch', 'full', '--threads', '2', ...EVERY_ROW]],
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
  if (!skipCosts) costs = await measureCosts(cache, costTiles, keepCosts, costDir);
  let gets: RangedGets | undefined;
  if (only.includes('gets')) gets = await measureRangedGets(Number(opt('gets', '2000')));
  let linkSection: LinkSectionRun[] | undefined;
  if (only.includes('link')) linkSection = await measureLinkSection(cache, tree, { bandwidth, rttMs }, 2, linkPairs());

  const result = {
    date,
    machine,
    dataset: { scale, tiles: report.tiles.length, fitsBytes: report.totalBytes, goodQso: report.tiles.reduce((s, t) => s + t.goodQso, 0) },
    workers: workers.map(({ label, rate: w, check }) => ({
      label,
      check,
      ...w,
      fitsCoveredMBps: w.fitsBytes / MB / w.computeSec,
      decodedMBps: w.decodedBytes / MB / w.computeSec,
      parquetEncodeMBps: w.parquetRawBytes / MB / w.encodeSec,
      parquetEncodeCpuMBps: w.parquetRawBytes / MB / w.encodeCpuSec,
    })),
    memcpyGBps: memcpy,
    runs,
    links,
    memory,
    scaleOut,
    costs,
    selections,
    gets,
    linkSection,
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
    ...limitsSummary({ link: linkSection, gets, workers, memcpyGBps: memcpy, local: runs, costs, shaped: { bandwidth, rttMs }, cores: cpus().length }),
    ...(linkSection ? linkSectionTable(linkSection, { bandwidth, rttMs }) : []),
    ...(gets ? [...rangedGetsMarkdown(gets), ''] : []),
    ...workerMarkdown(result.workers, memcpy),
    ...(runs.length ? [...header, ...runs.map(row), '', ...localVerdicts(runs)] : []),
    ...linkLines,
    ...memLines,
    ...(scaleOut ? scaleOutMarkdown(scaleOut) : []),
    ...(costs ? costsMarkdown(costs) : []),
    ...(selections ? selectionsMarkdown(selections) : []),
  ].join('\n');
  const outDir = join(REPO, 'bench', 'results');
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'latest.json'), resultJson(result));
  await writeFile(join(outDir, 'latest.md'), md + '\n');
  process.stdout.write(md + '\n');
}

/** `--only costs`: the costs-at-scale section alone, written to bench/results/costs.{json,md}. */
async function costsOnly(cache: string): Promise<void> {
  const date = new Date().toISOString().slice(0, 10);
  const started = new Date().toISOString().slice(11, 16);
  const load0 = loadavg()[0];
  const costs = await measureCosts(cache, costTiles, keepCosts, costDir);
  const load = `load average (1 min) ${load0.toFixed(1)} at ${started} UTC, ${loadavg()[0].toFixed(1)} at ${new Date().toISOString().slice(11, 16)} UTC`;
  const md = [`Measured ${date} on ${machineText()}; ${load}.`, '', ...costsMarkdown(costs)].join('\n');
  const outDir = join(REPO, 'bench', 'results');
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'costs.json'), resultJson({ date, machine: machineText(), costs }));
  await writeFile(join(outDir, 'costs.md'), md + '\n');
  process.stdout.write(md + '\n');
}

/**
 * `--only gets [--gets 2000]`: client CPU per ranged GET, AWS SDK against the lean path (bench/ranged-gets.ts),
 * written to bench/results/gets.{json,md}. No dataset is built.
 */
async function getsOnly(): Promise<void> {
  const date = new Date().toISOString();
  const gets = await measureRangedGets(Number(opt('gets', '2000')));
  const md = [`Measured ${date} on ${machineText()}.`, '', ...rangedGetsMarkdown(gets)].join('\n');
  const outDir = join(REPO, 'bench', 'results');
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'gets.json'), resultJson({ date, machine: machineText(), gets }));
  await writeFile(join(outDir, 'gets.md'), md + '\n');
  process.stdout.write(md + '\n');
}

/**
 * The link section's runs: --link-runs (server:mode pairs), by default the lean server's full and ranges runs
 * and s3rver's ranges and full runs (s3rver's upload the dataset first when no upload is cached).
 */
function linkPairs(): [LinkServer, LinkMode][] {
  const pairs = opt('link-runs', 'lean:full,lean:ranges,s3rver:ranges,s3rver:full')
    .split(',')
    .map((p) => p.split(':') as [LinkServer, LinkMode]);
  for (const [s, m] of pairs)
    if (!['lean', 's3rver'].includes(s) || !['full', 'ranges'].includes(m))
      throw new Error(`bench: --link-runs wants server:mode pairs (lean|s3rver : full|ranges), got ${s}:${m}`);
  return pairs;
}

/**
 * `--only link [--link-runs lean:full,lean:ranges,s3rver:ranges]`: the link section with default settings
 * against the lean bench server and s3rver (bench/link-section.ts), written to bench/results/link.{json,md}.
 */
async function linkOnly(cache: string, tree: string): Promise<void> {
  const date = new Date().toISOString();
  const pairs = linkPairs();
  const runs = await measureLinkSection(cache, tree, { bandwidth, rttMs }, 2, pairs);
  const md = [`Measured ${date} on ${machineText()}; dataset at scale ${scale}.`, '', ...linkSectionTable(runs, { bandwidth, rttMs })].join('\n');
  const outDir = join(REPO, 'bench', 'results');
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'link.json'), resultJson({ date, machine: machineText(), scale, bandwidth, rttMs, runs }));
  await writeFile(join(outDir, 'link.md'), md + '\n');
  process.stdout.write(md + '\n');
}

/** The selections section, also written alone to bench/results/selections.{json,md}. */
async function selectionsSection(cache: string, tree: string, report: Awaited<ReturnType<typeof benchDataset>>['report']): Promise<Selections> {
  const date = new Date().toISOString();
  const s = await measureSelections(cache, tree, report, 2);
  const dataset = `the seed dry run's shape at scale ${scale} (${report.tiles.length} tiles)`;
  const md = [`Measured ${date} on ${machineText()}; dataset: ${dataset}.`, '', ...selectionsMarkdown(s)].join('\n');
  const outDir = join(REPO, 'bench', 'results');
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'selections.json'), resultJson({ date, machine: machineText(), scale, selections: s }));
  await writeFile(join(outDir, 'selections.md'), md + '\n');
  if (only.length === 1) process.stdout.write(md + '\n');
  return s;
}

function machineText(): string {
  return `${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

/** The worker section: one column per selection, the memcpy beside them. */
function workerMarkdown(
  ws: {
    label: string;
    parquetRawBytes: number;
    parquetBytes: number;
    encodeSec: number;
    stages: EncodeStages;
    check?: string;
    fitsCoveredMBps: number;
    decodedMBps: number;
    parquetEncodeMBps: number;
    parquetEncodeCpuMBps: number;
  }[],
  memcpyGBps: number,
): string[] {
  const memcpyCell = `${(memcpyGBps * 1000).toFixed(0)} MB/s`;
  if (ws.length === 0) return [`memcpy of this machine (Uint8Array#set, 256 MiB): ${memcpyCell}`, ''];
  const cells = (f: (w: (typeof ws)[number]) => string) => `| ${ws.map(f).join(' | ')} |`;
  const share = (w: (typeof ws)[number], k: keyof EncodeStages) => `${((100 * w.stages[k]) / w.encodeSec).toFixed(0)} %`;
  return [
    `| worker, one thread | ${ws.map((w) => w.label).join(' | ')} |`,
    `|---|${ws.map(() => '---|').join('')}`,
    `| raw values encoded, Parquet written ${cells((w) => `${(w.parquetRawBytes / MB).toFixed(1)} MB, ${(w.parquetBytes / MB).toFixed(1)} MB`)}`,
    `| **Parquet encoded per second (raw values in, wall)** ${cells((w) => `**${w.parquetEncodeMBps.toFixed(1)} MB/s**`)}`,
    `| Parquet encoded per CPU second (process user + system) ${cells((w) => `${w.parquetEncodeCpuMBps.toFixed(1)} MB/s`)}`,
    `| encode time: rows decoded and Arrow table built (JS) ${cells((w) => share(w, 'table'))}`,
    `| encode time: encoding plan, distinct values of integer leaves (JS) ${cells((w) => share(w, 'plan'))}`,
    `| encode time: Arrow IPC stream written (JS) ${cells((w) => share(w, 'ipc'))}`,
    `| encode time: IPC copied into WASM and parsed ${cells((w) => share(w, 'wasmIn'))}`,
    `| encode time: the Parquet writer (own: levels, BYTE_STREAM_SPLIT, ZSTD; wasm: parquet-wasm's) and footer check ${cells((w) => share(w, 'write'))}`,
    `| own vs parquet-wasm files (DuckDB values, size) ${cells((w) => w.check ?? '')}`,
    `| FITS covered per second of compute (file sizes / select+match+encode time) ${cells((w) => `${w.fitsCoveredMBps.toFixed(0)} MB/s`)}`,
    `| FITS bytes decoded per second (REDSHIFTS, FIBERMAP, selected rows) ${cells((w) => `${w.decodedMBps.toFixed(1)} MB/s`)}`,
    `| memcpy of the same machine (Uint8Array#set, 256 MiB) ${cells(() => memcpyCell)}`,
    '',
  ];
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
