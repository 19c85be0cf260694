import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalOutputStore, TEMP_MARK } from '../../src/storage/output-local.js';

test('writeAtomic puts the whole file in place and leaves no temporary behind', async () => {
  const root = await mkdtemp(join(tmpdir(), 'out-'));
  const out = new LocalOutputStore(root);
  const bytes = new Uint8Array(100_000).map((_, i) => i % 251);
  await out.writeAtomic('main/dark/230/main-dark-23040.parquet', bytes);
  assert.deepEqual(new Uint8Array(await readFile(join(root, 'main/dark/230/main-dark-23040.parquet'))), bytes);
  assert.deepEqual(await readdir(join(root, 'main/dark/230')), ['main-dark-23040.parquet']);
});

test('paths that would land outside --out are refused', async () => {
  const root = await mkdtemp(join(tmpdir(), 'out-'));
  const out = new LocalOutputStore(root);
  for (const bad of ['../escape.parquet', 'a/../../escape.parquet', '/etc/passwd', '', '.', 'a\0b']) {
    await assert.rejects(out.writeAtomic(bad, new Uint8Array(1)), /outside|not a relative path/, bad);
  }
});

test('sweepTemporaries removes what a killed run left, and nothing else', async () => {
  const root = await mkdtemp(join(tmpdir(), 'out-'));
  await mkdir(join(root, 'main/dark/1'), { recursive: true });
  await writeFile(join(root, 'main/dark/1', `${TEMP_MARK}abc`), 'partial');
  await writeFile(join(root, 'main/dark/1', 'keep.parquet'), 'whole');
  const out = new LocalOutputStore(root);
  assert.equal(await out.sweepTemporaries(), 1);
  assert.deepEqual(await readdir(join(root, 'main/dark/1')), ['keep.parquet']);
});
