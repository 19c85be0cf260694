/**
 * The bench's costs-at-scale section: for 1,000 / 4,000 / 12,207 (DR1) / 40,000 tiles of tiny files, locally
 * and on s3rver over loopback, what a resumed run pays before its first tile (discovery, opening a journal
 * of that many records, the resume check that decides what is left) and what `desi-qad status` pays, with
 * the peak RSS of each, so that the table shows the time per tile as the count grows. Each measurement runs
 * in a process of its own (bench/cost-probe.ts, or the CLI for status).
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from '../src/dev/local-s3.js';
import { leanFixture } from './cost-lean.js';
import { COST_BUCKET, costFixture, cpuSeconds, type CostFixture, type ListingTime, type ProbeResult } from './cost-fixture.js';
import { startLinkShaper } from '../src/dev/link-shaper.js';

const BIN = fileURLToPath(new URL('../../bin/desi-qad.js', import.meta.url));
const PROBE = fileURLToPath(new URL('./cost-probe.js', import.meta.url));

export const DEFAULT_COST_TILES = [1000, 4000, 12_207, 40_000];

export interface CostRow {
  /** 's3': s3rver; 'lean': the lean S3 server (src/dev/lean-s3-server.ts) over the same fixture, no status row. */
  backend: 'local' | 's3' | 'lean';
  tiles: number;
  probe: ProbeResult;
  status: { wallSec: number; peakRssMB: number; exitCode: number | null; s3rverCpuSec: number };
}

export interface Costs {
  rows: CostRow[];
  fixtures: CostFixture[];
  /** Wall seconds of `desi-qad --version`: the process start every status row includes. */
  startupSec: number;
  notes: string[];
  /** The largest output's listing, split and flat, through the lean server behind a shaped link (RTT ms, bytes/s). */
  shaped?: { tiles: number; rttMs: number; bandwidth: number; split: ListingTime; flat: ListingTime }[];
}

interface Spawned {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  wallSec: number;
  peakRssMB: number;
}

/** Runs node with ARGS, sampling its VmHWM every 20 ms. */
async function runNode(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Spawned> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let peakKB = 0;
  const sample = async () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKB = Math.max(peakKB, Number(m[1]));
    } catch {
      /* ended */
    }
  };
  const timer = setInterval(() => void sample(), 20);
  const exitCode: number | null = await new Promise((resolve) => child.on('close', (code) => resolve(code)));
  clearInterval(timer);
  return { stdout, stderr, exitCode, wallSec: (performance.now() - t0) / 1000, peakRssMB: peakKB / 1024 };
}

/** Round trips and bandwidth of the shaped links the largest output's listing is timed over (the seed's link is about 35 MB/s, 20 ms). */
const SHAPED_RTT_MS = [20, 50];
const SHAPED_BANDWIDTH = 35e6;

