/**
 * Scale-out with real processes: `desi-qad plan --shards 4`, then 4 concurrent `convert` processes, each told
 * its shard the way a scheduler does (Kubernetes' JOB_COMPLETION_INDEX, AWS Batch's AWS_BATCH_JOB_ARRAY_INDEX,
 * Slurm's SLURM_ARRAY_TASK_ID with a MIN offset, or --shard K/N), write the same dataset as one plain run, on
 * a local --out and on S3. And the refusals: no plan, a plan of another N, --tiles given to a shard.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { assertExit, readLocalJournal, runCli, type CliResult } from '../helpers/cli.js';
import { assertSameDataset } from '../helpers/dataset.js';
import { S3_TEST_TIMEOUT, signedClient, startS3 } from '../helpers/s3.js';
import { smallSpecs, synthTree } from '../../src/synth/index.js';
import { parsePlan, type Plan } from '../../src/pipeline/plan-file.js';
import { readParquetFooter } from '../../src/parquet/footer.js';
import type { LocalS3 } from '../../src/dev/local-s3.js';

const SHARD_VARS = ['SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_MIN', 'SLURM_ARRAY_TASK_COUNT', 'JOB_COMPLETION_INDEX', 'AWS_BATCH_JOB_ARRAY_INDEX'];
/** The test's own environment without any scheduler's array variables (the tests may run inside a job). */
const BASE_ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !SHARD_VARS.includes(k)));
const RUN = ['--quiet', '--threads', '1', '--downloads', '2', '--batch-size', '2'];

let work: string;
let tree: string;
let clean: string;
let selectionArgs: string[];

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'desi-qad-shards-'));
  tree = join(work, 'tree');
  const specs = smallSpecs({ tiles: 10, seed: 11 });
  await synthTree({ out: tree, tiles: specs, wavelength: 'short' });
  selectionArgs = ['--survey', [...new Set(specs.map((s) => s.survey))].join(','), '--program', [...new Set(specs.map((s) => s.program))].join(',')];
  clean = join(work, 'clean');
  const r = await runCli(['convert', '--source', tree, '--out', clean, '--log-dir', join(work, 'logs-clean'), ...selectionArgs, ...RUN], undefined, BASE_ENV);
  await assertExit(r, 0, join(work, 'logs-clean'));
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Runs `desi-qad plan`; the plan it wrote (read back from a local --out; undefined for S3). */
async function plan(out: string, shards: number, extra: string[] = [], env = BASE_ENV): Promise<Plan | undefined> {
  const r = await runCli(
    ['plan', '--source', tree, '--out', out, '--shards', String(shards), '--log-dir', join(work, 'logs-plan'), ...selectionArgs, ...extra],
    undefined,
    env,
  );
  await assertExit(r, 0, join(work, 'logs-plan'));
  for (let k = 0; k < shards; k++) assert.match(r.stdout, new RegExp(`shard ${k}/${shards}: \\d+ tiles, [\\d,.]+ MB`));
  if (out.startsWith('s3://')) return undefined;
  return parsePlan(await readFile(join(out, '_desi-qad', 'plan.json'), 'utf8'), out);
}

/** Four shard processes at once, each with its own environment; their results in shard order. */
async function shards(out: string, logs: string, envOf: (k: number) => NodeJS.ProcessEnv, extra: string[] = []): Promise<CliResult[]> {
  return Promise.all([0, 1, 2, 3].map((k) => runCli(['convert', '--out', out, '--log-dir', logs, ...RUN, ...extra], undefined, { ...BASE_ENV, ...envOf(k) })));
}

/** Each shard logged to its own run_…_shard-K-of-4.log, which names where the shard came from. */
async function assertShardLogs(logs: string, from: string, p?: Plan): Promise<void> {
  const files = await readdir(logs);
  for (let k = 0; k < 4; k++) {
    const mine = files.filter((f) => new RegExp(`^run_\\d{8}_\\d{6}_shard-${k}-of-4(_\\d+)?\\.log$`).test(f));
    assert.equal(mine.length, 1, `one log for shard ${k}: ${files.join(', ')}`);
    const text = await readFile(join(logs, mine[0]), 'utf8');
    const tiles = p ? String(p.shardTiles[k]) : '\\d+';
    assert.match(text, new RegExp(`Shard ${k}/4 \\(from ${from}\\): ${tiles} tiles, [\\d,.]+ MB of the plan's \\d+ tiles`));
  }
}

