/**
 * The bench's scale-out section: the seed-shaped set converted by 1, 2, 4… shards (`desi-qad plan` once, then
 * N concurrent `desi-qad convert --shard K/N`, each through its own link shaper, as separate nodes would have
 * one link each, in front of one s3rver), next to a plain unsharded run; and `desi-qad plan --shards 32` on a
 * DR1-sized listing (12,207 tiles of tiny files). CPU seconds of s3rver and of the converters are measured
 * per configuration, since on one small machine they, not the links, bound the speed-up.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePlan, PLAN_REL, type Plan } from '../src/pipeline/plan-file.js';
import { LOCAL_S3_CREDENTIALS, startLocalS3, uploadTree, type LocalS3 } from '../src/dev/local-s3.js';
import { startLinkShaper, type LinkShaper } from '../src/dev/link-shaper.js';
import { makeS3Client } from '../src/storage/s3-client.js';
import { LocalTileStore } from '../src/storage/local-tree.js';
import { S3TileStore } from '../src/storage/s3-tree.js';
import { DR1_LISTING_PROGRAMS, DR1_LISTING_SURVEYS, dr1Listing } from './dr1-listing.js';
import { runCliMeasured, type CliRun } from './run-cli.js';
import { BUCKET, PREFIX, sameParquet, servedDataset } from './s3-link.js';

const BIN = fileURLToPath(new URL('../../bin/desi-qad.js', import.meta.url));
const SOURCE = `s3://${BUCKET}/${PREFIX}`;

export interface ScaleOutOptions {
  /** The link of each node: bytes per second and added round trip (ms). */
  bandwidth: number;
  rttMs: number;
  /** Shard counts to run, e.g. [1, 2, 4]; 1 is always run first (the speed-ups are over it). */
  shardCounts: number[];
  /** --threads of every convert process. */
  threads: number;
  /** Also upload the DR1-sized listing to a fresh s3rver and plan it there (slow: 24k tiny objects). */
  dr1S3: boolean;
}

/** CPU seconds spent during one configuration, and how busy the whole machine was. */
export interface CpuUse {
  /** user + system seconds of the s3rver process. */
  s3rverCpuSec: number;
  /** user + system seconds of the desi-qad processes (all shards, their worker threads included). */
  convertCpuSec: number;
  /** Share of all cores busy over the wall time (/proc/stat), other users of the machine included. */
  machineBusy: number;
}

/** One configuration: a plain run (shards 0) or N shards after one plan. */
export interface ScaleRun extends CpuUse {
  label: string;
  shards: number;
  /** Wall seconds of `desi-qad plan` (not in wallSec); 0 for the plain run. */
  planSec: number;
  /** From the first convert started to the last one ended. */
  wallSec: number;
  /** wallSec of 1 shard / wallSec. */
  speedUp: number;
  fitsBytes: number;
  /** Bytes the shards' logs say they fetched (sum). */
  fetchedBytes: number;
  /** Bytes the link shapers delivered (HTTP headers and listings included). */
  wireBytes: number;
  requests: number;
  parquetBytes: number;
  rows: number;
  /** Every convert's exit status (0 = all its tiles done). */
  exitCodes: (number | null)[];
  /** Whether the dataset's Parquet files are byte-identical to the 1-shard run's, and to the plain run's. */
  identicalToOneShard: boolean;
  identicalToPlain: boolean;
  /** Exit status of `desi-qad status --out O` after the shards (0 = every planned tile done); null for the plain run. */
  statusExit: number | null;
  shardRuns: CliRun[];
}

export interface Dr1PlanRun {
  tiles: number;
  files: number;
  /** Seconds to write the tree, when this bench wrote it (0: from the cache). */
  buildSec: number;
  /** In-process LocalTileStore.discover of the whole listing. */
  discoverSec: number;
  /** In-process makePlan over 32 shards and its JSON text: what `plan` computes after discovery. */
  makePlanSec: number;
  planFileBytes: number;
  /** `desi-qad plan --shards 32` on the tree: wall seconds and the plan file's size; undefined when not run. */
  cli?: { wallSec: number; planFileBytes: number; tiles: number; exitCode: number | null };
  /** The same listing in s3rver: upload seconds, in-process S3 discovery, `desi-qad plan` against it. */
  s3?: { uploadSec: number; objects: number; discoverSec: number; listRequests: number; cliPlanSec?: number; cliExit?: number | null };
  notes: string[];
}

