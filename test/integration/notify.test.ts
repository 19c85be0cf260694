/**
 * --notify: a real HTTP receiver on loopback (node:http in this process) gets every event of a real run once,
 * with the counts the journal holds, in Slack's body and in the structured one; a receiver that answers 500,
 * one that closes the connection and one that never answers change neither the run's exit status nor its
 * dataset, cost at most the bounded drain at the end, and are logged once per event kind; the failure-rate
 * stop, a signal stop and a fatal stop notify; the webhook's URL (its token) is in no log, stdout or stderr.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertExit, collect, FIXTURE_TREE, latestLog, listFiles, readLocalJournal, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { smallSpecs, synthTree } from '../../src/synth/index.js';
import type { TileRecord } from '../../src/storage/journal-store.js';

const TOKEN = 'SECRETTOKEN';
const HOOK_PATH = `/hooks/T000/${TOKEN}`;
const FIXTURE = ['--source', FIXTURE_TREE, '--survey', 'main,sv3', '--program', 'dark,bright', '--threads', '2', '--quiet'];

type Mode = 'ok' | 'fail500' | 'close' | 'hang';

interface Receiver {
  url: string;
  /** The bodies received, in order (for 'close' and 'hang' too: the request was read before the fault). */
  bodies: string[];
  close(): Promise<void>;
}

