/**
 * The bench's ranged-GETs section: the client CPU one ranged GET costs, through the AWS SDK
 * (DESI_QAD_S3_GET=sdk, the path before) and through the lean path (src/storage/ranged-get.ts), signed and
 * anonymous, for the same N ranges of 16–64 KiB of one object on s3rver over loopback; with s3rver's own CPU
 * seconds over the same GETs (its process, from /proc), and whether every range is byte-identical to the
 * file. Each measurement runs in a process of its own (bench/ranged-get-probe.ts).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from '../src/dev/local-s3.js';
import { makeS3Client } from '../src/storage/s3-client.js';
import type { RangedProbeArgs, RangedProbeResult } from './ranged-get-probe.js';

const PROBE = fileURLToPath(new URL('./ranged-get-probe.js', import.meta.url));
const BUCKET = 'gets';
const KEY = 'dr1/spectro/redux/iron/healpix/main/dark/100/10000/coadd-main-dark-10000.fits';
const OBJECT_BYTES = 32 * 2 ** 20;

export interface RangedGets {
  n: number;
  concurrency: number;
  objectBytes: number;
  runs: RangedProbeResult[];
  /** Every run's bytes hash the same (and each matched the file). */
  identical: boolean;
  /** The machine's 1-minute load average at the end (other work on the same cores inflates wall times). */
  loadAvg1?: number;
}

function runProbe(args: RangedProbeArgs, path: 'sdk' | 'lean'): Promise<RangedProbeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(process.env.BENCH_PROBE_NODE_ARGS ?? '').split(' ').filter(Boolean), PROBE, JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DESI_QAD_S3_GET: path, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`ranged-get probe (${path}) exited ${code}: ${err.trim()}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as RangedProbeResult);
    });
  });
}

/** N ranged GETs per path and signing, one probe process each, against one s3rver. */
export async function measureRangedGets(n = 2000, concurrency = 8): Promise<RangedGets> {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-gets-'));
  const s3 = await startLocalS3({ buckets: [BUCKET] });
  try {
    const file = join(work, 'object.bin');
    const data = randomBytes(OBJECT_BYTES);
    await writeFile(file, data);
    const client = makeS3Client({ endpoint: s3.endpoint, credentials: { ...LOCAL_S3_CREDENTIALS }, socketTimeoutMs: 120_000 });
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: data }));
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY }));
    client.destroy();
    const base = { endpoint: s3.endpoint, bucket: BUCKET, key: KEY, size: OBJECT_BYTES, etag: head.ETag ?? '', n, minBytes: 16 * 1024, maxBytes: 64 * 1024 };
    const runs: RangedProbeResult[] = [];
    for (const signed of [true, false])
      for (const path of ['sdk', 'lean'] as const) {
        process.stderr.write(`bench: ${n} ranged GETs, ${path}, ${signed ? 'signed' : 'anonymous'}...\n`);
        runs.push(await runProbe({ ...base, signed, concurrency, file, s3pid: s3.pid }, path));
      }
    const identical = runs.every((r) => r.mismatches === 0 && r.sha256 === runs[0].sha256);
    return { n, concurrency, objectBytes: OBJECT_BYTES, runs, identical, loadAvg1: loadavg()[0] };
  } finally {
    await s3.stop();
    await rm(work, { recursive: true, force: true });
  }
}

export function rangedGetsMarkdown(g: RangedGets): string[] {
  const row = (r: RangedProbeResult) =>
    `| ${r.path === 'sdk' ? 'AWS SDK (before, DESI_QAD_S3_GET=sdk)' : 'lean (after)'} | ${r.signed ? 'signed' : 'anonymous'} | **${r.clientCpuUsPerGet.toFixed(0)} µs** | ${r.mainThreadCpuUsPerGet.toFixed(0)} µs | ${r.serverCpuSec.toFixed(2)} s (${((r.serverCpuSec / r.gets) * 1e6).toFixed(0)} µs/GET) | ${r.wallSec.toFixed(2)} s | ${(r.gets / r.wallSec).toFixed(0)} | ${r.mismatches === 0 ? 'yes' : `NO (${r.mismatches})`} |`;
  const pct = (signed: boolean) => {
    const before = g.runs.find((r) => r.signed === signed && r.path === 'sdk');
    const after = g.runs.find((r) => r.signed === signed && r.path === 'lean');
    return before && after
      ? `${signed ? 'signed' : 'anonymous'} ${((100 * (before.clientCpuUsPerGet - after.clientCpuUsPerGet)) / before.clientCpuUsPerGet).toFixed(0)} %`
      : '';
  };
  return [
    `Client CPU per ranged GET (${g.n} ranges of 16–64 KiB of a ${g.objectBytes / 2 ** 20} MiB object, ${g.concurrency} in flight, s3rver on loopback in its own process; CPU of the reading process from process.cpuUsage, its main thread from /proc):`,
    '',
    '| ranged GETs through | signing | client CPU per GET | main thread per GET | s3rver CPU over the same GETs | wall | GETs/s | bytes identical to the file |',
    '|---|---|---|---|---|---|---|---|',
    ...g.runs.map(row),
    '',
    `- Client CPU per GET cut by: ${pct(true)}, ${pct(false)}. Bytes of every run identical to the file and to each other: **${g.identical ? 'yes' : 'NO'}**.`,
    ...g.runs.map((r) => {
      const server = (100 * r.serverCpuSec) / r.wallSec;
      const client = (100 * r.clientCpuUsPerGet * r.gets) / 1e6 / r.wallSec;
      const bound =
        server >= 90
          ? 's3rver (one single-threaded process) bounds this run'
          : client >= 90
            ? 'the client bounds this run'
            : 'neither is saturated: the rest of the wall is waiting for a core';
      return `- ${r.path}, ${r.signed ? 'signed' : 'anonymous'}: s3rver busy ${server.toFixed(0)} % of the wall, the client ${client.toFixed(0)} %; ${bound}.`;
    }),
    ...(g.loadAvg1 !== undefined
      ? [`- Load average of the machine at the end: ${g.loadAvg1.toFixed(1)} (wall times and GETs/s include waiting for a core; CPU per GET less so).`]
      : []),
    '',
  ];
}
