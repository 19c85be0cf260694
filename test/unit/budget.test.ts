import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BudgetExceededError, ByteBudget } from '../../src/pipeline/budget.js';

test('the budget holds requests until they fit, first come first served, and never exceeds its limit', async () => {
  const b = new ByteBudget(100);
  const r1 = await b.acquire(60, 'a');
  const order: string[] = [];
  const p2 = b.acquire(50, 'b').then((r) => (order.push('b'), r));
  const p3 = b.acquire(10, 'c').then((r) => (order.push('c'), r));
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(order, [], 'b waits, and c waits behind b although it would fit');
  r1();
  const [r2, r3] = await Promise.all([p2, p3]);
  assert.deepEqual(order, ['b', 'c']);
  assert.equal(b.inUse, 60);
  r2();
  r2(); // idempotent
  r3();
  assert.equal(b.inUse, 0);
  assert.ok(b.peakInUse <= 100);
});

test('a request larger than the whole budget is refused with a clear error', async () => {
  const b = new ByteBudget(1_000_000);
  await assert.rejects(
    b.acquire(2_000_000, 'coadd-main-dark-1.fits'),
    (e: unknown) => e instanceof BudgetExceededError && /coadd-main-dark-1\.fits needs 2\.0 MB .* --memory budget of 1\.0 MB/.test((e as Error).message),
  );
});
