import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Limiter, mapLimit } from '../../src/util/concurrency.js';
import { AbortedError } from '../../src/storage/abort.js';

test('mapLimit keeps at most `limit` calls in flight and returns results in item order', async () => {
  let active = 0;
  let peak = 0;
  const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (ms, i) => {
    active += 1;
    peak = Math.max(peak, active);
    await sleep(ms);
    active -= 1;
    return i * 10;
  });
  assert.deepEqual(out, [0, 10, 20, 30, 40, 50]);
  assert.equal(peak, 2);
});

test('mapLimit stops starting items after the first failure, waits for the started ones, and rejects with it', async () => {
  const started: number[] = [];
  let settled = 0;
  await assert.rejects(
    mapLimit([0, 1, 2, 3, 4, 5], 2, async (i) => {
      started.push(i);
      await sleep(i === 0 ? 1 : i === 1 ? 3 : 10);
      settled += 1;
      if (i === 1) throw new Error('boom 1');
      return i;
    }),
    /boom 1/,
  );
  assert.deepEqual(started, [0, 1, 2], 'item 2 started when 0 finished; nothing started after 1 failed');
  assert.equal(settled, started.length, 'every started item settled before the rejection');
});

test('mapLimit with grow: a share of 2 takes the idle slots of a shared Limiter, and gives them up when others wait', async () => {
  const shared = new Limiter(6);
  let active = 0;
  let peak = 0;
  const read = (ms: number) =>
    shared.run(async () => {
      active += 1;
      peak = Math.max(peak, active);
      await sleep(ms);
      active -= 1;
      return ms;
    });
  // Alone: 2 lanes, then as many as the limiter has idle slots (6), never more.
  const items = Array.from({ length: 30 }, (_, i) => 2 + (i % 3));
  const out = await mapLimit(items, 2, read, { grow: () => shared.hasIdleSlot() });
  assert.deepEqual(out, items, 'results in item order');
  assert.equal(peak, 6);
  assert.equal(shared.inFlight, 0);

  // Beside another caller holding 4 of the 6 slots until the call is over: the 2 lanes of its share, no more.
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const hog = Array.from({ length: 4 }, () => shared.run(() => gate));
  assert.equal(shared.hasIdleSlot(), true);
  let lanes = 0;
  let most = 0;
  await mapLimit(
    Array.from({ length: 12 }, () => 1),
    2,
    (ms) => {
      lanes += 1;
      most = Math.max(most, lanes);
      return read(ms).finally(() => (lanes -= 1));
    },
    { grow: () => shared.hasIdleSlot() },
  );
  assert.equal(most, 2, 'no slot was idle beyond the share');
  // Full, with a caller queued: no slot is idle.
  const waiter = shared.run(() => Promise.resolve());
  const more = shared.run(() => Promise.resolve());
  assert.equal(shared.hasIdleSlot(), false);
  open();
  await Promise.all([...hog, waiter, more]);
  assert.equal(shared.hasIdleSlot(), true);
});

test('mapLimit with stop() resolves without starting more items', async () => {
  let n = 0;
  const out = await mapLimit(
    [1, 2, 3, 4, 5],
    1,
    (x) => {
      n += 1;
      return Promise.resolve(x);
    },
    { stop: () => n >= 2 },
  );
  assert.deepEqual(out, [1, 2]);
});

test('mapLimit with an aborted signal rejects with its reason after the started items settle', async () => {
  const ac = new AbortController();
  let started = 0;
  await assert.rejects(
    mapLimit(
      [1, 2, 3, 4],
      1,
      async () => {
        started += 1;
        ac.abort(new Error('stopped by the user'));
        await sleep(1);
      },
      { signal: ac.signal },
    ),
    /stopped by the user/,
  );
  assert.equal(started, 1);
});

