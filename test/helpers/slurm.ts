/**
 * A real single-node Slurm cluster for tests (shared/reference/slurm-local.md): munged (started when not
 * already answering), a slurm.conf under a scratch folder with free ports and the node's real CPUs and memory
 * (`slurmd -C`), slurmctld and slurmd started with `-f`, and `sinfo` polled until the node is idle. Runs as
 * root without systemd; the daemons are stopped by the pids in their pid files, never by name.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** The commands the cluster needs; the test is skipped (or fails under DESI_QAD_REQUIRE_ORACLES=1) without them. */
export const SLURM_BINARIES = ['slurmctld', 'slurmd', 'sbatch', 'squeue', 'sinfo', 'scontrol', 'scancel', 'munged', 'munge', 'unmunge'] as const;

/** The binaries of SLURM_BINARIES that are not on PATH (or in /usr/sbin), empty when all are there. */
export function missingSlurmBinaries(): string[] {
  return SLURM_BINARIES.filter((b) => findBinary(b) === undefined);
}

/** A running test cluster. */
export interface SlurmCluster {
  /** The environment for sbatch/squeue/scontrol/…: the caller's, with SLURM_CONF pointing at this cluster. */
  env: NodeJS.ProcessEnv;
  /** The cluster's folder (slurm.conf, logs, state, spool). */
  dir: string;
  /** The node's name (this host's short name). */
  node: string;
  /** Stops slurmd and slurmctld (by their pid files) and waits until both are gone. */
  stop(): Promise<void>;
  /** The last lines of both daemons' logs, for failure messages. */
  logs(): Promise<string>;
}

/** The result of a command run to its end. */
export interface CmdResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (no shell) and collects its output; never rejects on a non-zero exit. */
export function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 30_000): Promise<CmdResult> {
  return new Promise((resolve) => {
    execFile(findBinary(cmd) ?? cmd, args, { env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr: stderr || (err && typeof err.code !== 'number' ? err.message : '') });
    });
  });
}

