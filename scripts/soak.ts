/**
 * `npm run soak -- [--duration SEC | --rounds N] [--seed S]`: the reliability tests of `npm test`, for longer.
 * Each round: a seeded fuzz batch on real-layout FITS, a run of `desi-qad convert` killed with SIGKILL at random
 * moments and resumed until it completes, and a run through the fault-injecting proxy in front of s3rver with a
 * fresh random plan, and 2 to 4 concurrent writers on one --out with one of them killed at a random moment; once
 * per soak, the hostile corpus. Every finished dataset is compared with a clean run's,
 * byte for byte, and the rows lost are counted (the answer must be 0). Writes bench/results/soak.{json,md}.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { smallSpecs, synthTree } from '../src/synth/index.js';
import { LOCAL_S3_CREDENTIALS, startLocalS3, uploadTree } from '../src/dev/local-s3.js';
import { FAULT_KINDS, startFaultProxy, type FaultRule } from '../src/dev/fault-proxy.js';
import { makeS3Client } from '../src/storage/s3-client.js';
import { readParquetFooter } from '../src/parquet/footer.js';
import { mulberry32 } from '../src/util/prng.js';
import { runFuzz } from '../test/helpers/fuzz.js';
import { materializeHostileTree } from '../test/hostile/corpus.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(REPO, 'bin', 'desi-qad.js');
const argv = process.argv.slice(2);
const opt = (n: string) => (argv.includes(`--${n}`) ? argv[argv.indexOf(`--${n}`) + 1] : undefined);
const rounds = opt('rounds') !== undefined ? Number(opt('rounds')) : Infinity;
const durationSec = opt('duration') !== undefined ? Number(opt('duration')) : rounds === Infinity ? 600 : Infinity;
const seed = Number(opt('seed') ?? Date.now() % 1e9);

/** Short leases, so a killed writer's claims on another host would expire within the round (same host: at once). */
const SOAK_ENV = { ...process.env, DESI_QAD_LEASE_MS: '3000' };

function cli(args: string[], env: NodeJS.ProcessEnv = SOAK_ENV) {
  const child = spawn(process.execPath, [BIN, ...args, '--quiet'], { stdio: 'ignore', env });
  const done = new Promise<number | null>((resolve) => child.on('close', (code, signal) => resolve(signal ? null : code)));
  return { child, done };
}

/** Parquet files under a folder with their bytes, keyed by relative path. */
async function dataset(root: string, rel = ''): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of await readdir(join(root, rel), { withFileTypes: true }).catch(() => [])) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) for (const [k, v] of await dataset(root, p)) out.set(k, v);
    else if (e.name.endsWith('.parquet')) out.set(p, await readFile(join(root, p)));
    else if (e.name.includes('.desi-qad-tmp-')) out.set(p, Buffer.from('temporary file left behind'));
  }
  return out;
}

