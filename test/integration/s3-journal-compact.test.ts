/**
 * Compaction of the S3 journal on a real S3 server (s3rver): a compacted journal keeps every record (whole,
 * a failed tile's message included) and loads in one LIST and one GET; a load that pages through the listing
 * while a compaction runs loses nothing; two compactions at once lose nothing; records written after a
 * compaction and a second compaction fold in; a journal without segments (the older form) loads as before;
 * close() of a writer compacts a long journal and leaves a short one alone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { LocalS3 } from '../../src/dev/local-s3.js';
import { Journal } from '../../src/pipeline/journal.js';
import type { JournalRecord, RunRecord, TileRecord } from '../../src/storage/journal-store.js';
import { isSegmentName, journalUrlFor, S3JournalStore } from '../../src/storage/s3-journal.js';
import { FAST_RETRY, S3_TEST_TIMEOUT, signedClient, startS3 } from '../helpers/s3.js';

const BUCKET = 'desi-journal-compact';
let s3: LocalS3;
let client: S3Client;

before(async () => {
  s3 = await startS3([BUCKET]);
  client = signedClient(s3.endpoint);
});
after(async () => {
  await s3?.stop();
});

const runRec = (run: string, time: string): RunRecord => ({
  type: 'run',
  run,
  time,
  version: '0.1.0',
  selection: 'SPECTYPE in (QSO)',
  source: 's3://x/healpix',
});
const tileRec = (i: number, time: number, run: string): TileRecord => ({
  type: 'tile',
  tile: `main/dark/${i}`,
  status: i % 7 === 0 ? 'failed' : 'ok',
  time: new Date(time).toISOString(),
  run,
  rows: i,
  ...(i % 7 === 0 ? { errorClass: 'OBJECT_CHANGED', error: `tile ${i} changed under us` } : { parquetBytes: 1000 + i }),
});

/** Writes a run record and N tile records (tiles first..first+n-1) with one store; returns the store. */
async function write(url: ReturnType<typeof journalUrlFor>, run: string, first: number, n: number, base: number): Promise<S3JournalStore> {
  const store = new S3JournalStore(client, url, { retry: FAST_RETRY, compactAt: 0 });
  await store.append(runRec(run, new Date(base).toISOString()));
  for (let i = 0; i < n; i += 32)
    await Promise.all(Array.from({ length: Math.min(32, n - i) }, (_, j) => store.append(tileRec(first + i + j, base + 1 + i + j, run))));
  return store;
}

async function keys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.push(o.Key!.slice(prefix.length));
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

const summary = (records: JournalRecord[]) => records.map((r) => JSON.stringify(r));

test('compaction keeps every record whole; the journal then loads in one LIST and one GET', { timeout: S3_TEST_TIMEOUT }, async () => {
  const url = journalUrlFor(`s3://${BUCKET}/out-a`);
  await write(url, 'run1', 0, 150, Date.parse('2026-05-01T00:00:00.000Z'));
  const before = new S3JournalStore(client, url);
  const old = await before.load();
  assert.equal(old.records.length, 151);
  assert.equal(before.stats.getRequests, 1, 'the old form: one GET, for the run record');

  const compactor = new S3JournalStore(client, url, { retry: FAST_RETRY });
  const done = await compactor.compact();
  assert.equal(done?.records, 151);
  assert.equal(done?.folded, 151);
  const left = await keys(`${url.prefix}/`);
  assert.deepEqual(left, [done?.segment], 'only the segment is left');
  assert.ok(isSegmentName(left[0]));

  const reader = new S3JournalStore(client, url);
  const now = await reader.load();
  assert.equal(now.damaged, 0);
  // Every record as before, in the same order; failed tiles now carry their message (read from the body).
  const whole = old.records.map((r) => (r.type === 'tile' && r.status === 'failed' ? { ...r, error: `tile ${r.tile.split('/')[2]} changed under us` } : r));
  assert.deepEqual(summary(now.records), summary(whole));
  assert.deepEqual(reader.stats, { listRequests: 1, getRequests: 1, putRequests: 0, deleteRequests: 0 });
});