/** Runs a command and returns its stdout, throwing with its stderr when it fails. */
export async function runOk(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv, timeoutMs?: number): Promise<string> {
  const r = await run(cmd, args, env, timeoutMs);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/**
 * Starts a cluster under `dir` (created if needed). Throws, with the daemons' log lines, when it does not come
 * up within `timeoutMs`.
 */
export async function startSlurm(dir: string, timeoutMs = 30_000): Promise<SlurmCluster> {
  const missing = missingSlurmBinaries();
  if (missing.length > 0) throw new Error(`Slurm test cluster: missing ${missing.join(', ')} (apt-get install slurmd slurmctld slurm-client munge)`);
  await ensureMunge();
  for (const d of ['state', 'spool']) await mkdir(join(dir, d), { recursive: true });
  const node = hostname().split('.')[0];
  const nodeLine = await nodeConfig(node);
  const [ctldPort, dPort] = await freePorts(2);
  const conf = join(dir, 'slurm.conf');
  await writeFile(
    conf,
    [
      'ClusterName=desiqadtest',
      `SlurmctldHost=${node}`,
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(dir, 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'slurmd.log')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SchedulerType=sched/backfill',
      // Quick scheduling: a test waits for jobs, not for the scheduler's default cadence.
      'SchedulerParameters=sched_interval=1,bf_interval=1',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'ReturnToService=2',
      'MpiDefault=none',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      // Keep finished jobs' records (states, exit codes) for `scontrol show job` until the test has read them.
      'MinJobAge=600',
      'KillWait=5',
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${dPort}`,
      `${nodeLine} State=UNKNOWN`,
      `PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = { ...process.env, SLURM_CONF: conf };
  // A test process that ends without calling stop() (a failed before(), an uncaught error) still stops the
  // daemons: their pids are read now and killed on exit.
  const onExit = () => killDaemonsSync(dir);
  process.once('exit', onExit);
  const cluster: SlurmCluster = {
    env,
    dir,
    node,
    stop: async () => {
      process.removeListener('exit', onExit);
      await stopDaemons(dir);
    },
    logs: () => daemonLogs(dir),
  };
  try {
    // Both daemonize; -f names the config explicitly (SLURM_CONF is set too, for the commands).
    await runOk('slurmctld', ['-f', conf], env);
    await runOk('slurmd', ['-f', conf], env);
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const r = await run('sinfo', ['-h', '-N', '-o', '%N %t'], env, 5000);
      last = (r.stdout + r.stderr).trim();
      if (r.code === 0 && new RegExp(`^${node} idle`, 'm').test(last)) break;
      if (Date.now() > deadline) throw new Error(`the node did not become idle within ${timeoutMs / 1000} s; sinfo says: ${last || '(nothing)'}`);
      await sleep(300);
    }
  } catch (err) {
    const logs = await daemonLogs(dir);
    await stopDaemons(dir);
    throw new Error(`Slurm test cluster under ${dir} did not start: ${(err as Error).message}\n${logs}`);
  }
  return cluster;
}

/** A slurm.conf NodeName line with this machine's real topology and memory (`slurmd -C`, first line). */
async function nodeConfig(node: string): Promise<string> {
  const out = await runOk('slurmd', ['-C']);
  const line = out.split('\n').find((l) => l.startsWith('NodeName='));
  if (!line) throw new Error(`slurmd -C printed no NodeName line: ${out}`);
  return line.replace(/^NodeName=\S+/, `NodeName=${node}`).trim();
}

/** munged answering: a key (made if absent) and the daemon, started only when `munge -n | unmunge` fails. */
async function ensureMunge(): Promise<void> {
  if (await mungeWorks()) return;
  const key = '/etc/munge/munge.key';
  await mkdir('/etc/munge', { recursive: true });
  const ids = spawnSync('id', ['-u', 'munge'], { encoding: 'utf8' });
  const gids = spawnSync('id', ['-g', 'munge'], { encoding: 'utf8' });
  if (ids.status !== 0 || gids.status !== 0) throw new Error('munge: there is no "munge" user (is the munge package installed?)');
  const [uid, gid] = [Number(ids.stdout.trim()), Number(gids.stdout.trim())];
  if (!existsSync(key)) await writeFile(key, randomBytes(1024), { mode: 0o400 });
  await chown(key, uid, gid);
  await chmod(key, 0o400);
  await mkdir('/run/munge', { recursive: true });
  await chown('/run/munge', uid, gid);
  // --force: munged refuses otherwise over the ownership of /var/log/munge in containers; it works.
  const r = await run('munged', ['--force']);
  if (r.code !== 0) throw new Error(`munged --force exited with ${r.code}: ${r.stderr.trim()}`);
  for (let i = 0; i < 50; i++) {
    if (await mungeWorks()) return;
    await sleep(100);
  }
  throw new Error('munged started but `munge -n | unmunge` does not succeed');
}

/** Whether a credential made by `munge -n` decodes with `unmunge` (munged running with a key). */
async function mungeWorks(): Promise<boolean> {
  const cred = await run('munge', ['-n'], process.env, 5000);
  if (cred.code !== 0) return false;
  const r = spawnSync(findBinary('unmunge') ?? 'unmunge', [], { input: cred.stdout, encoding: 'utf8', timeout: 5000 });
  return r.status === 0 && /STATUS:\s+Success/.test(r.stdout);
}

/** `n` distinct TCP ports free on this machine right now (listened on and closed). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const s = createServer();
          s.on('error', reject);
          s.listen(0, () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (a === null || typeof a === 'string') throw new Error('no port');
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Stops slurmd, then slurmctld, by the pids in their pid files (SIGTERM, then SIGKILL after 10 s). */
async function stopDaemons(dir: string): Promise<void> {
  for (const name of ['slurmd', 'slurmctld']) {
    let pid: number;
    try {
      pid = Number((await readFile(join(dir, `${name}.pid`), 'utf8')).trim());
    } catch {
      continue;
    }
    if (!Number.isInteger(pid) || pid <= 1 || !alive(pid)) continue;
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (alive(pid) && Date.now() < deadline) await sleep(100);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
}

/** SIGKILL to both daemons by their pid files, synchronously (for the process's exit hook). */
function killDaemonsSync(dir: string): void {
  for (const name of ['slurmd', 'slurmctld']) {
    try {
      const pid = Number(readFileSync(join(dir, `${name}.pid`), 'utf8').trim());
      if (Number.isInteger(pid) && pid > 1) process.kill(pid, 'SIGKILL');
    } catch {
      // no pid file, or the daemon is gone
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The last 30 lines of slurmctld.log and slurmd.log under `dir`. */
async function daemonLogs(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const name of ['slurmctld', 'slurmd']) {
    let text: string;
    try {
      text = await readFile(join(dir, `${name}.log`), 'utf8');
    } catch (err) {
      text = `(no log: ${(err as Error).message})`;
    }
    parts.push(`--- ${name}.log (last 30 lines) ---\n${text.trimEnd().split('\n').slice(-30).join('\n')}`);
  }
  return parts.join('\n');
}

/** A command's path: on PATH, or in /usr/sbin and /sbin (daemons, often not on a non-root PATH). */
function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/sbin', '/usr/bin'];
  for (const d of dirs) if (existsSync(join(d, name))) return join(d, name);
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Terminal job states (`scontrol show job`'s JobState). */
const DONE_STATES = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE']);

/** One job (or array task) as `scontrol show job -o` describes it. */
export interface JobInfo {
  jobId: string;
  arrayTaskId?: string;
  state: string;
  exitCode: string;
  restarts: number;
  reason: string;
}

/** Every record of a job (an array job: one per task, pending ranges folded) from `scontrol show job -o`. */
export async function jobInfo(cluster: SlurmCluster, jobId: string): Promise<JobInfo[]> {
  const out = await runOk('scontrol', ['show', 'job', '-o', jobId], cluster.env);
  return out
    .split('\n')
    .filter((l) => l.includes('JobId='))
    .map((l) => {
      const f = (k: string) => new RegExp(`(?:^| )${k}=(\\S*)`).exec(l)?.[1];
      return {
        jobId: f('JobId') ?? '?',
        arrayTaskId: f('ArrayTaskId'),
        state: f('JobState') ?? '?',
        exitCode: f('ExitCode') ?? '?',
        restarts: Number(f('Restarts') ?? 0),
        reason: f('Reason') ?? '',
      };
    });
}

/**
 * Waits until every record of a job (every task of an array) is in a terminal state, and returns them. Throws
 * after `timeoutMs`, with the records and the daemons' logs.
 */
export async function waitForJob(cluster: SlurmCluster, jobId: string, timeoutMs = 120_000): Promise<JobInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await jobInfo(cluster, jobId);
    if (info.length > 0 && info.every((j) => DONE_STATES.has(j.state))) return info;
    if (Date.now() > deadline) throw new Error(`job ${jobId} not finished after ${timeoutMs / 1000} s: ${JSON.stringify(info)}\n${await cluster.logs()}`);
    await sleep(500);
  }
}
