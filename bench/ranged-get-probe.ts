/**
 * One measurement of the ranged-GETs section, in a process of its own so that its CPU time is the client's
 * alone (s3rver runs in another process):
 *
 *   DESI_QAD_S3_GET=sdk|lean node ranged-get-probe.js '{"endpoint":…, "bucket":…, "key":…, "size":N, "etag":…,
 *     "signed":true, "n":2000, "minBytes":16384, "maxBytes":65536, "concurrency":8, "file":…, "s3pid":N}'
 *
 * reads `n` pseudo-random ranges of the object through S3ObjectSource (today's read path: retries, ETag pin,
 * checks), `concurrency` at a time, after a warm-up that is not counted, and prints one JSON line: this
 * process's CPU (all threads, and the main thread alone) per GET, s3rver's CPU seconds over the same GETs,
 * the wall time, and whether every range is byte-identical to the local file. Each range is compared with
 * the file as it arrives and then dropped, as a conversion drops what it has decoded: keeping all of them
 * for a check at the end made the probe's own garbage collection (~90 µs per GET of 16–64 KiB) part of
 * what it measured.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LOCAL_S3_CREDENTIALS } from '../src/dev/local-s3.js';
import { makeS3Client } from '../src/storage/s3-client.js';
import { S3ObjectSource } from '../src/storage/s3-source.js';
import { mapLimit } from '../src/util/concurrency.js';
import { cpuSeconds } from './cost-fixture.js';

export interface RangedProbeArgs {
  endpoint: string;
  bucket: string;
  key: string;
  size: number;
  etag: string;
  signed: boolean;
  n: number;
  minBytes: number;
  maxBytes: number;
  concurrency: number;
  file: string;
  s3pid: number;
}

export interface RangedProbeResult {
  path: string;
  signed: boolean;
  gets: number;
  bytes: number;
  wallSec: number;
  /** process.cpuUsage() user + system over the GETs, all threads of this process, per GET. */
  clientCpuUsPerGet: number;
  /** The main thread alone (/proc/self/task/PID/stat, 10 ms ticks), per GET. */
  mainThreadCpuUsPerGet: number;
  serverCpuSec: number;
  /** Ranges whose bytes differ from the file's (0 when byte-identical). */
  mismatches: number;
  /** SHA-256 of every range's bytes in order, to compare the paths (the file's ranges: meaningful with 0 mismatches). */
  sha256: string;
}

/** Deterministic ranges (xorshift32), the same for every path. */
export function probeRanges(a: Pick<RangedProbeArgs, 'n' | 'minBytes' | 'maxBytes' | 'size'>, seed: number): [number, number][] {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
  const out: [number, number][] = [];
  for (let i = 0; i < a.n; i++) {
    const len = a.minBytes + Math.floor(next() * (a.maxBytes - a.minBytes + 1));
    const start = Math.floor(next() * (a.size - len));
    out.push([start, start + len]);
  }
  return out;
}

function mainThreadCpuSec(): number {
  const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2]) as RangedProbeArgs;
  const client = makeS3Client(a.signed ? { endpoint: a.endpoint, credentials: { ...LOCAL_S3_CREDENTIALS } } : { endpoint: a.endpoint, noSignRequest: true });
  const src = new S3ObjectSource(client, a.bucket, a.key, a.size, a.etag);
  const warm = probeRanges({ ...a, n: Math.min(200, a.n) }, 7);
  await mapLimit(warm, a.concurrency, ([s, e]) => src.slice(s, e));
  const ranges = probeRanges(a, 1);
  const file = readFileSync(a.file);
  let mismatches = 0;
  const server0 = cpuSeconds(a.s3pid);
  const main0 = mainThreadCpuSec();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await mapLimit(
    ranges.map((r, i) => [r, i] as const),
    a.concurrency,
    async ([[s, e]]) => {
      // A memcmp (a few µs for 64 KiB), counted in the CPU measured; far less than keeping every range.
      if (!file.subarray(s, e).equals(await src.slice(s, e))) mismatches += 1;
    },
  );
  const wallSec = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const mainSec = mainThreadCpuSec() - main0;
  const serverCpuSec = cpuSeconds(a.s3pid) - server0;
  // Every range equal to the file's bytes (mismatches 0) hashes as the file's ranges do.
  const hash = createHash('sha256');
  for (const [s, e] of ranges) hash.update(file.subarray(s, e));
  client.destroy();
  const result: RangedProbeResult = {
    path: src.getPath,
    signed: a.signed,
    gets: ranges.length,
    bytes: ranges.reduce((n, [s, e]) => n + e - s, 0),
    wallSec,
    clientCpuUsPerGet: (cpu.user + cpu.system) / ranges.length,
    mainThreadCpuUsPerGet: (mainSec * 1e6) / ranges.length,
    serverCpuSec,
    mismatches,
    sha256: hash.digest('hex'),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`ranged-get-probe failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