/** Rows of the clean dataset that the other lacks or holds differently (whole files compared byte for byte). */
function rowsLost(clean: Map<string, Buffer>, got: Map<string, Buffer>): number {
  let lost = 0;
  for (const [k, v] of clean) if (!got.get(k)?.equals(v)) lost += readParquetFooter(new Uint8Array(v)).numRows;
  for (const k of got.keys()) if (!clean.has(k)) lost += 1; // an extra or temporary file counts as damage
  return lost;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-soak-'));
  const rnd = mulberry32(seed);
  const tree = join(work, 'tree');
  const specs = smallSpecs({ tiles: 16, seed: 4 }).map((s) => ({ ...s, survey: 'main', program: 'dark' }));
  await synthTree({ out: tree, tiles: specs, wavelength: 'full' });
  const base = ['--survey', 'main', '--program', 'dark', '--threads', '2', '--batch-size', '4'];
  const cleanOut = join(work, 'clean');
  await cli(['convert', '--source', tree, '--out', cleanOut, '--log-dir', join(work, 'logs'), ...base]).done;
  const clean = await dataset(cleanOut);

  const s3 = await startLocalS3({ buckets: ['desidata'] });
  const client = makeS3Client({ endpoint: s3.endpoint, credentials: LOCAL_S3_CREDENTIALS });
  await uploadTree(client, tree, 'desidata', 'healpix');
  client.destroy();
  const proxy = await startFaultProxy({ upstream: s3.endpoint });
  const s3args = (out: string, endpoint: string) => [
    'convert',
    '--source',
    's3://desidata/healpix',
    '--endpoint',
    endpoint,
    '--no-sign-request',
    '--out',
    out,
    '--log-dir',
    join(work, 'logs'),
    '--cli-read-timeout',
    '2',
    ...base,
  ];
  const cleanS3Out = join(work, 'clean-s3');
  await cli(s3args(cleanS3Out, s3.endpoint)).done;
  const cleanS3 = await dataset(cleanS3Out);

  const totals = {
    rounds: 0,
    fuzzCases: 0,
    fuzzProblems: 0,
    kills: 0,
    killRuns: 0,
    concurrentRounds: 0,
    concurrentWriters: 0,
    concurrentKills: 0,
    faultRuns: 0,
    faultsInjected: 0,
    hostileFiles: 0,
    rowsLost: 0,
    datasetsCompared: 0,
  };
  const lost = { killed: 0, concurrent: 0, faults: 0 };
  const injected: Record<string, number> = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0]));
  try {
    // The hostile corpus, once.
    const hostile = join(work, 'hostile');
    const cases = await materializeHostileTree(hostile);
    const code = await cli([
      'convert',
      '--source',
      hostile,
      '--out',
      join(work, 'hostile-out'),
      '--log-dir',
      join(work, 'logs'),
      '--max-failure-rate',
      '1',
      '--threads',
      '2',
    ]).done;
    if (code !== 1) throw new Error(`the hostile corpus run ended with ${code}, not 1`);
    totals.hostileFiles = cases.length;

    while (totals.rounds < rounds && (Date.now() - t0) / 1000 < durationSec) {
      const r = totals.rounds++;
      process.stderr.write(`soak: round ${r + 1} (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
      const fz = await runFuzz({ seed: seed + r, iterations: 300, timeLimitMs: 10_000, bothFetchModes: false });
      totals.fuzzCases += fz.cases;
      totals.fuzzProblems += fz.problems.length;

      // kill -9 at random moments until the run completes.
      const out = join(work, `killed-${r}`);
      // At most 8 kills; a run that was still killed every time is then run once more without a kill (the
      // start-up of a loaded machine can outlast the kill window), so the comparison is of a finished dataset.
      let finished = false;
      for (let attempt = 0; attempt < 8 && !finished; attempt++) {
        const run = cli(['convert', '--source', tree, '--out', out, '--log-dir', join(work, 'logs'), ...base]);
        const timer = setTimeout(() => run.child.kill('SIGKILL'), 100 + Math.floor(rnd() * 1500));
        const code = await run.done;
        clearTimeout(timer);
        if (code === null) totals.kills += 1;
        else finished = true;
      }
      if (!finished) await cli(['convert', '--source', tree, '--out', out, '--log-dir', join(work, 'logs'), ...base]).done;
      totals.killRuns += 1;
      const lostKilled = rowsLost(clean, await dataset(out));
      lost.killed += lostKilled;
      totals.rowsLost += lostKilled;
      totals.datasetsCompared += 1;

      // Concurrent writers on one --out, one of them killed at a random moment; a last run completes it.
      const cout = join(work, `concurrent-${r}`);
      const writers = 2 + Math.floor(rnd() * 3);
      const runs = Array.from({ length: writers }, () => cli(['convert', '--source', tree, '--out', cout, '--log-dir', join(work, 'logs'), ...base]));
      const victim = runs[Math.floor(rnd() * writers)];
      const killTimer = setTimeout(() => victim.child.kill('SIGKILL'), 100 + Math.floor(rnd() * 1500));
      const codes = await Promise.all(runs.map((x) => x.done));
      clearTimeout(killTimer);
      if (codes.includes(null)) totals.concurrentKills += 1;
      for (const c of codes) if (c !== null && c !== 0) throw new Error(`a concurrent writer ended with ${c}, not 0`);
      const last = await cli(['convert', '--source', tree, '--out', cout, '--log-dir', join(work, 'logs'), ...base]).done;
      if (last !== 0) throw new Error(`the run after the concurrent writers ended with ${String(last)}, not 0`);
      totals.concurrentRounds += 1;
      totals.concurrentWriters += writers;
      const lostConcurrent = rowsLost(clean, await dataset(cout));
      lost.concurrent += lostConcurrent;
      totals.rowsLost += lostConcurrent;
      totals.datasetsCompared += 1;
      await rm(cout, { recursive: true, force: true });

      // Faults between the run and S3, with a fresh plan.
      const rules: FaultRule[] = FAULT_KINDS.filter((k) => k !== 'replaceObject').map((fault) => ({
        fault,
        methods: ['GET'],
        probability: 0.02 + rnd() * 0.06,
        maxPerKey: 2,
        stallMs: fault.startsWith('stall') ? 4000 : undefined,
      }));
      proxy.setPlan({ seed: seed + r, rules });
      const before = proxy.stats().injected;
      const fout = join(work, `faulty-${r}`);
      for (let attempt = 0; attempt < 3; attempt++) if ((await cli(s3args(fout, proxy.endpoint)).done) === 0) break;
      const after = proxy.stats().injected;
      for (const k of FAULT_KINDS) {
        injected[k] += after[k] - before[k];
        totals.faultsInjected += after[k] - before[k];
      }
      totals.faultRuns += 1;
      const lostFaults = rowsLost(cleanS3, await dataset(fout));
      lost.faults += lostFaults;
      totals.rowsLost += lostFaults;
      totals.datasetsCompared += 1;
      await rm(out, { recursive: true, force: true });
      await rm(fout, { recursive: true, force: true });
    }
  } finally {
    await proxy.stop();
    await s3.stop();
    await rm(work, { recursive: true, force: true });
  }
  const result = { date: new Date().toISOString().slice(0, 10), seed, seconds: Math.round((Date.now() - t0) / 1000), ...totals, injected, lost };
  const md = [
    `Soak of ${result.date} (seed ${seed}, ${result.seconds} s, ${result.rounds} rounds):`,
    '',
    '| what | count |',
    '|---|---|',
    `| fuzz cases (mutated real-layout FITS through the tile job) | ${totals.fuzzCases} (problems: ${totals.fuzzProblems}) |`,
    `| SIGKILLs survived (runs killed at random, then resumed) | ${totals.kills} in ${totals.killRuns} runs |`,
    `| concurrent writers on one --out (one killed at random in ${totals.concurrentKills} rounds), then one run to finish | ${totals.concurrentWriters} in ${totals.concurrentRounds} rounds |`,
    `| S3 faults injected (${Object.entries(injected)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}) | ${totals.faultsInjected} in ${totals.faultRuns} runs |`,
    `| hostile FITS files tried | ${totals.hostileFiles} |`,
    `| datasets compared with a clean run, byte for byte | ${totals.datasetsCompared} |`,
    `| **rows lost** (killed runs ${lost.killed}, concurrent writers ${lost.concurrent}, S3 faults ${lost.faults}) | **${totals.rowsLost}** |`,
  ].join('\n');
  await mkdir(join(REPO, 'bench', 'results'), { recursive: true });
  await writeFile(join(REPO, 'bench', 'results', 'soak.json'), JSON.stringify(result, null, 2) + '\n');
  await writeFile(join(REPO, 'bench', 'results', 'soak.md'), md + '\n');
  process.stdout.write(md + '\n');
  if (totals.rowsLost > 0 || totals.fuzzProblems > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`soak failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