export interface ScaleOut {
  link: { bandwidth: number; rttMs: number };
  threads: number;
  cores: number;
  /**
   * Set when this desi-qad has no `plan` or no `convert --shard` (says which): the shards were then run as a
   * stand-in, each a plain `convert --tiles` of its shard's tiles from an in-process makePlan, on one --out.
   */
  standIn?: string;
  note: string;
  runs: ScaleRun[];
  dr1: Dr1PlanRun;
}

/** Runs the section. The shard runs need `desi-qad plan` and `convert --shard`; without them it says so and measures the rest. */
export async function measureScaleOut(cacheRoot: string, tree: string, o: ScaleOutOptions): Promise<ScaleOut> {
  const cores = availableParallelism();
  const note =
    `On this ${cores}-core machine all shards share ${cores} cores and one s3rver, so the speed-up is bounded by CPU, not by the links ` +
    `(each shard has its own ${(o.bandwidth / 1e6).toFixed(0)} MB/s, ${o.rttMs} ms shaper): compare the CPU seconds of s3rver and of the converters with wall × ${cores}. ` +
    `On separate nodes each shard has its own cores and the shared s3rver is S3 itself.`;
  const runs: ScaleRun[] = [];
  // `desi-qad X --help` of an unknown X prints the top help and exits 0, so the commands are read from it.
  const commands = new Set([...(await runCli(['--help'])).stdout.matchAll(/^\s+desi-qad (\w+)\b/gm)].map((m) => m[1]));
  const hasShard = /^\s+--shard\b/m.test((await runCli(['convert', '--help'])).stdout);
  let standIn: string | undefined;
  if (!commands.has('plan')) standIn = 'this desi-qad has no `plan` command';
  else if (!hasShard) standIn = 'this desi-qad has no `convert --shard`';
  if (standIn !== undefined) process.stderr.write(`bench: scale-out: ${standIn}; the shards run as \`convert --tiles\` of an in-process plan\n`);
  runs.push(...(await shardedRuns(cacheRoot, tree, o, standIn === undefined, commands.has('status'))));
  const dr1 = await measureDr1Plan(cacheRoot, standIn === undefined, o.dr1S3);
  return { link: { bandwidth: o.bandwidth, rttMs: o.rttMs }, threads: o.threads, cores, standIn, note, runs, dr1 };
}

/**
 * The plain run, then each shard count. With `cli`, `desi-qad plan` and `convert --shard K/N`; without, the
 * stand-in: discovery through the first shaper and makePlan in process (timed as the plan), and shard K as
 * `convert --tiles <its tiles>` (the identity is the selection and source, so all write one --out).
 */