const servers: Server[] = [];
after(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A webhook receiver on 127.0.0.1 that answers 200, answers 500, destroys the socket, or never answers. */
async function startReceiver(mode: Mode): Promise<Receiver> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      assert.equal(req.url, HOOK_PATH);
      assert.equal(req.method, 'POST');
      bodies.push(body);
      if (mode === 'ok') res.end('ok');
      else if (mode === 'fail500') {
        res.statusCode = 500;
        res.end('receiver broke');
      } else if (mode === 'close') req.socket.destroy();
      // 'hang': never answers.
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${HOOK_PATH}`,
    bodies,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Every log file of a folder, concatenated. */
async function allLogs(dir: string): Promise<string> {
  const files = await readdir(dir);
  return (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')))).join('\n');
}

/** The webhook's URL, path and token appear in no log file, nor on stdout or stderr. */
async function assertNoSecret(r: CliResult, logDir: string, url: string): Promise<void> {
  const logs = await allLogs(logDir);
  for (const [where, text] of [
    ['log', logs],
    ['stdout', r.stdout],
    ['stderr', r.stderr],
  ] as const) {
    for (const secret of [url, HOOK_PATH, TOKEN]) assert.ok(!text.includes(secret), `${where} holds ${secret === TOKEN ? 'the token' : 'the URL'}:\n${text}`);
  }
}

/** The tile records of a local --out's journal, counted as a run's counts are. */
async function journalCounts(out: string) {
  const tiles = (await readLocalJournal(out)).filter((r): r is TileRecord => r.type === 'tile');
  const n = (s: string) => tiles.filter((t) => t.status === s).length;
  return {
    tiles: tiles.length,
    ok: n('ok'),
    empty: n('empty'),
    failed: n('failed'),
    missing: n('missing'),
    rows: tiles.reduce((s, t) => s + (t.rows ?? 0), 0),
  };
}

interface JsonBody {
  event: string;
  run: string;
  shard: string | null;
  dataset: string;
  counts: { totalTiles: number; doneTiles: number; ok: number; empty: number; failed: number; missing: number; rows: number; totalBytes: number };
  rates: { mbps: number; reduction: number };
  etaMs: number | null;
  elapsedMs: number;
  text: string;
  batch?: { index: number; count: number; reduction: number };
  milestone?: number | null;
  minReduction?: number;
  lowBatches?: number;
  reason?: string;
  exitCode?: number;
  message?: string;
  outcomes?: string[];
}

/** The dataset's files (without the journal and manifests) and their bytes. */
async function datasetFiles(out: string): Promise<Map<string, Buffer>> {
  const files = (await listFiles(out)).filter((f) => !f.startsWith('_desi-qad/'));
  return new Map(await Promise.all(files.map(async (f) => [f, await readFile(join(out, f))] as const)));
}

/** One run without --notify (batches of 2), shared by the tests that compare with it: its dataset, exit status and duration. */
let baseline: Promise<{ out: string; code: number; ms: number }> | undefined;
function cleanRun(): Promise<{ out: string; code: number; ms: number }> {
  baseline ??= (async () => {
    const work = await mkdtemp(join(tmpdir(), 'desi-qad-notify-clean-'));
    const t = Date.now();
    const r = await runCli(['convert', ...FIXTURE, '--out', join(work, 'out'), '--log-dir', join(work, 'logs'), '--batch-size', '2']);
    const ms = Date.now() - t;
    await assertExit(r, 1, join(work, 'logs'));
    return { out: join(work, 'out'), code: 1, ms };
  })();
  return baseline;
}

test('a receiver that answers 200 gets started, every batch (--notify-every 1) and finished once, with the journal counts (Slack body)', async () => {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-notify-'));
  const rx = await startReceiver('ok');
  const out = join(work, 'out');
  const logs = join(work, 'logs');
  // --min-reduction 0: the fixture's tiles are tiny, so some batches fall under the default 90% and would add
  // low-reduction notifications (the json test below covers those); this one counts the batch ones.
  const r = await runCli([
    'convert',
    ...FIXTURE,
    '--out',
    out,
    '--log-dir',
    logs,
    '--batch-size',
    '2',
    '--notify',
    rx.url,
    '--notify-every',
    '1',
    '--min-reduction',
    '0',
  ]);
  // The fixture has a tile without its redrock: a missing source, exit 1.
  await assertExit(r, 1, logs);
  const texts = rx.bodies.map((b) => (JSON.parse(b) as { text: string }).text);
  const j = await journalCounts(out);
  const batches = Math.ceil(j.tiles / 2);
  assert.equal(texts.length, 1 + batches + 1, texts.join('\n---\n'));
  assert.match(
    texts[0],
    new RegExp(`^desi-qad run \\S+ started: ${j.tiles} tiles \\([\\d.,]+ MB\\) in ${batches} batches, into ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
  );
  for (let b = 1; b <= batches; b++) {
    assert.equal(texts.filter((t) => t.includes(`(batch ${b}/${batches}:`)).length, 1, `batch ${b} notified once`);
  }
  const finished = texts[texts.length - 1];
  assert.match(finished, /^:warning: desi-qad run \S+: Run finished with 0 failed and 1 missing-source tiles; exit status 1/);
  assert.ok(
    finished.includes(`${j.tiles}/${j.tiles} tiles: ${j.ok} ok, ${j.empty} empty, ${j.failed} failed, ${j.missing} missing source; ${j.rows} rows`),
    finished,
  );
  // The outcome table, as in the log.
  const log = await latestLog(logs);
  const table = log
    .split('\n')
    .slice(log.split('\n').findIndex((l) => l.endsWith('--- Outcomes ---')))
    .slice(0, 5)
    .map((l) => l.replace(/^\[[^\]]+\] \[INFO\] - /, ''));
  assert.ok(finished.includes(['```', ...table].join('\n')), `${finished}\n---\n${table.join('\n')}`);
  assert.match(log, /Command: desi-qad convert .* --notify <redacted notify URL> --notify-every 1/);
  assert.doesNotMatch(log, /\[WARN\] - Notification/);
  await assertNoSecret(r, logs, rx.url);
});