test('later records and a second compaction fold in; latest still wins', { timeout: S3_TEST_TIMEOUT }, async () => {
  const url = journalUrlFor(`s3://${BUCKET}/out-b`);
  await write(url, 'run1', 0, 50, Date.parse('2026-05-01T00:00:00.000Z'));
  await new S3JournalStore(client, url, { retry: FAST_RETRY }).compact();
  // A second run redoes tiles 0..9 (tile 7 now ok... and 0 failed again) and adds 50..59.
  await write(url, 'run2', 0, 10, Date.parse('2026-05-02T00:00:00.000Z'));
  await write(url, 'run2b', 50, 10, Date.parse('2026-05-02T01:00:00.000Z'));
  const mixed = await new S3JournalStore(client, url).load();
  assert.equal(mixed.records.length, 51 + 11 + 11);
  const second = await new S3JournalStore(client, url, { retry: FAST_RETRY }).compact();
  assert.equal(second?.folded, 1 + 22);
  assert.equal((await keys(`${url.prefix}/`)).length, 1);
  const reader = new S3JournalStore(client, url);
  const after = await reader.load();
  assert.deepEqual(
    after.records.map((r) => `${r.run} ${r.type === 'tile' ? r.tile : 'run'}`),
    mixed.records.map((r) => `${r.run} ${r.type === 'tile' ? r.tile : 'run'}`),
  );
  const j = await Journal.open(new S3JournalStore(client, url));
  assert.equal(j.latestRecord('main/dark/3')?.run, 'run2');
  assert.equal(j.latestRecord('main/dark/30')?.run, 'run1');
  assert.equal(j.latestRecord('main/dark/55')?.run, 'run2b');
  assert.equal(j.completed().size, 60 - [0, 7, 14, 21, 28, 35, 42, 49, 56].length);
});

test('a load paging through the listing while a compaction runs loses nothing', { timeout: S3_TEST_TIMEOUT }, async () => {
  const url = journalUrlFor(`s3://${BUCKET}/out-c`);
  await write(url, 'run1', 0, 120, Date.parse('2026-05-03T00:00:00.000Z'));
  // Some records read from their bodies: a run record per writer, listed and then deleted under the reader.
  await write(url, 'run2', 200, 20, Date.parse('2026-05-03T01:00:00.000Z'));
  const expected = summary((await new S3JournalStore(client, url).load()).records).length;
  assert.equal(expected, 121 + 21);

  const reader = new S3JournalStore(client, url, { maxKeys: 25 });
  let pages = 0;
  reader.afterPage = async () => {
    pages += 1;
    // After the first page: a whole compaction (segment written, every loose record deleted).
    if (pages === 1) await new S3JournalStore(client, url, { retry: FAST_RETRY }).compact();
  };
  const got = await reader.load();
  assert.equal(got.damaged, 0);
  assert.equal(got.records.length, expected);
  assert.equal(new Set(got.records.map((r) => (r.type === 'tile' ? `${r.run} ${r.tile}` : r.run))).size, expected);
});

test('a load whose listed run records are gone when it reads them lists again and loses nothing', { timeout: S3_TEST_TIMEOUT }, async () => {
  const url = journalUrlFor(`s3://${BUCKET}/out-d`);
  // Ten writers: ten run records, read from their bodies after the whole listing.
  for (let w = 0; w < 10; w++) await write(url, `run${w}`, w * 10, 10, Date.parse('2026-05-04T00:00:00.000Z') + w * 1000);
  const reader = new S3JournalStore(client, url, { getConcurrency: 1 });
  let compacted = false;
  reader.afterPage = async () => {
    // The listing is complete (one page): compact before the bodies are fetched.
    if (!compacted) {
      compacted = true;
      await new S3JournalStore(client, url, { retry: FAST_RETRY }).compact();
    }
  };
  const got = await reader.load();
  assert.equal(got.damaged, 0);
  assert.equal(got.records.length, 110);
  assert.equal(got.records.filter((r) => r.type === 'run').length, 10);
  assert.ok(reader.stats.listRequests >= 2, 'it listed again after the run records went missing');
});