async function shardedRuns(cacheRoot: string, tree: string, o: ScaleOutOptions, cli: boolean, hasStatus: boolean): Promise<ScaleRun[]> {
  const s3 = await servedDataset(cacheRoot, tree);
  const work = join(cacheRoot, 'scale-runs');
  const runs: ScaleRun[] = [];
  const link = { bandwidth: o.bandwidth, rttMs: o.rttMs };
  const counts = [1, ...o.shardCounts.filter((n) => n !== 1)];
  try {
    await rm(work, { recursive: true, force: true });
    const s3args = (endpoint: string) => ['--source', SOURCE, '--endpoint', endpoint, '--no-sign-request'];
    const plainOut = join(work, 'plain');
    {
      process.stderr.write('bench: scale-out, plain run (no plan, no --shard)...\n');
      const [shaper] = await startShapers(s3, 1, link);
      const before = cpuNow(s3.pid);
      const t0 = performance.now();
      const run = await runCliMeasured(
        'plain (unsharded)',
        ['convert', ...s3args(shaper.endpoint), '--out', plainOut, '--threads', String(o.threads), '--fetch', 'ranges'],
        join(work, 'logs-plain'),
      );
      const wallSec = (performance.now() - t0) / 1000;
      const cpu = cpuSince(before, s3.pid);
      const wireBytes = shaper.bytesDown();
      await shaper.stop();
      runs.push({ ...summed('plain, unsharded', 0, 0, wallSec, [run], wireBytes, cpu), identicalToPlain: true, statusExit: null });
    }
    for (const n of counts) {
      const out = join(work, `shards-${n}`);
      const shapers = await startShapers(s3, n, link);
      try {
        process.stderr.write(`bench: scale-out, plan --shards ${n}${cli ? '' : ' (stand-in: in process)'}...\n`);
        let planSec: number;
        let shardArgs: (k: number) => string[];
        if (cli) {
          const plan = await runCli(['plan', '--out', out, '--shards', String(n), ...s3args(shapers[0].endpoint), '--log-dir', join(work, `logs-plan-${n}`)]);
          if (plan.exitCode !== 0) throw new Error(`desi-qad plan --shards ${n} exited ${plan.exitCode}: ${plan.stderr.slice(-2000)}`);
          planSec = plan.wallSec;
          shardArgs = (k) => ['--shard', `${k}/${n}`];
        } else {
          const t0 = performance.now();
          const plan = await inProcessPlan(shapers[0].endpoint, n);
          planSec = (performance.now() - t0) / 1000;
          shardArgs = (k) => [
            '--tiles',
            plan.tiles
              .filter((t) => t.shard === k)
              .map((t) => t.key)
              .join(','),
          ];
        }
        for (const s of shapers) s.resetCount();
        process.stderr.write(`bench: scale-out, ${n} concurrent convert ${cli ? `--shard K/${n}` : `--tiles (shard K of ${n})`}...\n`);
        const before = cpuNow(s3.pid);
        const t0 = performance.now();
        const shardRuns = await Promise.all(
          shapers.map((s, k) =>
            runCliMeasured(
              `shard ${k}/${n}`,
              ['convert', ...s3args(s.endpoint), '--out', out, ...shardArgs(k), '--threads', String(o.threads), '--fetch', 'ranges'],
              join(work, `logs-${n}-${k}`),
            ),
          ),
        );
        const wallSec = (performance.now() - t0) / 1000;
        const cpu = cpuSince(before, s3.pid);
        const wire = shapers.reduce((sum, s) => sum + s.bytesDown(), 0);
        const status = hasStatus ? (await runCli(['status', '--out', out])).exitCode : null;
        runs.push({
          ...summed(`${n} shard${n === 1 ? '' : 's'}`, n, planSec, wallSec, shardRuns, wire, cpu),
          identicalToPlain: await sameParquet(plainOut, out),
          statusExit: status,
        });
      } finally {
        await Promise.all(shapers.map((s) => s.stop()));
      }
    }
    const one = runs.find((r) => r.shards === 1)!;
    const oneOut = join(work, 'shards-1');
    for (const r of runs) {
      r.speedUp = one.wallSec / r.wallSec;
      r.identicalToOneShard = r.shards === 1 || (await sameParquet(oneOut, r.shards === 0 ? plainOut : join(work, `shards-${r.shards}`)));
    }
    await rm(work, { recursive: true, force: true });
  } finally {
    await s3.stop();
  }
  return runs;
}

/** What `desi-qad plan` computes, in process: discovery of the served set (through `endpoint`) and makePlan. */
async function inProcessPlan(endpoint: string, shards: number): Promise<Plan> {
  const client = makeS3Client({ endpoint, noSignRequest: true });
  try {
    const filter = { surveys: ['main'], programs: ['dark'] };
    const found = await new S3TileStore(client, SOURCE).discover(filter);
    return makePlan({ tiles: found.tiles, shards, created: new Date(), createdBy: 'bench', source: SOURCE, selection: 'bench', ...filter });
  } finally {
    client.destroy();
  }
}

