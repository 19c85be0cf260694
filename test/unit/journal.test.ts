import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sourceFingerprint } from '../../src/desi/fingerprint.js';
import type { TileRef } from '../../src/desi/tile.js';
import { Journal } from '../../src/pipeline/journal.js';
import type { TileRecord } from '../../src/storage/journal-store.js';
import { LocalJournalStore } from '../../src/storage/journal-local.js';

const rec = (tile: string, status: TileRecord['status'], time = '2026-01-01T00:00:00Z', run = 'r1'): TileRecord => ({ type: 'tile', tile, status, time, run });
const line = (r: TileRecord): string => JSON.stringify(r) + '\n';

async function journalDir(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'journal-')), '_desi-qad', 'journal');
}

test('the latest record of a tile wins; ok and empty are done, failed and missing are retried', async () => {
  const dir = await journalDir();
  const j = await Journal.open(new LocalJournalStore(dir, 'r1'));
  await j.startRun({ type: 'run', run: 'r1', time: 't', version: 'v', selection: 'sel', source: 'src' });
  await j.record(rec('main/dark/1', 'failed'));
  await j.record(rec('main/dark/1', 'ok'));
  await j.record(rec('main/dark/2', 'empty'));
  await j.record(rec('main/dark/3', 'missing'));
  await j.record(rec('main/dark/4', 'ok'));
  await j.record(rec('main/dark/4', 'failed'));
  await j.close();
  assert.deepEqual(await readdir(dir), ['r1.jsonl']);
  const again = await Journal.open(new LocalJournalStore(dir, 'r2'));
  assert.deepEqual([...again.completed()].sort(), ['main/dark/1', 'main/dark/2']);
  assert.deepEqual([...again.doneRecords().keys()].sort(), ['main/dark/1', 'main/dark/2']);
  assert.equal(again.doneRecords().get('main/dark/2')?.status, 'empty');
  assert.equal(again.latestRecord('main/dark/4')?.status, 'failed');
  assert.equal(again.previousSelection, 'sel');
  assert.equal(again.damagedLines, 0);
});

test("a torn last line in another run's file is counted damaged and the file is left untouched", async () => {
  const dir = await journalDir();
  await mkdir(dir, { recursive: true });
  const other = join(dir, 'other.jsonl');
  const text = line(rec('main/dark/1', 'ok', '2026-01-01T00:00:00Z', 'other')) + '{"type":"tile","tile":"main/da';
  await writeFile(other, text);
  const before = await stat(other);
  const store = new LocalJournalStore(dir, 'mine');
  const j = await Journal.open(store);
  assert.equal(j.damagedLines, 1);
  assert.deepEqual([...j.completed()], ['main/dark/1']);
  await j.record(rec('main/dark/2', 'ok', '2026-01-01T00:00:01Z', 'mine'));
  await j.close();
  assert.equal(await readFile(other, 'utf8'), text);
  assert.equal((await stat(other)).mtimeMs, before.mtimeMs);
  assert.equal(store.file, join(dir, 'mine.jsonl'));
  assert.equal(await readFile(join(dir, 'mine.jsonl'), 'utf8'), line(rec('main/dark/2', 'ok', '2026-01-01T00:00:01Z', 'mine')));
  const again = await Journal.open(new LocalJournalStore(dir, 'third'));
  assert.equal(again.damagedLines, 1);
  assert.deepEqual([...again.completed()].sort(), ['main/dark/1', 'main/dark/2']);
});

test('a run never appends to an existing file: a reused run id gets a fresh file, never a torn tail', async () => {
  const dir = await journalDir();
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'r1.jsonl'), '{"type":"tile","tile":"main/da');
  const store = new LocalJournalStore(dir, 'r1');
  await store.append(rec('main/dark/7', 'ok'));
  await store.close();
  assert.equal(store.file, join(dir, 'r1.1.jsonl'));
  assert.equal(await readFile(join(dir, 'r1.jsonl'), 'utf8'), '{"type":"tile","tile":"main/da');
  const { records, damaged } = await new LocalJournalStore(dir, 'x').load();
  assert.equal(damaged, 1);
  assert.deepEqual(records, [rec('main/dark/7', 'ok')]);
});

test('damaged lines in the middle are counted and skipped, not fatal', async () => {
  const dir = await journalDir();
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'a.jsonl'), line(rec('main/dark/1', 'ok')) + 'garbage\n{"type":"tile"}\n' + line(rec('main/dark/2', 'ok')));
  const j = await Journal.open(new LocalJournalStore(dir, 'r'));
  assert.equal(j.damagedLines, 2);
  assert.deepEqual([...j.completed()].sort(), ['main/dark/1', 'main/dark/2']);
});