test('two compactions at once lose nothing', { timeout: S3_TEST_TIMEOUT }, async () => {
  const url = journalUrlFor(`s3://${BUCKET}/out-e`);
  await write(url, 'run1', 0, 100, Date.parse('2026-05-05T00:00:00.000Z'));
  await new S3JournalStore(client, url, { retry: FAST_RETRY }).compact();
  await write(url, 'run2', 100, 100, Date.parse('2026-05-05T01:00:00.000Z'));
  const expected = (await new S3JournalStore(client, url).load()).records.length;
  assert.equal(expected, 202);
  // A listed everything and wrote its segment; B then lists, writes its own, and deletes; then A deletes.
  const a = new S3JournalStore(client, url, { retry: FAST_RETRY });
  const b = new S3JournalStore(client, url, { retry: FAST_RETRY });
  let bDone: Promise<unknown> | undefined;
  a.afterSegment = async () => {
    bDone = b.compact();
    await bDone;
  };
  await a.compact();
  await bDone;
  const after = await new S3JournalStore(client, url).load();
  assert.equal(after.damaged, 0);
  assert.equal(after.records.length, expected);
  // And truly concurrently, with more records written meanwhile.
  const writer = write(url, 'run3', 200, 60, Date.parse('2026-05-05T02:00:00.000Z'));
  await Promise.all([
    new S3JournalStore(client, url, { retry: FAST_RETRY }).compact(),
    new S3JournalStore(client, url, { retry: FAST_RETRY }).compact(),
    writer,
  ]);
  const last = await new S3JournalStore(client, url).load();
  assert.equal(last.records.length, expected + 61);
  await new S3JournalStore(client, url, { retry: FAST_RETRY }).compact();
  assert.equal((await keys(`${url.prefix}/`)).length, 1);
  assert.equal((await new S3JournalStore(client, url).load()).records.length, expected + 61);
});

test('close() compacts a journal of compactAt objects or more, and not a shorter one', { timeout: S3_TEST_TIMEOUT }, async () => {
  const url = journalUrlFor(`s3://${BUCKET}/out-f`);
  const w = new S3JournalStore(client, url, { retry: FAST_RETRY, compactAt: 40 });
  await w.append(runRec('run1', '2026-05-06T00:00:00.000Z'));
  for (let i = 0; i < 20; i++) await w.append(tileRec(i, Date.parse('2026-05-06T00:00:01.000Z') + i, 'run1'));
  await w.close();
  assert.equal((await keys(`${url.prefix}/`)).length, 21, '21 objects < 40: left loose');
  const w2 = new S3JournalStore(client, url, { retry: FAST_RETRY, compactAt: 40 });
  for (let i = 20; i < 40; i++) await w2.append(tileRec(i, Date.parse('2026-05-06T00:00:01.000Z') + i, 'run1'));
  await w2.close();
  assert.equal((await keys(`${url.prefix}/`)).length, 1, '41 objects: one segment');
  assert.equal((await new S3JournalStore(client, url).load()).records.length, 41);
  // A store that wrote nothing (status, a reader) never compacts.
  await write(url, 'run2', 100, 50, Date.parse('2026-05-07T00:00:00.000Z'));
  const reader = new S3JournalStore(client, url, { compactAt: 1 });
  await reader.load();
  await reader.close();
  assert.equal(reader.stats.deleteRequests, 0);
  assert.equal((await keys(`${url.prefix}/`)).length, 52);
});
