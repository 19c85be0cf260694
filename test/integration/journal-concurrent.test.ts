/**
 * Many runs writing one dataset's journal at once: 4 processes appending to one local journal folder, and
 * 4 S3 stores writing one journal prefix in a real S3 server (s3rver). Every record is read back, none is
 * damaged, and a torn last line in another run's file is counted but never cut off or appended to.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import type { LocalS3 } from '../../src/dev/local-s3.js';
import { Journal } from '../../src/pipeline/journal.js';
import type { JournalRecord, TileRecord } from '../../src/storage/journal-store.js';
import { LocalJournalStore } from '../../src/storage/journal-local.js';
import { journalUrlFor, S3JournalStore } from '../../src/storage/s3-journal.js';
import { collect } from '../helpers/cli.js';
import { FAST_RETRY, S3_TEST_TIMEOUT, signedClient, startS3 } from '../helpers/s3.js';

const WRITER = fileURLToPath(new URL('../helpers/journal-writer.js', import.meta.url));
const BUCKET = 'desi-journal-many';
let s3: LocalS3;
let client: S3Client;
let work: string;

before(async () => {
  s3 = await startS3([BUCKET]);
  client = signedClient(s3.endpoint);
  work = await mkdtemp(join(tmpdir(), 'desi-qad-journal-many-'));
});
after(async () => {
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** "run tile" of each tile record, sorted: what must all be there after concurrent writes. */
function tileKeys(records: JournalRecord[]): string[] {
  return records
    .filter((r): r is TileRecord => r.type === 'tile')
    .map((r) => `${r.run} ${r.tile}`)
    .sort();
}

function expectedKeys(runs: string[], n: number): string[] {
  return runs.flatMap((run) => Array.from({ length: n }, (_, i) => `${run} main/dark/${i}`)).sort();
}

test('4 processes × 300 records into one local journal folder: all 1,200 read back, none damaged', { timeout: 120_000 }, async () => {
  const dir = join(work, 'local', '_desi-qad', 'journal');
  const runs = ['20260101T000000-1-aaaaaaaa', '20260101T000000-2-bbbbbbbb', '20260101T000000-3-cccccccc', '20260101T000000-4-dddddddd'];
  const start = Date.now() + 1500;
  const children = runs.map((run) => collect(spawn(process.execPath, [WRITER, dir, run, '300', String(start)], { stdio: ['ignore', 'pipe', 'pipe'] })));
  const results = await Promise.all(children);
  for (const r of results) assert.equal(r.code, 0, r.stderr);

  const { records, damaged } = await new LocalJournalStore(dir, 'reader').load();
  assert.equal(damaged, 0);
  assert.equal(records.length, 1200);
  assert.deepEqual(tileKeys(records), expectedKeys(runs, 300));
  assert.deepEqual((await readdir(dir)).sort(), runs.map((r) => `${r}.jsonl`).sort(), 'one file per run');
  // Records come back in time order (non-decreasing), whichever file they are in.
  const times = records.map((r) => Date.parse(r.time));
  for (let i = 1; i < times.length; i++) assert.ok(times[i] >= times[i - 1], `record ${i} is older than record ${i - 1}`);
  const journal = await Journal.open(new LocalJournalStore(dir, 'reader2'));
  assert.equal(journal.completed().size, 300 - Math.ceil(300 / 7));
});

test("a torn last line in another run's file: counted damaged, the file left untouched while this run appends", { timeout: 60_000 }, async () => {
  const dir = join(work, 'torn', '_desi-qad', 'journal');
  await mkdir(dir, { recursive: true });
  const torn = join(dir, '20260101T000000-9-eeeeeeee.jsonl');
  const whole: TileRecord = { type: 'tile', tile: 'main/dark/1', status: 'ok', time: '2026-01-01T00:00:00.000Z', run: '20260101T000000-9-eeeeeeee' };
  const text = JSON.stringify(whole) + '\n' + '{"type":"tile","tile":"main/dark/2","sta';
  await writeFile(torn, text);
  const before = await stat(torn);

  const start = Date.now() + 1000;
  const r = await collect(spawn(process.execPath, [WRITER, dir, '20260101T000000-5-ffffffff', '50', String(start)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  assert.equal(r.code, 0, r.stderr);

  const { records, damaged } = await new LocalJournalStore(dir, 'reader').load();
  assert.equal(damaged, 1);
  assert.equal(records.length, 51);
  assert.equal(await readFile(torn, 'utf8'), text);
  const after = await stat(torn);
  assert.equal(after.size, before.size);
  assert.equal(after.mtimeMs, before.mtimeMs);
});

test('4 S3 stores × 100 records into one journal prefix at once: all 400 read back, none damaged', { timeout: S3_TEST_TIMEOUT }, async () => {
  const url = journalUrlFor(`s3://${BUCKET}/many`);
  const runs = ['20260101T000000-11-a1a1a1a1', '20260101T000000-12-b2b2b2b2', '20260101T000000-13-c3c3c3c3', '20260101T000000-14-d4d4d4d4'];
  await Promise.all(
    runs.map(async (run) => {
      const store = new S3JournalStore(signedClient(s3.endpoint), url, { retry: FAST_RETRY });
      await store.append({ type: 'run', run, time: new Date().toISOString(), version: 'v', selection: 'sel', source: 'src' });
      for (let i = 0; i < 100; i++) {
        await store.append({
          type: 'tile',
          tile: `main/dark/${i}`,
          status: i % 5 === 0 ? 'failed' : 'ok',
          time: new Date().toISOString(),
          run,
          sources: 'fedcba9876543210',
        });
      }
      await store.close();
    }),
  );
  const reader = new S3JournalStore(client, url);
  const { records, damaged } = await reader.load();
  assert.equal(damaged, 0);
  assert.equal(records.length, 404);
  assert.deepEqual(tileKeys(records), expectedKeys(runs, 100));
  assert.deepEqual(
    records
      .filter((r) => r.type === 'run')
      .map((r) => r.run)
      .sort(),
    [...runs].sort(),
  );
  assert.ok(
    records.every((r) => r.type === 'run' || r.sources === 'fedcba9876543210'),
    'fingerprints come back from the names',
  );
  assert.equal(reader.stats.getRequests, 4, 'one GET per run record');
  const journal = await Journal.open(new S3JournalStore(client, url));
  assert.equal(journal.completed().size, 80);
});
