/**
 * The scheduler templates under deploy/ against a real single-node Slurm cluster (test/helpers/slurm.ts): a
 * trivial array sees its task ids; deploy/slurm/submit.sh (plan, the array of desi-qad-array.sbatch, the
 * dependent status job) over a local tree and over an S3 source on loopback gives the dataset a single
 * process gives; a task killed mid-read with SIGKILL and requeued still leaves an exact dataset and no
 * temporary file. The Kubernetes and AWS Batch templates cannot run here: they are parsed and checked
 * against the CLI. Skipped when Slurm or munge is not installed, unless DESI_QAD_REQUIRE_ORACLES=1 (CI).
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startFaultProxy } from '../../src/dev/fault-proxy.js';
import { uploadTree, type LocalS3 } from '../../src/dev/local-s3.js';
import { TEMP_MARK } from '../../src/storage/output-local.js';
import { smallSpecs, synthTree } from '../../src/synth/index.js';
import { assertExit, BIN, listFiles, REPO, runCli } from '../helpers/cli.js';
import { assertSameDataset } from '../helpers/dataset.js';
import { signedClient, startS3 } from '../helpers/s3.js';
import { jobInfo, missingSlurmBinaries, run, runOk, startSlurm, waitForJob, type JobInfo, type SlurmCluster } from '../helpers/slurm.js';

const SBATCH_TEMPLATE = join(REPO, 'deploy', 'slurm', 'desi-qad-array.sbatch');
const SUBMIT = join(REPO, 'deploy', 'slurm', 'submit.sh');
const missing = missingSlurmBinaries();
const required = process.env.DESI_QAD_REQUIRE_ORACLES === '1';
const isRoot = process.getuid?.() === 0;
/** Why the cluster tests are skipped, or false. Missing binaries under DESI_QAD_REQUIRE_ORACLES=1 fail instead. */
const skip =
  missing.length > 0 && !required
    ? `Slurm is not installed (missing ${missing.join(', ')}; apt-get install slurmd slurmctld slurm-client munge); set DESI_QAD_REQUIRE_ORACLES=1 to fail instead`
    : !isRoot && !required
      ? 'the test cluster runs its daemons as root'
      : false;

/** Small resources, so that two tasks run at once on a 2-core machine; given to every sbatch. */
const SBATCH_OPTIONS = '--cpus-per-task=1 --mem=1G --time=00:10:00';
const SHARDS = 4;

let work: string;
let cluster: SlurmCluster | undefined;
let tree: string;
let reference: string;
let selection: string[];

before(async () => {
  if (skip) return;
  work = await mkdtemp(join(tmpdir(), 'desi-qad-slurm-'));
  cluster = await startSlurm(join(work, 'cluster'));
  tree = join(work, 'tree');
  const specs = smallSpecs({ tiles: 12, seed: 7 });
  await synthTree({ out: tree, tiles: specs, wavelength: 'short' });
  selection = ['--survey', [...new Set(specs.map((s) => s.survey))].join(','), '--program', [...new Set(specs.map((s) => s.program))].join(',')];
  // The single-process run every scheduled run must reproduce.
  reference = join(work, 'reference');
  const logs = join(work, 'logs-reference');
  await assertExit(await runCli(['convert', '--source', tree, '--out', reference, '--log-dir', logs, '--quiet', '--threads', '2', ...selection]), 0, logs);
});