test('--notify-format json: the structured body (event, run, shard, dataset, counts, rates, ETA); milestones and --min-reduction events', async () => {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-notify-json-'));
  const rx = await startReceiver('ok');
  const out = join(work, 'out');
  const logs = join(work, 'logs');
  const r = await runCli([
    'convert',
    ...FIXTURE,
    '--out',
    out,
    '--log-dir',
    logs,
    '--batch-size',
    '1',
    '--downloads',
    '1',
    '--notify',
    rx.url,
    '--notify-format',
    'json',
    '--min-reduction',
    '0.9999',
  ]);
  await assertExit(r, 1, logs);
  const bodies = rx.bodies.map((b) => JSON.parse(b) as JsonBody);
  const j = await journalCounts(out);
  const runId = (await readLocalJournal(out)).find((x) => x.type === 'run')!.run;
  for (const b of bodies) {
    assert.equal(b.run, runId);
    assert.equal(b.shard, null);
    assert.equal(b.dataset, out);
    assert.equal(b.counts.totalTiles, j.tiles);
    assert.equal(typeof b.rates.mbps, 'number');
    assert.equal(typeof b.elapsedMs, 'number');
    assert.ok(b.etaMs === null || typeof b.etaMs === 'number');
    assert.equal(typeof b.text, 'string');
  }
  assert.equal(bodies[0].event, 'started');
  assert.equal(bodies[0].counts.doneTiles, 0);
  const last = bodies[bodies.length - 1];
  assert.equal(last.event, 'finished');
  assert.equal(last.exitCode, 1);
  assert.deepEqual(
    {
      ok: last.counts.ok,
      empty: last.counts.empty,
      failed: last.counts.failed,
      missing: last.counts.missing,
      rows: last.counts.rows,
      done: last.counts.doneTiles,
    },
    { ok: j.ok, empty: j.empty, failed: j.failed, missing: j.missing, rows: j.rows, done: j.tiles },
  );
  assert.equal(last.outcomes?.[0], '--- Outcomes ---');
  assert.equal(bodies.filter((b) => b.event === 'finished').length, 1);
  // With the default --notify-every 100, progress comes from the 25/50/75% milestones only, each once, at the
  // first batch past it (one tile per batch, one at a time: batch i ends with i tiles done).
  const progress = bodies.filter((b) => b.event === 'batch');
  assert.deepEqual(
    progress.map((p) => [p.milestone, p.batch?.index, p.counts.doneTiles]),
    [25, 50, 75].map((m) => [m, Math.ceil((m / 100) * j.tiles), Math.ceil((m / 100) * j.tiles)]),
  );
  // Every batch is under 99.99% reduction: the log warns of each, the channel is told of the first (and then
  // at most one per --notify-every batches).
  const low = bodies.filter((b) => b.event === 'lowReduction');
  const lowInLog = (await latestLog(logs)).match(/\[WARN\] - Batch \d+\/\d+: data reduction/g) ?? [];
  assert.ok(lowInLog.length > 1, lowInLog.join('\n'));
  assert.deepEqual(
    low.map((l) => [l.batch?.index, l.minReduction, l.lowBatches]),
    [[1, 0.9999, 1]],
  );
  assert.ok(low[0].batch!.reduction < 0.9999);
  await assertNoSecret(r, logs, rx.url);
});

test('receivers that answer 500 or close the connection: retried, logged once per event kind, the run and its dataset unchanged', async () => {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-notify-bad-'));
  const clean = await cleanRun();
  const broken = await startReceiver('fail500');
  const closing = await startReceiver('close');
  const out = join(work, 'out');
  const logs = join(work, 'logs');
  const r = await runCli([
    'convert',
    ...FIXTURE,
    '--out',
    out,
    '--log-dir',
    logs,
    '--batch-size',
    '2',
    '--notify',
    broken.url,
    '--notify',
    closing.url,
    '--notify-timeout',
    '2',
  ]);
  await assertExit(r, clean.code, logs);
  assert.deepEqual(await datasetFiles(out), await datasetFiles(clean.out));
  const log = await allLogs(logs);
  for (const [i, rx, why] of [
    [1, broken, /HTTP 500 Internal Server Error: receiver broke/],
    [2, closing, /the receiver closed the connection/],
  ] as const) {
    // Each notification tried 3 times: every body 3 times.
    const counts = new Map<string, number>();
    for (const b of rx.bodies) counts.set(b, (counts.get(b) ?? 0) + 1);
    assert.ok(counts.size >= 2, `started and finished at least (${counts.size})`);
    for (const n of counts.values()) assert.equal(n, 3);
    const kinds = [...counts.keys()].map((b) => (/desi-qad run \S+ started/.test(b) ? 'started' : b.includes('Run finished') ? 'finished' : 'batch'));
    const port = new URL(rx.url).port;
    for (const kind of new Set(kinds)) {
      const lines = log
        .split('\n')
        .filter((l) => l.includes(`[WARN] - Notification "${kind}" to webhook ${i} (http://127.0.0.1:${port}/…) not delivered after 3 attempt(s)`));
      assert.equal(lines.length, 1, `one WARN line for "${kind}" to webhook ${i}:\n${log}`);
      assert.match(lines[0], why);
    }
    assert.match(log, new RegExp(`Notifications to webhook ${i} \\(http://127\\.0\\.0\\.1:${port}/…\\): 0 delivered, ${counts.size} not delivered`));
    await assertNoSecret(r, logs, rx.url);
  }
});

