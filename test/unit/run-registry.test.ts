/**
 * The run registry on a real local folder: claim races between processes and between instances (at most one
 * winner per tile while it holds), claims of runs whose lease expired or whose process died are ignored and
 * removed, stop() leaves nothing behind, and the lease comes from DESI_QAD_LEASE_MS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import { LocalRegistry } from '../../src/storage/registry-local.js';
import { DEFAULT_LEASE_MS, leaseMsFromEnv, pidNamespace, tileSegment, type RunInfo } from '../../src/storage/run-registry.js';
import { newRunId } from '../../src/storage/run-id.js';

const REGISTRY_MODULE = fileURLToPath(new URL('../../src/storage/registry-local.js', import.meta.url));

/**
 * A child process with a registry of its own: starts it, prints "ready", waits for "go" on stdin, claims
 * the tiles, prints the ones it won as JSON, then (mode) 'exit': exits without stop() (a killed run);
 * 'hang': waits to be killed; 'stop': waits for stdin to end, stops, exits.
 */
const CHILD = `
import { createInterface } from 'node:readline';
const [mod, out, run, host, leaseMs, tilesJson, mode] = process.argv.slice(1);
const { LocalRegistry } = await import(mod);
const reg = new LocalRegistry(out, run, { leaseMs: Number(leaseMs), ...(host ? { host } : {}) });
await reg.start();
console.log('ready');
const lines = createInterface({ input: process.stdin });
lines.once('line', async () => {
  const tiles = JSON.parse(tilesJson);
  const results = await Promise.all(tiles.map((t) => reg.claim(t)));
  console.log(JSON.stringify(tiles.filter((t, i) => results[i].ok)));
  if (mode === 'exit') process.exit(0);
  if (mode === 'stop') process.stdin.on('end', async () => { await reg.stop(); process.exit(0); });
  else setInterval(() => {}, 1000);
});
`;

interface Child {
  proc: ChildProcess;
  run: string;
  /** The next line the child prints. */
  line(): Promise<string>;
}

function startChild(out: string, tiles: string[], mode: 'exit' | 'hang' | 'stop', o: { host?: string; leaseMs?: number } = {}): Child {
  const run = newRunId();
  const proc = spawn(
    process.execPath,
    ['--input-type=module', '-e', CHILD, REGISTRY_MODULE, out, run, o.host ?? '', String(o.leaseMs ?? 30_000), JSON.stringify(tiles), mode],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  if (!proc.stdout) throw new Error('child without stdout');
  const lines = createInterface({ input: proc.stdout });
  const queue: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  lines.on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else queue.push(l);
  });
  return {
    proc,
    run,
    line: () => {
      const l = queue.shift();
      return l !== undefined ? Promise.resolve(l) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

function exited(p: ChildProcess): Promise<void> {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((resolve) => p.once('exit', () => resolve()));
}

const tilesOf = (n: number) => Array.from({ length: n }, (_, i) => `main/dark/${23040 + i}`);

test('processes racing for the same tiles: no tile is won by two of them', { timeout: 30_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'reg-race-'));
  const tiles = tilesOf(20);
  const children = [0, 1, 2].map(() => startChild(out, tiles, 'stop'));
  try {
    for (const c of children) assert.equal(await c.line(), 'ready');
    for (const c of children) c.proc.stdin?.write('go\n');
    const won = await Promise.all(children.map(async (c) => JSON.parse(await c.line()) as string[]));
    const owners = new Map<string, number>();
    for (const list of won) for (const t of list) owners.set(t, (owners.get(t) ?? 0) + 1);
    for (const [t, n] of owners) assert.equal(n, 1, `${t} won by ${n} processes`);
    // Each winner's claim is on disk, and only its own (losers took theirs back).
    for (const [i, list] of won.entries()) {
      for (const t of list) assert.deepEqual(await readdir(join(out, '_desi-qad/claims', tileSegment(t))), [children[i].run]);
    }
  } finally {
    for (const c of children) c.proc.stdin?.end();
    await Promise.all(children.map((c) => exited(c.proc)));
  }
  assert.deepEqual(await readdir(join(out, '_desi-qad/claims')), [], 'stop() of every child removed its claims');
  assert.deepEqual(await readdir(join(out, '_desi-qad/runs')), [], 'and its heartbeat');
});