/** The figures of one configuration, summed over its processes (identity and speed-up filled in later). */
function summed(
  label: string,
  shards: number,
  planSec: number,
  wallSec: number,
  procs: CliRun[],
  wireBytes: number,
  cpu: CpuUse,
): Omit<ScaleRun, 'identicalToPlain' | 'statusExit'> {
  const sum = (f: (r: CliRun) => number) => procs.reduce((s, r) => s + f(r), 0);
  return {
    label,
    shards,
    planSec,
    wallSec,
    speedUp: NaN,
    fitsBytes: sum((r) => r.fitsBytes),
    fetchedBytes: sum((r) => r.fetchedBytes),
    wireBytes,
    requests: sum((r) => r.requests),
    parquetBytes: sum((r) => r.parquetBytes),
    rows: sum((r) => r.rows),
    exitCodes: procs.map((r) => r.exitCode),
    identicalToOneShard: false,
    shardRuns: procs,
    ...cpu,
  };
}

interface CountingShaper {
  endpoint: string;
  /** Bytes delivered since the last resetCount(). */
  bytesDown(): number;
  resetCount(): void;
  stop(): Promise<void>;
}

/** `n` link shapers in front of s3rver, one per node-to-be, each with the whole link to itself. */
async function startShapers(s3: LocalS3, n: number, link: { bandwidth: number; rttMs: number }): Promise<CountingShaper[]> {
  const upstreamPort = Number(new URL(s3.endpoint).port);
  const shapers: LinkShaper[] = await Promise.all(Array.from({ length: n }, () => startLinkShaper({ upstreamPort, ...link })));
  return shapers.map((s) => {
    let base = 0;
    return { endpoint: s.endpoint, bytesDown: () => s.bytesDown() - base, resetCount: () => (base = s.bytesDown()), stop: () => s.stop() };
  });
}

/** The DR1-sized listing: build (cached), discover and plan it in process, then `desi-qad plan --shards 32` on it. */
async function measureDr1Plan(cacheRoot: string, cliHasPlan: boolean, withS3: boolean): Promise<Dr1PlanRun> {
  const SHARDS = 32;
  const listing = await dr1Listing(cacheRoot);
  const notes: string[] = [];
  process.stderr.write(`bench: scale-out, discovering the DR1-sized listing (${listing.tiles} tiles)...\n`);
  const filter = { surveys: DR1_LISTING_SURVEYS, programs: DR1_LISTING_PROGRAMS };
  let t0 = performance.now();
  const found = await new LocalTileStore(listing.tree).discover(filter);
  const discoverSec = (performance.now() - t0) / 1000;
  if (found.tiles.length !== listing.tiles)
    throw new Error(`dr1 listing: discovery found ${found.tiles.length} tiles under ${listing.tree}, ${listing.tiles} were written`);
  t0 = performance.now();
  const planText =
    JSON.stringify(
      makePlan({
        tiles: found.tiles,
        shards: SHARDS,
        created: new Date(),
        createdBy: 'bench',
        source: listing.tree,
        selection: 'bench',
        surveys: filter.surveys,
        programs: filter.programs,
      }),
    ) + '\n';
  const makePlanSec = (performance.now() - t0) / 1000;
  const run: Dr1PlanRun = {
    tiles: listing.tiles,
    files: listing.files,
    buildSec: listing.buildSec,
    discoverSec,
    makePlanSec,
    planFileBytes: Buffer.byteLength(planText),
    notes,
  };
  const work = join(cacheRoot, 'dr1-plan-run');
  const listArgs = ['--survey', filter.surveys.join(','), '--program', filter.programs.join(',')];
  if (cliHasPlan) {
    await rm(work, { recursive: true, force: true });
    process.stderr.write(`bench: scale-out, desi-qad plan --shards ${SHARDS} on the DR1-sized listing...\n`);
    const out = join(work, 'out');
    const r = await runCli(['plan', '--out', out, '--shards', String(SHARDS), '--source', listing.tree, ...listArgs, '--log-dir', join(work, 'logs')]);
    if (r.exitCode !== 0) throw new Error(`desi-qad plan on the DR1-sized listing exited ${r.exitCode}: ${r.stderr.slice(-2000)}`);
    const planPath = join(out, ...PLAN_REL.split('/'));
    const plan = JSON.parse(await readFile(planPath, 'utf8')) as { totalTiles: number };
    run.cli = { wallSec: r.wallSec, planFileBytes: (await stat(planPath)).size, tiles: plan.totalTiles, exitCode: r.exitCode };
  } else notes.push('`desi-qad plan` was not run (this desi-qad has no `plan` command); discovery and makePlan were timed in process.');
  if (withS3) run.s3 = await dr1OnS3(listing.tree, filter, cliHasPlan ? listArgs : undefined, work);
  else notes.push('The listing in s3rver was skipped (`--dr1-s3` runs it: uploading 24k tiny objects takes minutes).');
  await rm(work, { recursive: true, force: true });
  return run;
}

