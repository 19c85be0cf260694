/**
 * `--only link`: the link section with default settings (--fetch full against --fetch ranges, no
 * --gap-bytes: auto), through the link shaper, against two servers: s3rver (the tests' real server, ~1.4-1.9
 * ms of CPU per GET, on the same 2 cores as the client) and the lean bench server (src/dev/lean-s3-server.ts,
 * serving the tree itself), so that a timing the server's CPU bounds can be told from one the client or the
 * link bounds. Each run prints wall, bytes, requests, link utilization (bytes fetched / link rate / wall),
 * the client's CPU seconds and per request, the server's CPU seconds (from /proc) and the bench process's
 * (the shaper's), and whether its Parquet output is byte-identical to the full run's.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startLeanS3, processCpuSeconds } from '../src/dev/lean-s3-server.js';
import { startLinkShaper } from '../src/dev/link-shaper.js';
import { BUCKET, PREFIX, s3ConvertArgs, sameParquet, servedDataset } from './s3-link.js';
import { runCliMeasured, type CliRun } from './run-cli.js';

export type LinkServer = 'lean' | 's3rver';
export type LinkMode = 'full' | 'ranges';

export interface LinkSectionRun extends CliRun {
  server: LinkServer;
  mode: LinkMode;
  serverCpuSec: number;
  shaperCpuSec: number;
  linkUtilization: number;
  identicalToFull?: boolean;
  loadAverage: string;
}

/**
 * `runs`: "server:mode" pairs, in order. A ranged run's output is compared with the full run of the same server:
 * the footers name the sources' ETags, and the two servers give different ones (s3rver an MD5, the lean server a
 * hash of size and mtime), so a comparison across servers would differ in the footer alone.
 */
export async function measureLinkSection(
  cacheRoot: string,
  tree: string,
  shaped: { bandwidth: number; rttMs: number },
  threads: number,
  runs: [LinkServer, LinkMode][],
): Promise<LinkSectionRun[]> {
  const work = join(cacheRoot, 'link-runs');
  const out: LinkSectionRun[] = [];
  const fullOut = new Map<LinkServer, string>();
  const outs: { run: LinkSectionRun; dir: string }[] = [];
  for (const [server, mode] of runs) {
    let srv: { endpoint: string; pid: number; stop(): Promise<void> };
    if (server === 's3rver') {
      srv = await servedDataset(cacheRoot, tree);
    } else srv = await startLeanS3({ folder: tree, bucket: BUCKET, prefix: PREFIX });
    const port = Number(new URL(srv.endpoint).port);
    const shaper = await startLinkShaper({ upstreamPort: port, bandwidth: shaped.bandwidth, rttMs: shaped.rttMs });
    try {
      const dir = join(work, `${server}-${mode}`);
      await rm(dir, { recursive: true, force: true });
      const label = `${server}, --fetch ${mode}`;
      process.stderr.write(`bench: link ${(shaped.bandwidth / 1e6).toFixed(0)} MB/s ${shaped.rttMs} ms, ${label}...\n`);
      const cpu0 = await processCpuSeconds(srv.pid);
      const self0 = process.cpuUsage();
      const run = await runCliMeasured(label, [...s3ConvertArgs(shaper.endpoint, dir, threads), '--fetch', mode], join(work, 'logs'));
      const serverCpuSec = (await processCpuSeconds(srv.pid)) - cpu0;
      const self = process.cpuUsage(self0);
      const r: LinkSectionRun = {
        ...run,
        server,
        mode,
        serverCpuSec,
        shaperCpuSec: (self.user + self.system) / 1e6,
        linkUtilization: run.fetchedBytes / shaped.bandwidth / run.wallSec,
        loadAverage: (await import('node:os'))
          .loadavg()
          .map((x) => x.toFixed(2))
          .join(' '),
      };
      out.push(r);
      outs.push({ run: r, dir });
      if (mode === 'full' && !fullOut.has(server)) fullOut.set(server, dir);
    } finally {
      await shaper.stop();
      await srv.stop();
    }
  }
  for (const { run, dir } of outs) {
    const full = fullOut.get(run.server);
    if (run.mode === 'ranges' && full !== undefined) run.identicalToFull = await sameParquet(full, dir);
  }
  await rm(work, { recursive: true, force: true });
  return out;
}

/** The section's table (markdown). */
export function linkSectionTable(runs: LinkSectionRun[], shaped: { bandwidth: number; rttMs: number }): string[] {
  // Each run against the full run of its own server (or, when that server has none, the first full run).
  const fullOf = (r: LinkSectionRun) => runs.find((f) => f.mode === 'full' && f.server === r.server) ?? runs.find((f) => f.mode === 'full');
  const lines = [
    `Link: ${(shaped.bandwidth / 1e6).toFixed(0)} MB/s shared, ${shaped.rttMs} ms round trip (bench link shaper); default settings (--gap-bytes auto).`,
    '',
    '| server | --fetch | wall s | full / this | fetched MB | requests | link use | client CPU s | client CPU ms / request | server CPU s | server CPU ms / request | shaper CPU s | identical | load |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of runs) {
    const per = (s: number) => (r.requests > 0 ? ((s * 1000) / r.requests).toFixed(2) : '');
    const full = fullOf(r);
    lines.push(
      `| ${r.server} | ${r.mode} | ${r.wallSec.toFixed(1)} | ${full ? `${(full.wallSec / r.wallSec).toFixed(1)}x` : ''} | ${(r.fetchedBytes / 1e6).toFixed(1)} | ${r.requests} | ${(100 * r.linkUtilization).toFixed(0)}% | ${(r.cpuSec ?? 0).toFixed(1)} | ${per(r.cpuSec ?? 0)} | ${r.serverCpuSec.toFixed(1)} | ${per(r.serverCpuSec)} | ${r.shaperCpuSec.toFixed(1)} | ${r.identicalToFull === undefined ? '' : r.identicalToFull ? 'yes' : 'NO'} | ${r.loadAverage} |`,
    );
  }
  lines.push('');
  for (const r of runs) for (const l of r.linkLines ?? []) lines.push(`- ${r.server}, ${r.mode}: ${l}`);
  return lines;
}