async function listing(args: object): Promise<{ split: ListingTime; flat: ListingTime }> {
  const r = await runNode([PROBE, JSON.stringify(args)]);
  if (r.exitCode !== 0) throw new Error(`cost probe ${JSON.stringify(args)} exited ${r.exitCode}: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as { split: ListingTime; flat: ListingTime };
}

async function probe(args: object): Promise<ProbeResult> {
  const r = await runNode([PROBE, JSON.stringify(args)]);
  if (r.exitCode !== 0) throw new Error(`cost probe ${JSON.stringify(args)} exited ${r.exitCode}: ${r.stderr.slice(-2000)}`);
  for (const line of r.stderr.split('\n')) if (line.startsWith('cost-probe:')) process.stderr.write(line + '\n');
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as ProbeResult;
}

/**
 * Runs the section for each tile count; `keep` leaves the fixtures in `dir` (default `cacheRoot/costs`; they are removed
 * after by default: 40,000 tiles are about 300,000 small files).
 */
export async function measureCosts(cacheRoot: string, counts: number[], keep = false, dir?: string, lean = true): Promise<Costs> {
  const root = dir ?? join(cacheRoot, 'costs');
  const s3dir = join(root, 's3');
  await mkdir(s3dir, { recursive: true });
  const fixtures: CostFixture[] = [];
  for (const n of counts) fixtures.push(await costFixture(root, s3dir, n));
  const rows: CostRow[] = [];
  const shaped: NonNullable<Costs['shaped']> = [];
  const startup = await runNode([BIN, '--version']);
  const s3 = await startLocalS3({ dir: s3dir, buckets: [COST_BUCKET] });
  try {
    for (const fx of fixtures) {
      process.stderr.write(`bench: costs, ${fx.tiles} tiles, local...\n`);
      const local = await probe({ backend: 'local', tree: fx.tree, out: fx.out });
      const ls = await runNode([BIN, 'status', '--out', fx.out, '--json']);
      rows.push({ backend: 'local', tiles: fx.tiles, probe: local, status: { ...pick(ls), s3rverCpuSec: 0 } });
      process.stderr.write(`bench: costs, ${fx.tiles} tiles, s3rver...\n`);
      const tree = `s3://${COST_BUCKET}/${fx.s3Tree}`;
      const out = `s3://${COST_BUCKET}/${fx.s3Out}`;
      const remote = await probe({ backend: 's3', tree, out, endpoint: s3.endpoint, s3pid: s3.pid });
      const c0 = cpuSeconds(s3.pid);
      const ss = await runNode([BIN, 'status', '--out', out, '--endpoint', s3.endpoint, '--json'], {
        AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
      });
      rows.push({ backend: 's3', tiles: fx.tiles, probe: remote, status: { ...pick(ss), s3rverCpuSec: cpuSeconds(s3.pid) - c0 } });
      if (lean) {
        process.stderr.write(`bench: costs, ${fx.tiles} tiles, lean server...\n`);
        const l = await leanFixture(fx);
        try {
          const p = await probe({ backend: 's3', tree: l.tree, out: l.out, endpoint: l.server.endpoint, s3pid: l.server.pid });
          rows.push({ backend: 'lean', tiles: fx.tiles, probe: p, status: { wallSec: 0, peakRssMB: 0, exitCode: null, s3rverCpuSec: 0 } });
          if (fx === fixtures[fixtures.length - 1])
            for (const rttMs of SHAPED_RTT_MS) {
              const shaper = await startLinkShaper({ upstreamPort: Number(new URL(l.server.endpoint).port), bandwidth: SHAPED_BANDWIDTH, rttMs });
              try {
                const t = await listing({ listing: true, out: l.out, endpoint: shaper.endpoint, s3pid: l.server.pid });
                shaped.push({ tiles: fx.tiles, rttMs, bandwidth: SHAPED_BANDWIDTH, ...t });
              } finally {
                await shaper.stop();
              }
            }
        } finally {
          await l.server.stop();
        }
      }
      for (const r of rows.slice(lean ? -3 : -2))
        if (r.probe.left !== fx.expectedLeft || r.probe.tiles !== fx.tiles)
          throw new Error(
            `bench: costs, ${r.backend} ${fx.tiles}: found ${r.probe.tiles} tiles with ${r.probe.left} left, the fixture has ${fx.tiles} with ${fx.expectedLeft}`,
          );
    }
  } finally {
    await s3.stop();
    if (!keep) await rm(root, { recursive: true, force: true });
  }
  const notes = [
    `Every status row includes a Node process start (\`desi-qad --version\` takes ${startup.wallSec.toFixed(2)} s here); the other columns are timed inside one process per row.`,
    "s3rver's objects were written into its folder directly (its own file layout), not PUT: only reading is measured, all of it through HTTP. Its journal is compacted (one segment object), as a run's close() leaves it.",
    "The lean server (src/dev/lean-s3-server.ts: node:http over a folder, read-only) serves hard links of the local fixture's files and a journal segment fingerprinted with its own ETags; its rows have no status (status is timed on s3rver) and its CPU is in the server CPU column.",
    'The machine is shared (other processes on its 2 cores): judge by the CPU columns and the LIST counts, not the wall times alone.',
  ];
  return { rows, fixtures, startupSec: startup.wallSec, notes, shaped };
}

function pick(r: Spawned): { wallSec: number; peakRssMB: number; exitCode: number | null } {
  // status exits 0 when complete, 1 (some left) otherwise: both are answers; anything else is a failure.
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`desi-qad status exited ${r.exitCode}: ${r.stderr.slice(-2000)}`);
  return { wallSec: r.wallSec, peakRssMB: r.peakRssMB, exitCode: r.exitCode };
}

const label = (r: CostRow) => ({ local: 'local', s3: 's3rver', lean: 'lean server' })[r.backend];
const us = (sec: number, n: number) => ((sec * 1e6) / n).toFixed(0);

