/**
 * `desi-qad status` as users run it: on a finished local run of the fixture tree (one missing-source tile:
 * exit 1), on a complete one (exit 0), as JSON, on a folder that is no dataset and on an endpoint where
 * nothing answers (exit 4), on a run still in progress (a coadd read stalls: a live run, tiles remaining),
 * and on an S3 --out, where it gives the local counts from a few requests and writes nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uploadTree, type LocalS3 } from '../../src/dev/local-s3.js';
import { startFaultProxy } from '../../src/dev/fault-proxy.js';
import { makePlan, writePlan } from '../../src/pipeline/plan-file.js';
import type { StatusReport } from '../../src/cli/status-command.js';
import { LocalTileStore } from '../../src/storage/local-tree.js';
import { LocalOutputStore } from '../../src/storage/output-local.js';
import { S3Registry } from '../../src/storage/registry-s3.js';
import { newRunId } from '../../src/storage/run-id.js';
import { assertExit, collect, FIXTURE_TREE, listFiles, runCli, startCli } from '../helpers/cli.js';
import { closedPort, S3_TEST_TIMEOUT, signedClient, startFaultServer, startS3 } from '../helpers/s3.js';

const ALL = ['--survey', 'main,sv3', '--program', 'dark,bright', '--quiet', '--threads', '2'];
const ENV = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
const SOURCE = 's3://desidata/dr1/spectro/redux/iron/healpix';
let s3: LocalS3;
let work: string;
let finished: string;

before(async () => {
  s3 = await startS3(['desidata', 'results']);
  work = await mkdtemp(join(tmpdir(), 'desi-qad-status-'));
  await uploadTree(signedClient(s3.endpoint), FIXTURE_TREE, 'desidata', 'dr1/spectro/redux/iron/healpix');
  finished = join(work, 'finished');
  const logs = join(work, 'logs');
  await assertExit(await runCli(['convert', '--source', FIXTURE_TREE, '--out', finished, '--log-dir', logs, ...ALL]), 1, logs);
});
after(async () => {
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** `status --json` parsed, with its exit code. */
async function statusJson(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; s: StatusReport; stderr: string }> {
  const r = await runCli(['status', '--json', ...args], undefined, env);
  assert.ok(r.stdout.trim().startsWith('{'), `status --json printed JSON (exit ${r.code}): ${r.stdout}${r.stderr}`);
  return { code: r.code, s: JSON.parse(r.stdout) as StatusReport, stderr: r.stderr };
}

/** Every file under a folder with its size and mtime: what "status wrote nothing" is checked against. */
async function snapshot(root: string): Promise<string[]> {
  return Promise.all((await listFiles(root)).map(async (f) => `${f} ${(await stat(join(root, f))).size} ${(await stat(join(root, f))).mtimeMs}`));
}

test('a finished run with one missing-source tile: the table says so, exit 1, and nothing is written', { timeout: S3_TEST_TIMEOUT }, async () => {
  const before = await snapshot(finished);
  const r = await runCli(['status', '--out', finished]);
  await assertExit(r, 1);
  assert.match(r.stdout, /planned +: 7 tiles/);
  assert.match(r.stdout, /done +: 6 tiles \(ok 5, \d+ rows; empty 1\)/);
  assert.match(r.stdout, /missing source : 1 tiles/);
  assert.match(r.stdout, /missing: main\/dark\/27248: .*redrock/);
  assert.match(r.stdout, /remaining +: 1 tiles/);
  assert.match(r.stdout, /Live runs: 0/);
  assert.match(r.stdout, /Not complete: 1 of 7 tiles remain/);
  assert.deepEqual(await snapshot(finished), before, 'status wrote nothing to --out');

  const { code, s } = await statusJson(['--out', finished]);
  assert.equal(code, 1);
  assert.deepEqual(s.tiles, { planned: 7, done: 6, ok: 5, empty: 1, failed: 0, missing: 1, notStarted: 0, remaining: 1, outsidePlan: 0 });
  assert.deepEqual(
    s.missingTiles.map((m) => m.key),
    ['main/dark/27248'],
  );
  assert.ok(s.rows > 0 && s.fitsBytes > 0 && s.fetchedBytes > 0 && s.parquetBytes > 0, JSON.stringify(s));
  assert.ok(s.throughput.overallMBps !== null && s.throughput.overallMBps > 0);
  assert.equal(s.complete, false);
  assert.equal(s.identity?.source, FIXTURE_TREE);
  assert.equal(s.plan, null);
});