/** Uploads the listing to a fresh s3rver (no cache), discovers it in process, and plans it with the CLI when it can. */
async function dr1OnS3(
  tree: string,
  filter: { surveys: string[]; programs: string[] },
  listArgs: string[] | undefined,
  work: string,
): Promise<NonNullable<Dr1PlanRun['s3']>> {
  const s3 = await startLocalS3({ buckets: [BUCKET] });
  try {
    const client = makeS3Client({ endpoint: s3.endpoint, credentials: LOCAL_S3_CREDENTIALS });
    process.stderr.write('bench: scale-out, uploading the DR1-sized listing to a fresh s3rver...\n');
    let t0 = performance.now();
    const up = await uploadTree(client, tree, BUCKET, 'dr1-listing', { concurrency: 16 });
    const uploadSec = (performance.now() - t0) / 1000;
    const store = new S3TileStore(client, `s3://${BUCKET}/dr1-listing`);
    t0 = performance.now();
    const found = await store.discover(filter);
    const discoverSec = (performance.now() - t0) / 1000;
    client.destroy();
    if (found.tiles.length * 2 !== up.files)
      throw new Error(`dr1 listing in s3rver: discovery found ${found.tiles.length} tiles, ${up.files} objects were uploaded`);
    const res: NonNullable<Dr1PlanRun['s3']> = { uploadSec, objects: up.files, discoverSec, listRequests: store.stats.listRequests };
    if (listArgs) {
      const r = await runCli([
        'plan',
        '--out',
        join(work, 's3-out'),
        '--shards',
        '32',
        '--source',
        `s3://${BUCKET}/dr1-listing`,
        '--endpoint',
        s3.endpoint,
        '--no-sign-request',
        ...listArgs,
        '--log-dir',
        join(work, 'logs'),
      ]);
      res.cliPlanSec = r.wallSec;
      res.cliExit = r.exitCode;
    }
    return res;
  } finally {
    await s3.stop();
  }
}

/** Runs `desi-qad ARGS` to its end: exit status, wall seconds, and what it printed. */
export async function runCli(args: string[]): Promise<{ exitCode: number | null; wallSec: number; stdout: string; stderr: string }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)));
  const exitCode: number | null = await new Promise((resolve) => child.on('close', (code) => resolve(code)));
  return { exitCode, wallSec: (performance.now() - t0) / 1000, stdout, stderr };
}

// CPU accounting from /proc (Linux): our own children's time once they have ended (cutime + cstime of this
// process: every convert is a child we wait for), the s3rver child's time while it runs, and /proc/stat.

let clockTicks: number | undefined;
function ticks(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** Fields of /proc/PID/stat after the command name (field 3, the state, is index 0). */
function procStat(pid: number | 'self'): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text
      .slice(text.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
  } catch {
    return [];
  }
}

/** user + system seconds of a running process (fields 14 and 15). */
export function processCpuSec(pid: number): number {
  const f = procStat(pid);
  return f.length > 12 ? (f[11] + f[12]) / ticks() : NaN;
}

/** user + system seconds of this process's children that have ended and been waited for (fields 16 and 17). */
function childrenCpuSec(): number {
  const f = procStat('self');
  return f.length > 14 ? (f[13] + f[14]) / ticks() : NaN;
}

