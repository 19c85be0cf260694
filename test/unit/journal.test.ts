import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal } from '../../src/pipeline/journal.js';
import type { TileRecord } from '../../src/storage/journal-store.js';
import { LocalJournalStore } from '../../src/storage/journal-local.js';

const rec = (tile: string, status: TileRecord['status']): TileRecord => ({ type: 'tile', tile, status, time: '2026-01-01T00:00:00Z', run: 'r1' });

test('the latest record of a tile wins; ok and empty are done, failed and missing are retried', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'journal-'));
  const path = join(dir, '_desi-qad', 'journal.jsonl');
  const j = await Journal.open(new LocalJournalStore(path));
  await j.startRun({ type: 'run', run: 'r1', time: 't', version: 'v', selection: 'sel', source: 'src' });
  await j.record(rec('main/dark/1', 'failed'));
  await j.record(rec('main/dark/1', 'ok'));
  await j.record(rec('main/dark/2', 'empty'));
  await j.record(rec('main/dark/3', 'missing'));
  await j.record(rec('main/dark/4', 'ok'));
  await j.record(rec('main/dark/4', 'failed'));
  await j.close();
  const again = await Journal.open(new LocalJournalStore(path));
  assert.deepEqual([...again.completed()].sort(), ['main/dark/1', 'main/dark/2']);
  assert.equal(again.previousSelection, 'sel');
  assert.equal(again.damagedLines, 0);
});

test('a torn last line (kill during append) is cut off and never glued to the next record', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'journal-'));
  const path = join(dir, 'journal.jsonl');
  await writeFile(path, JSON.stringify(rec('main/dark/1', 'ok')) + '\n' + '{"type":"tile","tile":"main/da');
  const store = new LocalJournalStore(path);
  const j = await Journal.open(store);
  assert.deepEqual([...j.completed()], ['main/dark/1']);
  await j.record(rec('main/dark/2', 'ok'));
  await j.close();
  const lines = (await readFile(path, 'utf8')).trim().split('\n');
  assert.equal(lines.length, 2);
  for (const l of lines) JSON.parse(l);
});

test('damaged lines in the middle are counted and skipped, not fatal', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'journal-'));
  const path = join(dir, 'journal.jsonl');
  await writeFile(path, JSON.stringify(rec('main/dark/1', 'ok')) + '\n');
  await appendFile(path, 'garbage\n{"type":"tile"}\n' + JSON.stringify(rec('main/dark/2', 'ok')) + '\n');
  const j = await Journal.open(new LocalJournalStore(path));
  assert.equal(j.damagedLines, 2);
  assert.deepEqual([...j.completed()].sort(), ['main/dark/1', 'main/dark/2']);
});
