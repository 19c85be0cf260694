import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sample } from '../../src/pipeline/sample.js';

test('--sample draws the same tiles for the same seed, in their original order, without repeats', () => {
  const items = Array.from({ length: 1000 }, (_, i) => i);
  const a = sample(items, 40, 7);
  assert.deepEqual(sample(items, 40, 7), a);
  assert.equal(new Set(a).size, 40);
  assert.deepEqual(
    [...a].sort((x, y) => x - y),
    a,
  );
  assert.notDeepEqual(sample(items, 40, 8), a, 'another seed, another sample');
  assert.deepEqual(sample(items, 5000, 1), items, 'asking for more than there is gives everything');
});