/** Busy and total jiffies of all cores (/proc/stat's first line; idle and iowait are not busy). */
function machineJiffies(): { busy: number; total: number } {
  try {
    const v = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - v[3] - v[4], total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

interface CpuMark {
  s3rver: number;
  children: number;
  machine: { busy: number; total: number };
}

function cpuNow(s3rverPid: number): CpuMark {
  return { s3rver: processCpuSec(s3rverPid), children: childrenCpuSec(), machine: machineJiffies() };
}

function cpuSince(before: CpuMark, s3rverPid: number): CpuUse {
  const now = cpuNow(s3rverPid);
  return {
    s3rverCpuSec: now.s3rver - before.s3rver,
    convertCpuSec: now.children - before.children,
    machineBusy: (now.machine.busy - before.machine.busy) / (now.machine.total - before.machine.total),
  };
}

/** The section as markdown, in the bench's style. */
export function scaleOutMarkdown(s: ScaleOut): string[] {
  const MB = 1e6;
  const lines: string[] = [
    `Scale-out: the dataset above from s3rver, \`desi-qad plan\` once, then N concurrent \`desi-qad convert --shard K/N --fetch ranges --threads ${s.threads}\`, each through its own link shaper (${(s.link.bandwidth / MB).toFixed(0)} MB/s, ${s.link.rttMs} ms: one node's link each).`,
    '',
  ];
  if (s.standIn)
    lines.push(
      `- **Stand-in**: ${s.standIn}, so the plan was computed in process (discovery through the first shaper + makePlan) and shard K ran as \`convert --tiles <shard K's tiles>\` on the same --out.`,
      '',
    );
  lines.push(
    '| configuration | plan | wall (plan excluded) | speed-up over 1 shard | fetched | requests | s3rver CPU | converters CPU | machine busy | identical to 1 shard / to plain | status |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...s.runs.map(
      (r) =>
        `| ${r.label} | ${r.shards === 0 ? '–' : `${r.planSec.toFixed(1)} s`} | ${r.wallSec.toFixed(1)} s | ${r.speedUp.toFixed(2)}× | ${(r.fetchedBytes / MB).toFixed(1)} MB (wire ${(r.wireBytes / MB).toFixed(1)} MB) | ${r.requests} | ${r.s3rverCpuSec.toFixed(1)} s | ${r.convertCpuSec.toFixed(1)} s | ${(100 * r.machineBusy).toFixed(0)}% | ${r.identicalToOneShard ? 'yes' : '**NO**'} / ${r.identicalToPlain ? 'yes' : '**NO**'} | ${r.statusExit === null ? '–' : r.statusExit === 0 ? 'complete' : `exit ${r.statusExit}`}${r.exitCodes.some((c) => c !== 0) ? `, convert exits ${r.exitCodes.join(',')}` : ''} |`,
    ),
    '',
  );
  lines.push(`- ${s.note}`, '');
  const d = s.dr1;
  lines.push(
    `\`plan\` on a DR1-sized listing (${d.tiles} tiles, ${d.files} tiny files, main/dark, main/bright, sv1..3 dark and bright; local tree${d.buildSec > 0 ? `, written in ${d.buildSec.toFixed(1)} s` : ', cached'}):`,
    '',
    '| step | tiles | time | plan file |',
    '|---|---|---|---|',
    `| LocalTileStore.discover (in process) | ${d.tiles} | ${d.discoverSec.toFixed(2)} s | – |`,
    `| makePlan over 32 shards + JSON (in process) | ${d.tiles} | ${d.makePlanSec.toFixed(2)} s | ${(d.planFileBytes / MB).toFixed(2)} MB |`,
  );
  if (d.cli)
    lines.push(`| \`desi-qad plan --shards 32\`, local tree | ${d.cli.tiles} | ${d.cli.wallSec.toFixed(2)} s | ${(d.cli.planFileBytes / MB).toFixed(2)} MB |`);
  if (d.s3) {
    lines.push(`| upload to a fresh s3rver (${d.s3.objects} objects, once) | – | ${d.s3.uploadSec.toFixed(1)} s | – |`);
    lines.push(`| S3TileStore.discover on s3rver (in process, ${d.s3.listRequests} listings) | ${d.tiles} | ${d.s3.discoverSec.toFixed(2)} s | – |`);
    if (d.s3.cliPlanSec !== undefined)
      lines.push(
        `| \`desi-qad plan --shards 32\`, s3rver on loopback | ${d.tiles} | ${d.s3.cliPlanSec.toFixed(2)} s${d.s3.cliExit === 0 ? '' : ` (exit ${d.s3.cliExit})`} | – |`,
      );
  }
  lines.push('', ...d.notes.map((n) => `- ${n}`), ...(d.notes.length ? [''] : []));
  return lines;
}