test('a complete run: exit 0; usage and unreadable datasets: exit 2 and 4', { timeout: S3_TEST_TIMEOUT }, async () => {
  const out = join(work, 'complete');
  const logs = join(work, 'logs-complete');
  await assertExit(
    await runCli([
      'convert',
      '--source',
      FIXTURE_TREE,
      '--out',
      out,
      '--log-dir',
      logs,
      '--survey',
      'main',
      '--program',
      'dark',
      '--tiles',
      '10304,23040',
      '--quiet',
    ]),
    0,
    logs,
  );
  const r = await runCli(['status', '--out', out]);
  await assertExit(r, 0);
  assert.match(r.stdout, /Complete: all 2 planned tiles are done/);
  const { code, s } = await statusJson(['--out', out]);
  assert.equal(code, 0);
  assert.equal(s.tiles.done, 2);
  assert.equal(s.complete, true);

  await assertExit(await runCli(['status']), 2);
  const empty = join(work, 'empty');
  await mkdir(empty);
  const none = await runCli(['status', '--out', empty]);
  await assertExit(none, 4);
  assert.match(none.stderr, /not a desi-qad dataset/);
  const port = await closedPort();
  const down = await runCli(['status', '--out', 's3://results/x', '--endpoint', `http://127.0.0.1:${port}`, '--max-attempts', '1'], undefined, ENV);
  await assertExit(down, 4);
  const lines = down.stderr.trim().split('\n');
  assert.equal(lines.length, 1, down.stderr);
  assert.match(lines[0], /^desi-qad status: .*hint: check --endpoint/);
});

