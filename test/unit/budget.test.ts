import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BudgetExceededError, ByteBudget } from '../../src/pipeline/budget.js';
import { readLimits, tileFetch } from '../../src/pipeline/fetch.js';

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

test('--fetch full holds the afterburner files a tile reads with its coadd and redrock', async () => {
  const tile = {
    survey: 'main',
    program: 'dark',
    healpix: 1,
    coadd: { path: 'c', size: 100 },
    redrock: { path: 'r', size: 100 },
  };
  const ctx = (limit: number) => ({ store: {} as never, budget: new ByteBudget(limit), limits: readLimits(), gapBytes: 0 });
  const io = <T>(p: Promise<T>) => p;
  // Without afterburners: 2 x 200 bytes fit in 500.
  const plain = ctx(500);
  await tileFetch('full', plain, tile, io).begin();
  assert.equal(plain.budget.inUse, 400);
  // With a 1000-byte emline file: 2 x 1200 bytes, more than the whole budget.
  const withAb = { ...tile, afterburners: { emline: { path: 'e', size: 1000 } } };
  await assert.rejects(
    tileFetch('full', ctx(500), withAb, io).begin(),
    (e: unknown) => e instanceof BudgetExceededError && (e as Error).message.includes('needs 0.0 MB'),
  );
  const big = ctx(10_000);
  await tileFetch('full', big, withAb, io).begin();
  assert.equal(big.budget.inUse, 2400);
});