test('the legacy journal.jsonl is read, merged in time order with the per-run files, and never written', async () => {
  const dir = await journalDir();
  await mkdir(dir, { recursive: true });
  const legacy = `${dir}.jsonl`;
  const legacyText =
    line(rec('main/dark/1', 'ok', '2026-01-01T00:00:00.000Z', 'old')) +
    line(rec('main/dark/2', 'failed', '2026-01-01T00:00:01.000Z', 'old')) +
    line(rec('main/dark/3', 'ok', '2026-01-03T00:00:00.000Z', 'old')) +
    '{"torn';
  await writeFile(legacy, legacyText);
  // Run b's clock stepped back between its two records of tile 4: its own order still holds.
  await writeFile(
    join(dir, 'b.jsonl'),
    line(rec('main/dark/2', 'ok', '2026-01-02T00:00:00.000Z', 'b')) +
      line(rec('main/dark/4', 'failed', '2026-01-02T00:00:05.000Z', 'b')) +
      line(rec('main/dark/4', 'ok', '2026-01-02T00:00:04.000Z', 'b')),
  );
  // Run a wrote tile 3 before the legacy file's last record, and tile 5 at the same time as run b (a < b).
  await writeFile(
    join(dir, 'a.jsonl'),
    line(rec('main/dark/3', 'failed', '2026-01-02T00:00:00.000Z', 'a')) + line(rec('main/dark/5', 'ok', '2026-01-02T00:00:06.000Z', 'a')),
  );
  await writeFile(join(dir, 'c.jsonl'), line(rec('main/dark/5', 'failed', '2026-01-02T00:00:06.000Z', 'c')));
  const store = new LocalJournalStore(dir, 'new');
  const j = await Journal.open(store);
  assert.equal(j.damagedLines, 1);
  assert.deepEqual(
    [...j.completed()].sort(),
    ['main/dark/1', 'main/dark/2', 'main/dark/3', 'main/dark/4'],
    'tile 3: legacy ok is later than run a; tile 4: run b clamps its clock; tile 5: file c sorts after a',
  );
  assert.equal(j.latestRecord('main/dark/5')?.run, 'c');
  await j.record(rec('main/dark/6', 'ok'));
  await j.close();
  assert.equal(await readFile(legacy, 'utf8'), legacyText);
  assert.deepEqual((await readdir(dir)).sort(), ['a.jsonl', 'b.jsonl', 'c.jsonl', 'new.jsonl']);
});

test('refresh() sees what another run wrote since open', async () => {
  const dir = await journalDir();
  const mine = await Journal.open(new LocalJournalStore(dir, 'mine'));
  await mine.record(rec('main/dark/1', 'ok', '2026-01-01T00:00:00Z', 'mine'));
  const other = new LocalJournalStore(dir, 'other');
  await other.append(rec('main/dark/2', 'ok', '2026-01-01T00:00:01Z', 'other'));
  await other.append(rec('main/dark/1', 'failed', '2026-01-01T00:00:02Z', 'other'));
  await other.close();
  assert.deepEqual([...mine.completed()], ['main/dark/1']);
  await mine.refresh();
  assert.deepEqual([...mine.completed()], ['main/dark/2']);
  assert.equal(mine.latestRecord('main/dark/1')?.run, 'other');
  await mine.close();
});

test('a missing journal folder loads as empty; the store creates it on first append', async () => {
  const dir = await journalDir();
  assert.deepEqual(await new LocalJournalStore(dir, 'r').load(), { records: [], damaged: 0 });
  const s = new LocalJournalStore(dir, 'r');
  await s.append(rec('main/dark/1', 'ok'));
  await s.close();
  assert.equal((await s.load()).records.length, 1);
});

test('sourceFingerprint: same files, same fingerprint; a rewritten file, another', () => {
  const local: TileRef = {
    survey: 'main',
    program: 'dark',
    healpix: 23040,
    coadd: { path: '/a/coadd.fits', size: 100, mtimeMs: 1000 },
    redrock: { path: '/a/redrock.fits', size: 50, mtimeMs: 2000 },
  };
  const fp = sourceFingerprint(local);
  assert.match(fp, /^[0-9a-f]{16}$/);
  assert.equal(sourceFingerprint(structuredClone(local)), fp);
  assert.equal(sourceFingerprint({ ...local, coadd: { ...local.coadd!, path: '/moved/coadd.fits' } }), fp, 'the path is not part of it');
  const variants: TileRef[] = [
    { ...local, coadd: { ...local.coadd!, size: 101 } },
    { ...local, coadd: { ...local.coadd!, mtimeMs: 1001 } },
    { ...local, redrock: { ...local.redrock!, mtimeMs: 2001 } },
    { ...local, redrock: undefined },
    { ...local, coadd: undefined },
    { ...local, coadd: local.redrock, redrock: local.coadd },
  ];
  const all = new Set([fp, ...variants.map(sourceFingerprint)]);
  assert.equal(all.size, variants.length + 1);

  const s3: TileRef = {
    survey: 'main',
    program: 'dark',
    healpix: 1,
    coadd: { path: 'k/c', size: 100, etag: 'abc', mtimeMs: 5 },
    redrock: { path: 'k/r', size: 50, etag: 'def', mtimeMs: 6 },
  };
  assert.notEqual(sourceFingerprint({ ...s3, coadd: { ...s3.coadd!, etag: 'abd' } }), sourceFingerprint(s3));
  assert.equal(sourceFingerprint({ ...s3, coadd: { ...s3.coadd!, mtimeMs: 99 } }), sourceFingerprint(s3), 'with an ETag, LastModified is not identity');
});