/** The section as markdown: one row per backend and count, time per tile (µs) beside each time. */
export function costsMarkdown(c: Costs): string[] {
  const lines = [
    'Costs at scale (tiny files; a resumed run before its first tile, and `desi-qad status`; µs per tile in brackets):',
    '',
    '| where | tiles | discovery | open journal | resume check | probe CPU (discovery / journal / resume) | left | peak RSS | status | status RSS | server CPU (discovery / journal / resume / status) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of c.rows) {
    const p = r.probe;
    const n = r.tiles;
    const c = p.s3rverCpuSec;
    const cpu = [c.discover, c.journal, c.resume, r.status.s3rverCpuSec].map((s) => s.toFixed(1)).join(' / ');
    const own = p.cpuSec ? `${[p.cpuSec.discover, p.cpuSec.journal, p.cpuSec.resume].map((s) => s.toFixed(2)).join(' / ')} s` : '–';
    lines.push(
      `| ${label(r)} | ${n.toLocaleString('en-US')} | ${p.discoverSec.toFixed(2)} s (${us(p.discoverSec, n)}) | ${p.journalSec.toFixed(2)} s (${us(p.journalSec, n)}) | ${p.resumeSec.toFixed(2)} s (${us(p.resumeSec, n)}) | ${own} | ${p.left} | ${p.peakRssMB.toFixed(0)} MB | ${r.backend === 'lean' ? '–' : `${r.status.wallSec.toFixed(2)} s (${us(r.status.wallSec, n)})`} | ${r.backend === 'lean' ? '–' : `${r.status.peakRssMB.toFixed(0)} MB`} | ${r.backend === 'local' ? '–' : `${cpu} s`} |`,
    );
  }
  lines.push('');
  for (const backend of ['local', 's3', 'lean'] as const) {
    const mine = c.rows.filter((r) => r.backend === backend).sort((a, b) => a.tiles - b.tiles);
    if (mine.length < 2) continue;
    const [lo, hi] = [mine[0], mine[mine.length - 1]];
    const per = (r: CostRow) => (r.probe.discoverSec + r.probe.journalSec + r.probe.resumeSec) / r.tiles;
    const ratio = per(hi) / per(lo);
    const resume = (r: CostRow) => r.probe.journalSec + r.probe.resumeSec;
    const resumeCpu = (r: CostRow) => (r.probe.cpuSec ? `${(r.probe.cpuSec.journal + r.probe.cpuSec.resume).toFixed(2)} s` : '?');
    lines.push(
      `- ${label(lo)}: discovery + journal + resume per tile ${(per(lo) * 1e6).toFixed(0)} µs at ${lo.tiles.toLocaleString('en-US')} tiles, ${(per(hi) * 1e6).toFixed(0)} µs at ${hi.tiles.toLocaleString('en-US')}: **${ratio.toFixed(2)}×** (${ratio <= 1.5 ? 'within' : 'NOT within'} 1.5×); resume of the largest journal (open + check) ${resume(hi).toFixed(2)} s wall, ${resumeCpu(hi)} CPU: **${resume(hi) < 3 ? 'under' : 'NOT under'} 3 s**.`,
    );
  }
  lines.push(...resumeSplitMarkdown(c.rows), ...shapedMarkdown(c.shaped ?? []), ...c.notes.map((n) => `- ${n}`), '');
  return lines;
}

/**
 * The S3 resume check two ways, each with wall seconds, the probe's CPU, the server's CPU and the LISTs:
 * over the listing split by folder (several in flight; what a run does) and over one sequential walk of
 * every page (what it did before), so that the table shows which part is the server's and which is ours.
 */
function resumeSplitMarkdown(rows: readonly CostRow[]): string[] {
  const s3 = rows.filter((r) => r.probe.flat !== undefined);
  if (s3.length === 0) return [];
  const lines = [
    '',
    "The S3 resume check (after opening the journal): the listing split by folder, 8 LISTs in flight, against one sequential walk of every page, run right after it in the same process; wall / the probe's CPU / the server's CPU / LIST requests:",
    '',
    '| server | tiles | split listing | one sequential walk | open journal + split check |',
    '|---|---|---|---|---|',
  ];
  for (const r of s3) {
    const p = r.probe;
    const f = p.flat!;
    lines.push(
      `| ${label(r)} | ${r.tiles.toLocaleString('en-US')} | ${p.resumeSec.toFixed(2)} s / ${p.cpuSec.resume.toFixed(2)} s / ${p.s3rverCpuSec.resume.toFixed(2)} s / ${p.resumeListRequests ?? '?'} | ${f.sec.toFixed(2)} s / ${f.cpuSec.toFixed(2)} s / ${f.s3rverCpuSec.toFixed(2)} s / ${f.listRequests} | ${(p.journalSec + p.resumeSec).toFixed(2)} s wall, ${(p.cpuSec.journal + p.cpuSec.resume).toFixed(2)} s our CPU |`,
    );
  }
  lines.push('');
  return lines;
}

/** The largest output's listing through the lean server behind a shaped link: split against flat. */
function shapedMarkdown(shaped: NonNullable<Costs['shaped']>): string[] {
  if (shaped.length === 0) return [];
  const cell = (t: ListingTime) => `${t.sec.toFixed(2)} s / ${t.cpuSec.toFixed(2)} s / ${t.serverCpuSec.toFixed(2)} s / ${t.listRequests}`;
  const lines = [
    "The output's listing alone (listFiles, the resume check's LISTs) through the lean server behind a shaped link, the second of two runs each (warm); wall / the probe's CPU / the server's CPU / LIST requests:",
    '',
    '| tiles | link | split listing | one sequential walk |',
    '|---|---|---|---|',
  ];
  for (const s of shaped)
    lines.push(`| ${s.tiles.toLocaleString('en-US')} | ${s.rttMs} ms, ${(s.bandwidth / 1e6).toFixed(0)} MB/s | ${cell(s.split)} | ${cell(s.flat)} |`);
  lines.push('');
  return lines;
}