test("plan --shards 4, then 4 shards from JOB_COMPLETION_INDEX: the plain run's dataset; a shard run again skips its tiles", async () => {
  const out = join(work, 'k8s');
  const logs = join(work, 'logs-k8s');
  const p = (await plan(out, 4))!;
  assert.equal(p.shards, 4);
  assert.equal(p.source, tree);
  assert.deepEqual(
    p.shardTiles.reduce((s, x) => s + x, 0),
    p.tiles.length,
  );
  const rs = await shards(out, logs, (k) => ({ JOB_COMPLETION_INDEX: String(k) }));
  for (const r of rs) await assertExit(r, 0, logs);
  await assertSameDataset(clean, out);
  await assertShardLogs(logs, 'JOB_COMPLETION_INDEX', p);
  // Every tile record names the shard that wrote it, and it is the plan's shard of that tile.
  const records = await readLocalJournal(out);
  const tiles = records.filter((r) => r.type === 'tile');
  assert.equal(tiles.length, p.tiles.length);
  for (const t of tiles) assert.equal(t.shard, `${p.tiles.find((x) => x.key === t.tile)!.shard}/4`, t.tile);
  assert.equal(records.filter((r) => r.type === 'run' && /^[0-3]\/4$/.test(r.shard ?? '')).length, 4);

  // Shard 1 again (its tiles are done): nothing converted, exit 0.
  const again = await runCli(['convert', '--out', out, '--log-dir', join(work, 'logs-k8s-again'), ...RUN], undefined, {
    ...BASE_ENV,
    JOB_COMPLETION_INDEX: '1',
  });
  await assertExit(again, 0);
  const [log] = await readdir(join(work, 'logs-k8s-again'));
  assert.match(log, /_shard-1-of-4\.log$/);
  const text = await readFile(join(work, 'logs-k8s-again', log), 'utf8');
  assert.match(text, new RegExp(`Found ${p.shardTiles[1]} completed tiles\\.`));
  assert.match(text, /Discovered 0 tiles remaining to be processed\./);
  assert.equal((await readLocalJournal(out)).filter((r) => r.type === 'tile').length, p.tiles.length, 'no tile journaled twice');

  // A new plan replaces the old one, and says so.
  const r = await runCli(
    ['plan', '--source', tree, '--out', out, '--shards', '2', '--log-dir', join(work, 'logs-plan'), ...selectionArgs],
    undefined,
    BASE_ENV,
  );
  await assertExit(r, 0);
  assert.match(r.stdout, /Replaced the plan .*\(4 shards/);
});

test("4 shards from AWS_BATCH_JOB_ARRAY_INDEX: the plain run's dataset", async () => {
  const out = join(work, 'batch');
  const logs = join(work, 'logs-batch');
  await plan(out, 4);
  const rs = await shards(out, logs, (k) => ({ AWS_BATCH_JOB_ARRAY_INDEX: String(k) }));
  for (const r of rs) await assertExit(r, 0, logs);
  await assertSameDataset(clean, out);
  await assertShardLogs(logs, 'AWS_BATCH_JOB_ARRAY_INDEX');
});

test("4 shards from SLURM_ARRAY_TASK_ID 1..4 with SLURM_ARRAY_TASK_MIN=1: the plain run's dataset", async () => {
  const out = join(work, 'slurm');
  const logs = join(work, 'logs-slurm');
  await plan(out, 4);
  const rs = await shards(out, logs, (k) => ({ SLURM_ARRAY_TASK_ID: String(k + 1), SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '4' }));
  for (const r of rs) await assertExit(r, 0, logs);
  await assertSameDataset(clean, out);
  await assertShardLogs(logs, 'SLURM_ARRAY_TASK_ID');
});

test('refusals (exit 2): no plan, a plan of 4 and --shard 1/3, --tiles given to a shard, a bad index', async () => {
  const none = await runCli(['convert', '--out', join(work, 'no-plan'), '--shard', '0/4', ...RUN], undefined, BASE_ENV);
  await assertExit(none, 2);
  assert.match(none.stderr, /no plan in .*no-plan: run `desi-qad plan --out .*no-plan --shards N …` first/);
  const fromEnv = await runCli(['convert', '--out', join(work, 'no-plan'), ...RUN], undefined, { ...BASE_ENV, JOB_COMPLETION_INDEX: '0' });
  await assertExit(fromEnv, 2);
  assert.match(fromEnv.stderr, /no plan in/);

  const out = join(work, 'refusals');
  await plan(out, 4);
  const other = await runCli(['convert', '--out', out, '--shard', '1/3', ...RUN], undefined, BASE_ENV);
  await assertExit(other, 2);
  assert.match(other.stderr, /has 4 shards, but --shard 1\/3 says 3/);
  const slurm = await runCli(['convert', '--out', out, ...RUN], undefined, { ...BASE_ENV, SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '3' });
  await assertExit(slurm, 2);
  assert.match(slurm.stderr, /has 4 shards, but SLURM_ARRAY_TASK_ID says 3/);
  const tiles = await runCli(['convert', '--out', out, '--shard', '0/4', '--tiles', '1', ...RUN], undefined, BASE_ENV);
  await assertExit(tiles, 2);
  assert.match(tiles.stderr, /--tiles cannot be given to a shard/);
  const survey = await runCli(['convert', '--out', out, '--survey', 'main', ...RUN], undefined, { ...BASE_ENV, JOB_COMPLETION_INDEX: '0' });
  await assertExit(survey, 2);
  assert.match(survey.stderr, /--survey cannot be given to a shard \(JOB_COMPLETION_INDEX\)/);
  const bad = await runCli(['convert', '--out', out, ...RUN], undefined, { ...BASE_ENV, JOB_COMPLETION_INDEX: '4' });
  await assertExit(bad, 2);
  assert.match(bad.stderr, /JOB_COMPLETION_INDEX=4 is outside the plan's shards 0\.\.3/);
  const junk = await runCli(['convert', '--out', out, '--shard', '4/4', ...RUN], undefined, BASE_ENV);
  await assertExit(junk, 2);
  // Nothing of the refused runs reached the dataset.
  assert.equal((await readLocalJournal(out)).length, 0);
  // --shard none: a plain run whatever the environment says (it discovers, and logs to run_….log).
  const plain = await runCli(
    ['convert', '--source', tree, '--out', out, '--shard', 'none', '--log-dir', join(work, 'logs-none'), ...selectionArgs, ...RUN],
    undefined,
    { ...BASE_ENV, JOB_COMPLETION_INDEX: '0' },
  );
  await assertExit(plain, 0, join(work, 'logs-none'));
  const [log] = await readdir(join(work, 'logs-none'));
  assert.match(log, /^run_\d{8}_\d{6}\.log$/);
});

test("plan --with resolution: the shards take the plan's --with (their files have B_RESOLUTION); another --with is refused (exit 2)", async () => {
  const out = join(work, 'with');
  const p = await plan(out, 2, ['--with', 'resolution']);
  assert.deepEqual(p?.with, ['resolution'], 'the plan records --with');
  const refused = await runCli(['convert', '--out', out, '--shard', '0/2', '--with', 'resolution,qso_qn', ...RUN], undefined, BASE_ENV);
  await assertExit(refused, 2);
  // The dataset's identity (made by plan) refuses it first; the plan's own check is the unit test's.
  assert.match(refused.stderr, /with: "none" in the dataset, "qso_qn" in this run/);
  const logs = join(work, 'logs-with');
  const rs = await Promise.all([0, 1].map((k) => runCli(['convert', '--out', out, '--shard', `${k}/2`, '--log-dir', logs, ...RUN], undefined, BASE_ENV)));
  for (const r of rs) await assertExit(r, 0, logs);
  const files = (await readdir(out, { recursive: true })).filter((f) => f.endsWith('.parquet') && !f.startsWith('_'));
  assert.ok(files.length > 0, 'the shards wrote files');
  for (const f of files) {
    const names = readParquetFooter(new Uint8Array(await readFile(join(out, f)))).rowGroups[0].columns.map((c) => c.path[0]);
    for (const arm of ['B', 'R', 'Z']) assert.ok(names.includes(`${arm}_RESOLUTION`), `${f} has ${arm}_RESOLUTION`);
  }
});

test("--out s3://…: plan and 4 shards (--shard K/4) on s3rver give the plain run's dataset", { timeout: S3_TEST_TIMEOUT }, async () => {
  let s3: LocalS3 | undefined;
  try {
    s3 = await startS3(['results']);
    const env = { ...BASE_ENV, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
    const out = 's3://results/qso';
    await plan(out, 4, ['--endpoint', s3.endpoint], env);
    const logs = join(work, 'logs-s3');
    const rs = await Promise.all(
      [0, 1, 2, 3].map((k) => runCli(['convert', '--out', out, '--endpoint', s3!.endpoint, '--shard', `${k}/4`, '--log-dir', logs, ...RUN], undefined, env)),
    );
    for (const r of rs) await assertExit(r, 0, logs);
    await assertShardLogs(logs, '--shard');
    // The bucket's dataset files, copied to a folder, compared with the plain run's.
    const client = signedClient(s3.endpoint);
    const local = join(work, 's3-copy');
    let token: string | undefined;
    let n = 0;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: 'results', Prefix: 'qso/', ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        if (!o.Key?.endsWith('.parquet') || o.Key.startsWith('qso/_desi-qad/')) continue;
        const body = await (await client.send(new GetObjectCommand({ Bucket: 'results', Key: o.Key }))).Body!.transformToByteArray();
        const file = join(local, o.Key.slice('qso/'.length));
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, body);
        n += 1;
      }
      token = page.NextContinuationToken;
    } while (token);
    assert.ok(n >= 1, 'dataset files in the bucket');
    await assertSameDataset(clean, local);
  } finally {
    await s3?.stop();
  }
});
