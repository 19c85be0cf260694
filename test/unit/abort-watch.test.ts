/** watchAbort (src/storage/abort.ts): one listener per signal serving every read in flight. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unwatchAbort, watchAbort } from '../../src/storage/abort.js';

test('watchers still registered are called once with the reason; unwatched ones and later aborts are not', () => {
  const ac = new AbortController();
  const calls: string[] = [];
  const w = (name: string) => ({ aborted: (reason: unknown) => calls.push(`${name}:${String(reason)}`) });
  const a = w('a');
  const b = w('b');
  const c = w('c');
  assert.equal(watchAbort(ac.signal, a), true);
  assert.equal(watchAbort(ac.signal, b), true);
  assert.equal(watchAbort(ac.signal, c), true);
  unwatchAbort(ac.signal, b);
  ac.abort('stop');
  ac.abort('again');
  assert.deepEqual(calls, ['a:stop', 'c:stop']);
  assert.equal(watchAbort(ac.signal, w('late')), false, 'an aborted signal is refused at once');
  assert.deepEqual(calls, ['a:stop', 'c:stop']);
});
