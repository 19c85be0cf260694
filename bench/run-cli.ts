import { spawn } from 'node:child_process';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/desi-qad.js', import.meta.url));

export interface CliRun {
  label: string;
  exitCode: number | null;
  wallSec: number;
  peakRssMB: number; // VmHWM of the process, sampled
  fitsBytes: number;
  fetchedBytes: number;
  requests: number;
  parquetBytes: number;
  rows: number;
  /** CPU seconds (user + system, all threads) of the desi-qad process, from /proc (sampled every 50 ms). */
  cpuSec?: number;
  /** The run log's lines on the link: the gap --gap-bytes auto chose, and the reads in flight. */
  linkLines?: string[];
}

/** Runs `desi-qad ARGS` as users do, samples its peak RSS, and reads the numbers back from its log's TOTALS. */
export async function runCliMeasured(label: string, args: string[], logDir: string): Promise<CliRun> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, ...args, '--log-dir', logDir, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer | string) => (stderr += d.toString()));
  let peakKB = 0;
  let cpuSec = 0;
  const sample = async () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKB = Math.max(peakKB, Number(m[1]));
      const st = await readFile(`/proc/${child.pid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      cpuSec = Math.max(cpuSec, (Number(f[11]) + Number(f[12])) / 100);
    } catch {
      /* the process has ended */
    }
  };
  const timer = setInterval(() => void sample(), 50);
  const exitCode: number | null = await new Promise((resolve) => child.on('close', (code) => resolve(code)));
  clearInterval(timer);
  const wallSec = (performance.now() - t0) / 1000;
  if (exitCode !== 0 && exitCode !== 1) throw new Error(`${label}: desi-qad exited ${exitCode}: ${stderr.slice(-2000)}`);
  const log = await newestLog(logDir);
  const num = (re: RegExp) => Number((re.exec(log)?.[1] ?? 'NaN').replace(/,/g, ''));
  return {
    label,
    exitCode,
    wallSec,
    peakRssMB: peakKB / 1024,
    fitsBytes: num(/TOTALS:[\s\S]*?FITS Downloaded : ([\d,.]+) MB/) * 1e6,
    fetchedBytes: num(/TOTALS:[\s\S]*?Bytes Fetched\s+: ([\d,.]+) MB/) * 1e6,
    requests: num(/TOTALS:[\s\S]*?Bytes Fetched\s+: [\d,.]+ MB in (\d+) requests/),
    parquetBytes: num(/TOTALS:[\s\S]*?Parquet Created : ([\d,.]+) MB/) * 1e6,
    rows: num(/TOTALS:[\s\S]*?Parquet Created : [\d,.]+ MB \((\d+) rows\)/),
    cpuSec,
    linkLines: log
      .split('\n')
      .filter((l) => /\] - (Gap: |Reads in flight: )/.test(l))
      .map((l) => l.replace(/^.*\] - /, '')),
  };
}

/** The newest run log of `dir` (a run also writes its .report.html there: not a log). */
async function newestLog(dir: string): Promise<string> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.log'));
  const withTimes = await Promise.all(files.map(async (f) => ({ f, t: (await stat(join(dir, f))).mtimeMs })));
  withTimes.sort((a, b) => b.t - a.t);
  return readFile(join(dir, withTimes[0].f), 'utf8');
}