test('instances racing in one process: one winner per tile, and retries end with every tile owned once', { timeout: 30_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'reg-inst-'));
  const regs = Array.from({ length: 4 }, () => new LocalRegistry(out, newRunId(), { leaseMs: 5_000 }));
  await Promise.all(regs.map((r) => r.start()));
  const tiles = tilesOf(30);
  const owner = new Map<string, string>();
  const claimAll = async (reg: LocalRegistry, list: string[]) => {
    for (const t of list) {
      const r = await reg.claim(t);
      if (r.ok) {
        assert.equal(owner.get(t), undefined, `${t} won by ${reg.run} while ${owner.get(t)} holds it`);
        owner.set(t, reg.run);
      } else assert.ok(regs.some((x) => x.run === r.holder) && r.holder !== reg.run, `holder ${r.holder} is another live run`);
    }
  };
  await Promise.all(regs.map((reg, i) => claimAll(reg, [...tiles.slice(i * 7), ...tiles.slice(0, i * 7)])));
  // Tiles that everyone yielded are retried after a random delay, as a run does with deferred tiles.
  for (let round = 0; round < 20 && owner.size < tiles.length; round++) {
    await Promise.all(
      regs.map(async (reg) => {
        await sleep(Math.random() * 20);
        await claimAll(
          reg,
          tiles.filter((t) => !owner.has(t)),
        );
      }),
    );
  }
  assert.equal(owner.size, tiles.length, 'every tile ends up owned');
  for (const t of tiles) {
    const holder = owner.get(t) ?? '';
    assert.ok(await regs.find((r) => r.run !== holder)?.heldByOther(t), `${t}: another run sees it held`);
    assert.equal(await regs.find((r) => r.run === holder)?.heldByOther(t), false, `${t}: its holder sees no other holder`);
  }
  await Promise.all(regs.map((r) => r.stop()));
  assert.deepEqual(await readdir(join(out, '_desi-qad/claims')), []);
  assert.deepEqual(await readdir(join(out, '_desi-qad/runs')), []);
  for (const r of regs) assert.equal(r.lastError, undefined);
});

test('a claim of a run whose process died on this host is ignored and removed', { timeout: 30_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'reg-dead-'));
  const tile = 'sv3/bright/9000';
  const child = startChild(out, [tile], 'exit'); // a long lease: only its dead pid shows it is gone
  assert.equal(await child.line(), 'ready');
  child.proc.stdin?.write('go\n');
  assert.deepEqual(JSON.parse(await child.line()), [tile]);
  await exited(child.proc);
  assert.deepEqual(await readdir(join(out, '_desi-qad/claims', tileSegment(tile))), [child.run], 'the dead run left its claim');
  const me = new LocalRegistry(out, newRunId());
  await me.start();
  assert.equal(await me.isGone(child.run), true);
  assert.equal(await me.heldByOther(tile), false);
  assert.deepEqual(await me.claim(tile), { ok: true });
  assert.deepEqual(await readdir(join(out, '_desi-qad/claims', tileSegment(tile))), [me.run], 'the dead claim was removed');
  await me.stop();
});

test('a claim of a run on another machine holds until its lease expires', { timeout: 30_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'reg-lease-'));
  const tile = 'main/backup/100';
  const leaseMs = 1_500;
  // "Another machine": its pid cannot be tested from here, only its heartbeat.
  const child = startChild(out, [tile], 'hang', { host: 'elsewhere.example', leaseMs });
  try {
    assert.equal(await child.line(), 'ready');
    child.proc.stdin?.write('go\n');
    assert.deepEqual(JSON.parse(await child.line()), [tile]);
    const me = new LocalRegistry(out, newRunId(), { leaseMs, goneCacheMs: 0 });
    await me.start();
    assert.deepEqual(await me.claim(tile), { ok: false, holder: child.run }, 'a live holder wins');
    await sleep(leaseMs); // it renews meanwhile (every lease / 4)
    assert.deepEqual(await me.claim(tile), { ok: false, holder: child.run }, 'still live: it renewed its heartbeat');
    child.proc.kill('SIGKILL');
    await exited(child.proc);
    assert.equal(await me.isGone(child.run), false, 'killed a moment ago: its lease still runs');
    await sleep(leaseMs + 300);
    assert.equal(await me.isGone(child.run), true, 'no renewal for a whole lease');
    assert.deepEqual(await me.claim(tile), { ok: true });
    await me.stop();
  } finally {
    child.proc.kill('SIGKILL');
    await exited(child.proc);
  }
});

