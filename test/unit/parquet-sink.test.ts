/**
 * The writer's Sink: writes across block boundaries (and one bigger than a block) come back byte for byte in
 * one exact-size buffer, and a later file, written into the same pooled blocks, leaves the first's bytes alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sink } from '../../src/parquet/writer/sink.js';

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

test('writes across blocks come back in order, in a buffer of their own', () => {
  const parts = [pattern(5, 1), pattern(9 * 2 ** 20, 2), pattern(10 * 2 ** 20, 3), pattern(17 * 2 ** 20, 4), pattern(3, 5)];
  const s = new Sink();
  for (const p of parts) s.write(p);
  const first = s.bytes();
  const total = parts.reduce((n, p) => n + p.length, 0);
  assert.equal(first.byteLength, total);
  assert.equal(first.byteOffset, 0);
  assert.equal(first.buffer.byteLength, total);
  let at = 0;
  for (const p of parts) {
    assert.ok(first.subarray(at, at + p.length).every((v, i) => v === p[i]));
    at += p.length;
  }
  const keep = first.slice();
  const t = new Sink();
  t.write(pattern(20 * 2 ** 20, 9));
  assert.equal(t.bytes()[7], pattern(8, 9)[7]);
  assert.deepEqual(first, keep, 'a later file does not write into an earlier result');
});