after(async () => {
  await cluster?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The environment of submit.sh and sbatch: the cluster's, with desi-qad as this checkout's bin. */
function jobEnv(): NodeJS.ProcessEnv {
  return { ...cluster!.env, DESIQAD: `${process.execPath} ${BIN}`, DESIQAD_SBATCH_OPTIONS: SBATCH_OPTIONS };
}

/** Runs a script with bash in `cwd` (where Slurm writes the jobs' output files) and collects its output. */
function runScript(script: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The jobs' output files in a folder (desi-qad_%A_%a.out, desi-qad-status_%j.out), last lines of each. */
async function jobOutputs(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const f of (await readdir(dir)).filter((x) => x.endsWith('.out')).sort()) {
    const text = await readFile(join(dir, f), 'utf8');
    parts.push(`--- ${f} (last 25 lines) ---\n${text.trimEnd().split('\n').slice(-25).join('\n')}`);
  }
  return parts.join('\n') || '(no job output files)';
}

/** Asserts every record is COMPLETED with exit 0, else fails with the records, the jobs' outputs and daemon logs. */
async function assertCompleted(what: string, jobs: JobInfo[], dir: string): Promise<void> {
  const bad = jobs.filter((j) => j.state !== 'COMPLETED' || j.exitCode !== '0:0');
  if (bad.length === 0) return;
  assert.fail(
    `${what}: ${bad.map((j) => `task ${j.arrayTaskId ?? j.jobId} ${j.state} ${j.exitCode}`).join(', ')}\n${await jobOutputs(dir)}\n${await cluster!.logs()}`,
  );
}

/** The files of a dataset folder whose names carry the temporary mark. */
async function temporaries(out: string): Promise<string[]> {
  return (await listFiles(out)).filter((f) => f.includes(TEMP_MARK));
}

/**
 * submit.sh OUT 4 ARGS in a fresh folder; waits for the array and the status job; asserts both completed and
 * the dataset equals the reference. Returns the job ids.
 */
async function submitAndCompare(name: string, args: string[]): Promise<void> {
  const dir = join(work, name);
  await mkdir(dir);
  const out = join(dir, 'out');
  const sub = await runScript(SUBMIT, [out, String(SHARDS), ...args, '--log-dir', join(dir, 'logs'), '--quiet'], dir, jobEnv());
  assert.equal(sub.code, 0, `submit.sh exited with ${sub.code}\n--- stderr ---\n${sub.stderr}\n--- stdout ---\n${sub.stdout}`);
  const arrayId = /^array job: (\d+)$/m.exec(sub.stdout)?.[1];
  const statusId = /^status job: (\d+)$/m.exec(sub.stdout)?.[1];
  assert.ok(arrayId && statusId, `submit.sh printed the job ids: ${sub.stdout}`);
  const tasks = await waitForJob(cluster!, arrayId, 120_000);
  assert.deepEqual(tasks.map((t) => t.arrayTaskId).sort(), ['0', '1', '2', '3'], 'one task per shard');
  await assertCompleted('array tasks', tasks, dir);
  // The status job ran after the array and found every planned tile done (exit 0).
  await assertCompleted('status job', await waitForJob(cluster!, statusId, 60_000), dir);
  await assertSameDataset(reference, out, 5);
  assert.deepEqual(await temporaries(out), [], 'no temporary file left');
  // Each shard logged to its own file, named after its shard.
  const logs = await readdir(join(dir, 'logs'));
  for (let k = 0; k < SHARDS; k++)
    assert.ok(
      logs.some((f) => f.endsWith(`_shard-${k}-of-${SHARDS}.log`)),
      `a log of shard ${k}: ${logs.join(', ')}`,
    );
}

test('a trivial 4-task array runs on the cluster and sees SLURM_ARRAY_TASK_ID 0..3', { skip, timeout: 60_000 }, async () => {
  const dir = join(work, 'trivial');
  await mkdir(dir);
  const script = join(dir, 'job.sh');
  await writeFile(script, '#!/bin/sh\necho "$SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT $SLURM_ARRAY_TASK_MIN" > "$1/task-$SLURM_ARRAY_TASK_ID.txt"\n');
  const id = (
    await runOk('sbatch', ['--parsable', '--array=0-3', ...SBATCH_OPTIONS.split(' '), `--output=${dir}/%A_%a.out`, script, dir], cluster!.env)
  ).trim();
  const tasks = await waitForJob(cluster!, id, 45_000);
  await assertCompleted('trivial array', tasks, dir);
  const seen = (await readdir(dir)).filter((f) => f.startsWith('task-')).sort();
  assert.deepEqual(seen, ['task-0.txt', 'task-1.txt', 'task-2.txt', 'task-3.txt']);
  for (let k = 0; k < 4; k++) assert.equal((await readFile(join(dir, `task-${k}.txt`), 'utf8')).trim(), `${k} 4 0`);
});

test('submit.sh over a local tree: plan, a 4-task array, the status job; the dataset of a single convert', { skip, timeout: 150_000 }, async () => {
  await submitAndCompare('local', ['--source', tree, ...selection]);
});

test('submit.sh over an S3 source on loopback (--endpoint, --no-sign-request): the same dataset', { skip, timeout: 150_000 }, async (t: TestContext) => {
  const s3 = await startS3(['desidata']);
  t.after(() => s3.stop());
  await uploadTree(signedClient(s3.endpoint), tree, 'desidata', 'healpix');
  await submitAndCompare('s3', ['--source', 's3://desidata/healpix', '--endpoint', s3.endpoint, '--no-sign-request', ...selection]);
});

test(
  'an array task killed mid-read (SIGKILL to all its processes) and requeued: the dataset is still exact, no temporaries',
  { skip, timeout: 150_000 },
  async (t: TestContext) => {
    const s3: LocalS3 = await startS3(['desidata']);
    t.after(() => s3.stop());
    await uploadTree(signedClient(s3.endpoint), tree, 'desidata', 'healpix');
    // Every request goes through the proxy; no fault until the plan is written.
    const proxy = await startFaultProxy({ upstream: s3.endpoint });
    t.after(() => proxy.stop());
    const dir = join(work, 'kill');
    await mkdir(dir);
    const out = join(dir, 'out');
    const logs = join(dir, 'logs');
    const s3Args = ['--source', 's3://desidata/healpix', '--endpoint', proxy.endpoint, '--no-sign-request'];
    await assertExit(await runCli(['plan', '--out', out, '--shards', String(SHARDS), ...s3Args, ...selection, '--log-dir', logs], dir), 0, logs);

    // Shard 1's first tile with a redrock (read for every tile, empty ones too): its first GET stalls until its
    // reader goes away, so task 1 is certainly mid-tile when it is killed; the requeued task's GET goes through
    // (maxPerKey 1).
    const plan = JSON.parse(await readFile(join(out, '_desi-qad', 'plan.json'), 'utf8')) as { tiles: { key: string; shard: number; redrock: unknown }[] };
    const victim = plan.tiles.find((x) => x.shard === 1 && x.redrock !== null);
    assert.ok(victim, 'shard 1 has a tile with a redrock');
    const [survey, program, healpix] = victim.key.split('/');
    const redrock = new RegExp(`/redrock-${survey}-${program}-${healpix}\\.fits$`);
    proxy.setPlan({ rules: [{ fault: 'stallFirstByte', methods: ['GET'], keys: redrock, maxPerKey: 1 }] });

    const env = { ...jobEnv(), OUT: out };
    const submitted = await run(
      'sbatch',
      // --chdir: the tasks' output files go to the test's folder, not the checkout.
      [
        '--parsable',
        `--array=0-${SHARDS - 1}`,
        `--chdir=${dirname(logs)}`,
        ...SBATCH_OPTIONS.split(' '),
        SBATCH_TEMPLATE,
        ...s3Args,
        '--log-dir',
        logs,
        '--quiet',
      ],
      env,
    );
    assert.equal(submitted.code, 0, `sbatch: ${submitted.stderr}`);
    const id = submitted.stdout.trim().split(';')[0];
    const task1 = `${id}_1`;

    // Wait for the stalled read, then kill every process of task 1 at once.
    const deadline = Date.now() + 60_000;
    while (proxy.stats().injected.stallFirstByte === 0) {
      const info = await jobInfo(cluster!, task1).catch(() => []);
      if (Date.now() > deadline || info.some((j) => j.state !== 'PENDING' && j.state !== 'RUNNING'))
        assert.fail(`task 1 never reached the stalled read: ${JSON.stringify(info)}\n${await jobOutputs(dir)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // SIGKILL to every process of task 1 at once, as the OOM killer or a lost node would. Not by `scancel
    // --signal=KILL --full`: Slurm turns a KILL into a plain cancel (SIGTERM, then SIGKILL after KillWait), which
    // desi-qad answers by stopping cleanly; `scontrol listpids` names the task's processes instead.
    const rawId = /JobId=(\d+)/.exec(await runOk('scontrol', ['show', 'job', '-o', task1], cluster!.env))?.[1];
    assert.ok(rawId, `the job id of ${task1}`);
    const pids = (await runOk('scontrol', ['listpids', rawId], cluster!.env))
      .split('\n')
      .map((l) => /^(\d+)\s/.exec(l)?.[1])
      .filter((p): p is string => p !== undefined)
      .map(Number);
    assert.ok(pids.length >= 2, `the batch shell and desi-qad: ${pids.join(', ')}`);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    const killed = await waitForJob(cluster!, task1, 30_000);
    assert.equal(killed[0].state, 'FAILED', `task 1 was killed: ${JSON.stringify(killed)}`);

    // Requeue it; Slurm holds a requeued job until its BeginTime, which is moved to now.
    await runOk('scontrol', ['requeue', task1], cluster!.env);
    await runOk('scontrol', ['update', `JobId=${task1}`, 'StartTime=now'], cluster!.env);
    const tasks = await waitForJob(cluster!, id, 120_000);
    await assertCompleted('array tasks after the requeue', tasks, dir);
    assert.equal(tasks.find((x) => x.arrayTaskId === '1')?.restarts, 1, 'task 1 ran twice');
    assert.equal(proxy.stats().injected.stallFirstByte, 1, 'one stalled read, the killed one');

    await assertExit(await runCli(['status', '--out', out, '--endpoint', proxy.endpoint, '--no-sign-request'], dir), 0);
    await assertSameDataset(reference, out, 5);
    assert.deepEqual(await temporaries(out), [], 'no temporary file left');
  },
);

test('the Kubernetes and AWS Batch templates parse and follow the CLI (exit codes 1, 2 final, 4 retried)', async () => {
  const batch = JSON.parse(await readFile(join(REPO, 'deploy', 'aws-batch', 'job-definition.json'), 'utf8')) as {
    containerProperties: { command: string[] };
    retryStrategy: { attempts: number; evaluateOnExit: { onExitCode?: string; action: string }[] };
  };
  assert.deepEqual(batch.containerProperties.command.slice(0, 4), ['desi-qad', 'convert', '--out', 'Ref::out']);
  const onExit = (code: string) => batch.retryStrategy.evaluateOnExit.find((r) => r.onExitCode === code)?.action;
  assert.deepEqual([onExit('1'), onExit('2'), onExit('4')], ['EXIT', 'EXIT', 'RETRY']);
  assert.ok(batch.retryStrategy.attempts >= 2);

  const yamlText = await readFile(join(REPO, 'deploy', 'k8s', 'indexed-job.yaml'), 'utf8');
  const yaml = await loadYaml();
  if (!yaml) {
    // Without a YAML parser (js-yaml comes with ESLint's dependencies), check the text.
    assert.match(yamlText, /completionMode: Indexed/);
    return;
  }
  interface Rule {
    action: string;
    onExitCodes?: { values: number[] };
  }
  interface K8sJob {
    kind: string;
    metadata: { name: string };
    spec: Record<string, unknown> & { template: { spec: { restartPolicy: string; containers: { args: string[] }[] } } };
  }
  const docs = yaml(yamlText) as K8sJob[];
  const indexed = docs.find((d) => d.spec.completionMode === 'Indexed');
  const planJob = docs.find((d) => d.spec.template.spec.containers[0].args[0] === 'plan');
  assert.ok(indexed && planJob, 'a plan Job and an Indexed Job');
  const planArgs = planJob.spec.template.spec.containers[0].args;
  assert.equal(planArgs[planArgs.indexOf('--shards') + 1], String(indexed.spec.completions), "the plan's --shards is the Job's completions");
  assert.equal(indexed.spec.template.spec.restartPolicy, 'Never');
  assert.equal(typeof indexed.spec.backoffLimitPerIndex, 'number');
  const rules = (indexed.spec.podFailurePolicy as { rules: Rule[] }).rules;
  const actionFor = (code: number) => rules.find((r) => r.onExitCodes?.values.includes(code))?.action;
  assert.deepEqual([actionFor(1), actionFor(2), actionFor(4)], ['FailIndex', 'FailIndex', 'Count']);
  const convertArgs = indexed.spec.template.spec.containers[0].args;
  assert.equal(convertArgs[0], 'convert');
  assert.ok(!convertArgs.includes('--shard'), 'the shard comes from JOB_COMPLETION_INDEX');
  assert.match(convertArgs[convertArgs.indexOf('--out') + 1], /^s3:\/\//);
});

test('the shell templates pass bash -n', async () => {
  for (const f of [SBATCH_TEMPLATE, SUBMIT, join(REPO, 'deploy', 'aws-batch', 'submit.sh')]) {
    assert.ok(existsSync(f), f);
    await runOk('bash', ['-n', f]);
  }
});

/** js-yaml's loadAll when it can be imported (it is a dependency of ESLint's, not of desi-qad), else undefined. */
/** Named through a variable: js-yaml has no type declarations here, and is not a dependency of desi-qad. */
const YAML_MODULE = 'js-yaml';

async function loadYaml(): Promise<((text: string) => unknown[]) | undefined> {
  try {
    const mod = (await import(YAML_MODULE)) as { loadAll?: (text: string) => unknown[]; default?: { loadAll?: (text: string) => unknown[] } };
    return mod.loadAll ?? mod.default?.loadAll;
  } catch {
    return undefined;
  }
}