test('isGone: no heartbeat, an expired one, a dead pid; a live one is not gone', async () => {
  const out = await mkdtemp(join(tmpdir(), 'reg-gone-'));
  const me = new LocalRegistry(out, newRunId(), { goneCacheMs: 0 });
  await me.start();
  assert.equal(await me.isGone(me.run), false, 'itself, while started');
  assert.equal(await me.isGone(newRunId()), true, 'no heartbeat record');
  const runs = join(out, '_desi-qad/runs');
  await mkdir(runs, { recursive: true });
  const put = async (info: RunInfo) => writeFile(join(runs, `${info.run}.json`), JSON.stringify(info));
  const now = new Date().toISOString();
  const base = { host: hostname(), pid: process.pid, started: now, heartbeat: now, leaseMs: 60_000 };
  const live = { ...base, run: newRunId() };
  const expired = { ...base, run: newRunId(), heartbeat: new Date(Date.now() - 61_000).toISOString() };
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
  const dead = { ...base, run: newRunId(), pid: deadPid };
  const elsewhere = { ...base, run: newRunId(), host: 'elsewhere.example', pid: deadPid };
  const otherNs = { ...base, run: newRunId(), pid: deadPid, pidNamespace: 'pid:[1]' }; // a container sharing the host name
  await Promise.all([put(live), put(expired), put(dead), put(elsewhere), put(otherNs)]);
  assert.equal(await me.isGone(live.run), false);
  assert.equal(await me.isGone(expired.run), true);
  assert.equal(await me.isGone(dead.run), true, 'this host, pid no longer alive');
  assert.equal(await me.isGone(elsewhere.run), false, "another host's pid is not tested here");
  if (pidNamespace() !== undefined) assert.equal(await me.isGone(otherNs.run), false, "another pid namespace's pid is not tested here");
  await me.stop();
  assert.deepEqual(
    await readdir(runs),
    [live.run, expired.run, dead.run, elsewhere.run, otherNs.run].map((r) => `${r}.json`).sort(),
    'stop() removed only its own heartbeat',
  );
});

test('stop() removes the claims this run still holds, then its heartbeat; claim() after stop() throws', async () => {
  const out = await mkdtemp(join(tmpdir(), 'reg-stop-'));
  const me = new LocalRegistry(out, newRunId());
  await assert.rejects(me.claim('main/dark/1'), /before start\(\)/);
  await me.start();
  assert.deepEqual(await readdir(join(out, '_desi-qad/runs')), [`${me.run}.json`]);
  for (const t of tilesOf(3)) assert.deepEqual(await me.claim(t), { ok: true });
  await me.release('main/dark/23040');
  assert.deepEqual((await readdir(join(out, '_desi-qad/claims'))).sort(), [tileSegment('main/dark/23041'), tileSegment('main/dark/23042')].sort());
  await me.stop();
  assert.deepEqual(await readdir(join(out, '_desi-qad/claims')), []);
  assert.deepEqual(await readdir(join(out, '_desi-qad/runs')), []);
  await assert.rejects(me.claim('main/dark/1'), /after stop\(\)/);
  assert.equal(me.lastError, undefined);
});

test('the heartbeat is renewed every lease / 4, and renewal failures are kept, not thrown', { timeout: 10_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'reg-renew-'));
  const me = new LocalRegistry(out, newRunId(), { leaseMs: 400 });
  await me.start();
  const first = me.renewedAt ?? 0;
  await sleep(250);
  assert.ok((me.renewedAt ?? 0) > first, 'renewed');
  // A file where the runs folder should be: every renewal now fails.
  await rm(join(out, '_desi-qad/runs'), { recursive: true });
  await writeFile(join(out, '_desi-qad/runs'), 'not a folder');
  await sleep(250);
  assert.ok(me.lastError instanceof Error, 'the renewal error is kept');
  await me.stop();
});

test('tile segments and the lease from the environment', () => {
  assert.equal(tileSegment('main/dark/23040'), 'main.2Fdark.2F23040');
  const long = tileSegment(`main/${'x'.repeat(300)}/1`);
  assert.ok(Buffer.byteLength(long) < 200 && !long.includes('/'));
  assert.notEqual(long, tileSegment(`main/${'x'.repeat(300)}/2`));
  assert.equal(leaseMsFromEnv({}), DEFAULT_LEASE_MS);
  assert.equal(leaseMsFromEnv({ DESI_QAD_LEASE_MS: '2000' }), 2000);
  assert.equal(leaseMsFromEnv({ DESI_QAD_LEASE_MS: 'soon' }), DEFAULT_LEASE_MS);
  assert.equal(leaseMsFromEnv({ DESI_QAD_LEASE_MS: '0' }), DEFAULT_LEASE_MS);
  assert.throws(() => new LocalRegistry(tmpdir(), '../escape'), /not a run id/);
});