test('a receiver that never answers: same exit status and dataset, and the run ends within the bounded drain (timeout × attempts)', async () => {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-notify-dead-'));
  const args = (out: string, logs: string) => ['convert', ...FIXTURE, '--out', join(work, out), '--log-dir', join(work, logs), '--batch-size', '2'];
  const clean = await cleanRun();
  const cleanMs = clean.ms;
  const dead = await startReceiver('hang');
  const timeoutSec = 0.5;
  // 3 attempts of 0.5 s and the two longest backoffs (375 and 750 ms): the one notification in flight always
  // ends its attempts within the drain.
  const boundMs = timeoutSec * 3 * 1000 + 375 + 750;
  const t = Date.now();
  const r = await runCli([...args('out', 'logs'), '--notify', dead.url, '--notify-every', '1', '--notify-timeout', String(timeoutSec)]);
  const ms = Date.now() - t;
  await assertExit(r, clean.code, join(work, 'logs'));
  assert.deepEqual(await datasetFiles(join(work, 'out')), await datasetFiles(clean.out));
  // Six notifications to a dead receiver would take 6 × 3 × 0.5 s and more if they were waited for; the end
  // of the run waits 2.6 s at most. The slack covers a noisy machine, not another notification's timeout.
  assert.ok(ms < cleanMs + boundMs + 4000, `the run took ${ms} ms, a run without --notify ${cleanMs} ms, the drain bound is ${boundMs} ms`);
  assert.ok(dead.bodies.length >= 1, 'the receiver saw the requests');
  const log = await allLogs(join(work, 'logs'));
  assert.match(log, /\[WARN\] - Notification "started" to webhook http:\/\/127\.0\.0\.1:\d+\/… not delivered after 3 attempt\(s\): no answer within 0\.5 s/);
  assert.match(log, /\[WARN\] - Gave up on \d+ notification\(s\) to webhook http:\/\/127\.0\.0\.1:\d+\/… still unsent 2\.6 s after the run ended\./);
  await assertNoSecret(r, join(work, 'logs'), dead.url);
});