test('a run in progress (a coadd read stalls): a live run and tiles remaining, exit 1', { timeout: S3_TEST_TIMEOUT }, async () => {
  const proxy = await startFaultProxy({
    upstream: s3.endpoint,
    plan: { rules: [{ fault: 'stallFirstByte', methods: ['GET'], keys: /coadd-main-dark-23040/ }] },
  });
  const out = join(work, 'running');
  const logs = join(work, 'logs-running');
  const child = startCli(
    ['convert', '--source', SOURCE, '--no-sign-request', '--endpoint', proxy.endpoint, '--cli-read-timeout', '120', '--out', out, '--log-dir', logs, ...ALL],
    undefined,
    ENV,
  );
  const done = collect(child);
  try {
    // Until the other tiles are journaled: 6 of the 7 have a record, the stalled one has none.
    let s: StatusReport | undefined;
    const end = Date.now() + 30_000;
    for (;;) {
      const got = await runCli(['status', '--json', '--out', out]);
      if (got.code === 1) {
        s = JSON.parse(got.stdout) as StatusReport;
        if (s.tiles.planned >= 6 && s.runs.some((x) => x.alive)) break;
      }
      assert.ok(Date.now() < end, `no progress to see: ${got.stdout}${got.stderr}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal(child.exitCode, null, 'the convert is still running');
    const live = s.runs.filter((x) => x.alive);
    assert.equal(live.length, 1);
    assert.equal(live[0].pid, child.pid);
    assert.ok(s.tiles.remaining >= 1);
    assert.equal(s.complete, false);

    // With a plan (as `desi-qad plan` writes it) the stalled tile counts too: planned 7, one not started.
    const discovered = await new LocalTileStore(FIXTURE_TREE).discover({ surveys: ['main', 'sv3'], programs: ['dark', 'bright'] });
    const plan = makePlan({
      tiles: discovered.tiles,
      shards: 2,
      created: new Date(),
      createdBy: 'test',
      source: SOURCE,
      selection: s.identity!.selection,
      surveys: ['main', 'sv3'],
      programs: ['dark', 'bright'],
    });
    await writePlan(new LocalOutputStore(out), plan);
    const r = await runCli(['status', '--out', out]);
    await assertExit(r, 1);
    assert.match(r.stdout, /Plan +: 2 shards, 7 tiles/);
    assert.match(r.stdout, /remaining +: 2 tiles \(1 not started/);
    assert.match(r.stdout, /--- Live runs: 1 ---\n {2}\S+ on \S+ pid \d+: heartbeat/);
    assert.match(r.stdout, /--- Shards ---\n {2}0\/2 +\d+ tiles: done \d+/);
  } finally {
    child.kill('SIGKILL');
    await done;
    await proxy.stop();
  }
});

test('--out s3://…: the counts of the local run, from a few GETs, and nothing written', { timeout: S3_TEST_TIMEOUT }, async () => {
  const logs = join(work, 'logs-s3');
  const out = 's3://results/status';
  await assertExit(
    await runCli(['convert', '--source', FIXTURE_TREE, '--out', out, '--endpoint', s3.endpoint, '--log-dir', logs, ...ALL], undefined, ENV),
    1,
    logs,
  );
  // Another run's heartbeat on the output (as a live convert keeps it): status lists it.
  const other = new S3Registry(signedClient(s3.endpoint), out, newRunId());
  await other.start();
  const seen = await startFaultServer(s3.endpoint, () => 'proxy');
  try {
    const { code, s, stderr } = await statusJson(['--out', out, '--endpoint', seen.endpoint], ENV);
    assert.equal(code, 1, stderr);
    assert.deepEqual(
      s.runs.map((x) => [x.run, x.alive, x.pid]),
      [[other.run, true, process.pid]],
    );
    const local = (await statusJson(['--out', finished])).s;
    assert.deepEqual(s.tiles, local.tiles);
    for (const k of ['rows', 'fitsBytes', 'fetchedBytes', 'parquetBytes', 'remainingBytes'] as const) assert.equal(s[k], local[k], k);
    assert.deepEqual(
      s.missingTiles.map((m) => m.key),
      ['main/dark/27248'],
    );
    const lists = seen.requests.filter((q) => q.method === 'GET' && /[?&]list-type=2/.test(q.url));
    const gets = seen.requests.filter((q) => q.method === 'GET' && !/[?&]list-type=2/.test(q.url));
    // The manifest, the plan (absent), the run record and the heartbeat; no GET per tile (7 here).
    assert.ok(gets.length <= 5, `GETs: ${gets.map((q) => q.url).join(', ')}`);
    assert.ok(lists.length <= 3, `LISTs: ${lists.map((q) => q.url).join(', ')}`);
    assert.deepEqual(
      seen.requests.filter((q) => q.method !== 'GET' && q.method !== 'HEAD').map((q) => `${q.method} ${q.url}`),
      [],
      'status wrote nothing',
    );
  } finally {
    await seen.close();
    await other.stop();
  }
});

test('a run with a failed tile: status names its error class with an example, exit 1', { timeout: S3_TEST_TIMEOUT }, async () => {
  const tree = join(work, 'broken-tree');
  await cp(FIXTURE_TREE, tree, { recursive: true });
  // A redrock whose first card is not SIMPLE: its tile fails, the others convert.
  const broken = join(tree, 'main/dark/230/23040/redrock-main-dark-23040.fits');
  const bytes = await readFile(broken);
  bytes.write('NOTFITS = T'.padEnd(80, ' '), 0, 'latin1');
  await writeFile(broken, bytes);
  const out = join(work, 'broken-out');
  const logs = join(work, 'logs-broken');
  await assertExit(await runCli(['convert', '--source', tree, '--out', out, '--log-dir', logs, ...ALL]), 1, logs);
  const r = await runCli(['status', '--out', out]);
  await assertExit(r, 1);
  assert.match(r.stdout, /failed +: 1 tiles/);
  const { s } = await statusJson(['--out', out]);
  assert.equal(s.tiles.failed, 1);
  assert.equal(s.failures.length, 1);
  assert.equal(s.failures[0].tiles, 1);
  assert.equal(s.failures[0].example.key, 'main/dark/23040');
  assert.ok(s.failures[0].example.message, 'the example carries its message');
  assert.match(r.stdout, new RegExp(`${s.failures[0].errorClass} : 1`));
});