test('mapLimit refuses a limit below one and handles an empty list', async () => {
  await assert.rejects(
    mapLimit([1], 0, (x) => Promise.resolve(x)),
    RangeError,
  );
  assert.deepEqual(await mapLimit([], 4, (x) => Promise.resolve(x)), []);
});

test('Limiter shares one limit between independent callers, first come first served', async () => {
  const lim = new Limiter(2);
  const order: string[] = [];
  const job = (name: string, ms: number) =>
    lim.run(async () => {
      order.push(`start ${name}`);
      await sleep(ms);
      order.push(`end ${name}`);
    });
  await Promise.all([job('a', 10), job('b', 20), job('c', 1), job('d', 1)]);
  assert.equal(lim.peak, 2);
  assert.equal(lim.inFlight, 0);
  assert.deepEqual(order.slice(0, 2), ['start a', 'start b']);
  assert.ok(order.indexOf('start c') > order.indexOf('end a'), 'c waited for a slot');
  assert.ok(order.indexOf('start d') > order.indexOf('start c'), 'd after c');
});

test('Limiter releases its slot when the work throws', async () => {
  const lim = new Limiter(1);
  await assert.rejects(
    lim.run(() => Promise.reject(new Error('x'))),
    /x/,
  );
  assert.equal(await lim.run(() => Promise.resolve(7)), 7);
});

test('Limiter: a queued waiter whose signal aborts leaves the queue and rejects; the others keep their turn', async () => {
  const lim = new Limiter(1);
  let release!: () => void;
  const holder = lim.run(() => new Promise<void>((r) => (release = r)));
  const ac = new AbortController();
  const ran: string[] = [];
  const aborted = lim.run(() => {
    ran.push('aborted waiter');
    return Promise.resolve();
  }, ac.signal);
  const next = lim.run(() => {
    ran.push('next');
    return Promise.resolve('next done');
  }, new AbortController().signal);
  await sleep(5);
  ac.abort();
  await assert.rejects(aborted, (e) => e instanceof AbortedError && e.code === 'ABORTED');
  assert.equal(lim.inFlight, 1, 'the holder keeps its slot; the aborted waiter took none');
  release();
  await holder;
  assert.equal(await next, 'next done');
  assert.deepEqual(ran, ['next'], 'the aborted waiter never ran');
  assert.equal(lim.inFlight, 0);
  // An already aborted signal rejects at once, even with a free slot.
  await assert.rejects(
    lim.run(() => Promise.resolve(1), ac.signal),
    AbortedError,
  );
  assert.equal(lim.inFlight, 0);
});

test('Limiter: urgent callers are served before the bulk callers queued, each class in arrival order', async () => {
  const lim = new Limiter(1);
  let release!: () => void;
  const holder = lim.run(() => new Promise<void>((r) => (release = r)));
  const order: string[] = [];
  const job = (name: string, urgent: boolean, signal?: AbortSignal) =>
    lim.run(
      () => {
        order.push(name);
        return Promise.resolve();
      },
      signal,
      urgent,
    );
  const ac = new AbortController();
  const jobs = [job('bulk 1', false), job('bulk 2', false), job('urgent 1', true), job('urgent gone', true, ac.signal), job('urgent 2', true)];
  assert.equal(lim.hasIdleSlot(), false);
  ac.abort();
  await assert.rejects(jobs[3], AbortedError);
  release();
  await holder;
  await Promise.all([jobs[0], jobs[1], jobs[2], jobs[4]]);
  assert.deepEqual(order, ['urgent 1', 'urgent 2', 'bulk 1', 'bulk 2']);
  assert.equal(lim.inFlight, 0);
  // Only urgent waiters queued: no idle slot for a grown share either.
  let release2!: () => void;
  const held = lim.run(() => new Promise<void>((r) => (release2 = r)));
  const urgent = job('urgent 3', true);
  await sleep(1);
  assert.equal(lim.hasIdleSlot(), false);
  release2();
  await Promise.all([held, urgent]);
  assert.equal(lim.hasIdleSlot(), true);
});