test('the failure-rate stop (exit 3), a signal stop and a fatal stop (exit 4) are notified', async () => {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-notify-stop-'));
  const rx = await startReceiver('ok');
  const tree = join(work, 'tree');
  const specs = smallSpecs({ tiles: 30, seed: 3 }).map((s) => ({ ...s, survey: 'main', program: 'dark' }));
  const report = await synthTree({ out: tree, tiles: specs, wavelength: 'short' });
  // Break the redrock of the first 4 tiles (in discovery order): 4 of 20 is 20% > 10% (as resume.test.ts).
  for (const t of [...report.tiles].sort((a, b) => a.healpix - b.healpix).slice(0, 4)) await writeFile(t.redrockPath, 'garbage');
  const logs = join(work, 'logs');
  const common = ['--log-dir', logs, '--quiet', '--threads', '1', '--downloads', '1', '--notify', rx.url, '--notify-format', 'json'];
  const r = await runCli(['convert', '--source', tree, '--out', join(work, 'out'), '--batch-size', '8', ...common]);
  await assertExit(r, 3, logs);
  const bodies = rx.bodies.map((b) => JSON.parse(b) as JsonBody);
  const stopped = bodies.filter((b) => b.event === 'stopped');
  assert.equal(stopped.length, 1);
  assert.equal(stopped[0].reason, 'failureRate');
  assert.equal(stopped[0].exitCode, 3);
  assert.match(stopped[0].message ?? '', /Failure rate 20\.00% among the last 20 finished tiles exceeds --max-failure-rate 10\.00%/);
  const j = await journalCounts(join(work, 'out'));
  assert.deepEqual({ failed: stopped[0].counts.failed, ok: stopped[0].counts.ok + stopped[0].counts.empty }, { failed: j.failed, ok: j.ok + j.empty });
  assert.ok(!bodies.some((b) => b.event === 'finished'));
  await assertNoSecret(r, logs, rx.url);

  // SIGTERM once the run has started (30 tiles one at a time, failures allowed): a signal stop, exit 4.
  rx.bodies.length = 0;
  const child = startCli(['convert', '--source', tree, '--out', join(work, 'out-signal'), '--batch-size', '2', '--max-failure-rate', '1', ...common]);
  const done = collect(child);
  const until = Date.now() + 30_000;
  while (rx.bodies.length === 0 && Date.now() < until) await new Promise((w) => setTimeout(w, 20));
  child.kill('SIGTERM');
  const sig = await done;
  await assertExit(sig, 4, logs);
  const signalled = rx.bodies.map((b) => JSON.parse(b) as JsonBody);
  assert.equal(signalled[0].event, 'started');
  const stop = signalled.filter((b) => b.event === 'stopped');
  assert.deepEqual(
    stop.map((b) => [b.reason, b.exitCode, b.message]),
    [['signal', 4, 'interrupted by SIGTERM']],
  );
  assert.ok(stop[0].counts.doneTiles < 30, 'stopped before the end');
  await assertNoSecret(sig, logs, rx.url);

  // A source with no tile at all: a fatal stop before the run starts.
  rx.bodies.length = 0;
  const empty = join(work, 'empty');
  await mkdir(empty);
  const f = await runCli(['convert', '--source', empty, '--out', join(work, 'out2'), ...common]);
  await assertExit(f, 4, logs);
  const fatal = rx.bodies.map((b) => JSON.parse(b) as JsonBody);
  assert.deepEqual(
    fatal.map((b) => [b.event, b.reason, b.exitCode]),
    [['stopped', 'fatal', 4]],
  );
  assert.match(fatal[0].message ?? '', /no tiles found under/);
  await assertNoSecret(f, logs, rx.url);
});

test('usage errors (exit 2) for a --notify that is not an http(s) URL and a bad --notify-every, without echoing the URL', async () => {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-notify-usage-'));
  const base = ['convert', '--source', FIXTURE_TREE, '--out', join(work, 'out'), '--log-dir', join(work, 'logs')];
  const runs: Promise<void>[] = [];
  // (The other checks are in test/unit/notify-message.test.ts: each process here costs a CLI start.)
  for (const [extra, message] of [
    [['--notify', `127.0.0.1${HOOK_PATH}`], /--notify is not a URL/],
    [
      ['--notify', `https://127.0.0.1${HOOK_PATH}`, '--notify', `mailto:${TOKEN}`],
      /--notify \(the 2nd\) must be an http:\/\/ or https:\/\/ URL, not mailto:\/\/…/,
    ],
    [['--notify', `https://127.0.0.1${HOOK_PATH}`, '--notify-every', '0'], /--notify-every must be an integer >= 1/],
  ] as const) {
    runs.push(
      runCli([...base, ...extra]).then(async (r) => {
        await assertExit(r, 2);
        assert.match(r.stderr, message);
        for (const text of [r.stdout, r.stderr]) assert.ok(!text.includes(TOKEN), text);
      }),
    );
  }
  await Promise.all(runs);
});
