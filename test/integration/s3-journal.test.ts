/**
 * The journal kept as S3 objects in a real S3 server (s3rver): records survive a new store instance, the
 * latest record of a tile wins across runs and within one millisecond, the run's selection round-trips,
 * loading thousands of records takes a few LIST requests and one GET per run record, names stay short
 * whatever the run's details, and an endpoint answering 200 with a page that is not S3's is an error.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { LocalS3 } from '../../src/dev/local-s3.js';
import { Journal } from '../../src/pipeline/journal.js';
import type { RunRecord, TileRecord } from '../../src/storage/journal-store.js';
import { journalUrlFor, S3JournalStore } from '../../src/storage/s3-journal.js';
import { FAST_RETRY, putObject, S3_TEST_TIMEOUT, signedClient, startFaultServer, startS3 } from '../helpers/s3.js';

const BUCKET = 'desi-journal';
let s3: LocalS3;
let client: S3Client;

before(async () => {
  s3 = await startS3([BUCKET]);
  client = signedClient(s3.endpoint);
});
after(async () => {
  await s3?.stop();
});

const runRec = (run: string, time: string, selection = 'SPECTYPE in (QSO) and ZWARN == 0'): RunRecord => ({
  type: 'run',
  run,
  time,
  version: '0.1.0',
  selection,
  source: 's3://desiproject/dr1/spectro/redux/iron/healpix',
});
const tileRec = (tile: string, status: TileRecord['status'], time: string, run: string, extra: Partial<TileRecord> = {}): TileRecord => ({
  type: 'tile',
  tile,
  status,
  time,
  run,
  ...extra,
});

async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) keys.push(o.Key!);
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

test('records survive a new store instance; latest wins across runs; the selection round-trips', { timeout: S3_TEST_TIMEOUT }, async () => {
  const url = journalUrlFor(`s3://${BUCKET}/out-a`);
  const first = new S3JournalStore(client, url, { retry: FAST_RETRY });
  assert.equal(first.location, `s3://${BUCKET}/out-a/_desi-qad/journal/`);
  assert.deepEqual(await first.load(), { records: [], damaged: 0 });
  await first.append(runRec('run1', '2026-01-02T03:00:00.000Z'));
  await first.append(tileRec('main/dark/23040', 'failed', '2026-01-02T03:00:01.000Z', 'run1', { errorClass: 'OBJECT_CHANGED', error: 'it changed' }));
  await first.append(tileRec('main/dark/23041', 'ok', '2026-01-02T03:00:02.000Z', 'run1', { rows: 3 }));
  await first.append(tileRec('sv3/dark/9500', 'empty', '2026-01-02T03:00:03.000Z', 'run1'));
  await first.close();

  // A second run, as if on another machine: later records win.
  const second = new S3JournalStore(client, url, { retry: FAST_RETRY });
  await second.append(runRec('run2', '2026-01-03T00:00:00.000Z'));
  await second.append(tileRec('main/dark/23040', 'ok', '2026-01-03T00:00:01.000Z', 'run2'));
  await second.append(tileRec('main/dark/23041', 'failed', '2026-01-03T00:00:02.000Z', 'run2'));

  const third = new S3JournalStore(client, url, { retry: FAST_RETRY });
  const loaded = await third.load();
  assert.equal(loaded.damaged, 0);
  assert.deepEqual(
    loaded.records.map((r) => (r.type === 'tile' ? `${r.run} ${r.tile} ${r.status} ${r.time}` : `${r.run} run ${r.selection}`)),
    [
      'run1 run SPECTYPE in (QSO) and ZWARN == 0',
      'run1 main/dark/23040 failed 2026-01-02T03:00:01.000Z',
      'run1 main/dark/23041 ok 2026-01-02T03:00:02.000Z',
      'run1 sv3/dark/9500 empty 2026-01-02T03:00:03.000Z',
      'run2 run SPECTYPE in (QSO) and ZWARN == 0',
      'run2 main/dark/23040 ok 2026-01-03T00:00:01.000Z',
      'run2 main/dark/23041 failed 2026-01-03T00:00:02.000Z',
    ],
  );
  assert.deepEqual(loaded.records[0], runRec('run1', '2026-01-02T03:00:00.000Z'));
  assert.equal(third.stats.getRequests, 2, 'one GET per run record, none for tile records');

  const journal = await Journal.open(new S3JournalStore(client, url));
  assert.deepEqual([...journal.completed()].sort(), ['main/dark/23040', 'sv3/dark/9500']);
  assert.equal(journal.latestRecord('main/dark/23041')?.status, 'failed');
  assert.equal(journal.previousSelection, 'SPECTYPE in (QSO) and ZWARN == 0');

  // Keys are safe: one level under the journal prefix, plain characters; the body is the full JSON record.
  const keys = await keysUnder('out-a/_desi-qad/journal/');
  assert.equal(keys.length, 7);
  for (const k of keys) assert.match(k.slice('out-a/_desi-qad/journal/'.length), /^[A-Za-z0-9._-]+\.json$/);
  const failedKey = keys.find((k) => k.includes('_t_failed_main.2Fdark.2F23040'))!;
  const body = await (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: failedKey }))).Body!.transformToString();
  assert.deepEqual(
    JSON.parse(body),
    tileRec('main/dark/23040', 'failed', '2026-01-02T03:00:01.000Z', 'run1', { errorClass: 'OBJECT_CHANGED', error: 'it changed' }),
  );
});

test('records written in the same millisecond keep their order (sequence numbers)', { timeout: S3_TEST_TIMEOUT }, async () => {
  const url = journalUrlFor(`s3://${BUCKET}/out-b`);
  const store = new S3JournalStore(client, url, { retry: FAST_RETRY });
  const t = '2026-02-01T00:00:00.000Z';
  for (const status of ['failed', 'missing', 'failed', 'ok', 'failed', 'empty'] as const) await store.append(tileRec('main/dark/1', status, t, 'r'));
  // A clock that steps back does not reorder one writer's records.
  await store.append(tileRec('main/dark/1', 'failed', '2026-01-31T23:59:59.000Z', 'r'));
  const { records } = await new S3JournalStore(client, url).load();
  assert.deepEqual(
    records.map((r) => (r as TileRecord).status),
    ['failed', 'missing', 'failed', 'ok', 'failed', 'empty', 'failed'],
  );
  const journal = await Journal.open(new S3JournalStore(client, url));
  assert.equal(journal.latestRecord('main/dark/1')?.status, 'failed');
});

test('a long selection goes in the body; stray objects are counted as damaged', { timeout: S3_TEST_TIMEOUT }, async () => {
  const url = journalUrlFor(`s3://${BUCKET}/out-c`);
  const store = new S3JournalStore(client, url, { retry: FAST_RETRY });
  const selection = `SPECTYPE in (${Array.from({ length: 200 }, (_, i) => `T${i}`).join(',')}) and ZWARN == 0`;
  await store.append(runRec('long', '2026-03-01T00:00:00.000Z', selection));
  await store.append(tileRec('main/dark/2', 'ok', '2026-03-01T00:00:01.000Z', 'long'));
  await putObject(client, BUCKET, 'out-c/_desi-qad/journal/notes.txt', 'hello');
  await putObject(client, BUCKET, 'out-c/_desi-qad/journal/sub/20260301T000000000Z_x_ab_0000000000_t_ok_a.json', '{}');
  const reader = new S3JournalStore(client, url);
  const { records, damaged } = await reader.load();
  assert.equal(damaged, 2);
  assert.equal(records.length, 2);
  assert.deepEqual(records[0], runRec('long', '2026-03-01T00:00:00.000Z', selection));
  assert.equal(reader.stats.getRequests, 1);
  assert.equal((await Journal.open(new S3JournalStore(client, url))).previousSelection, selection);
});

test('1,200 records load from 2 LIST pages and one GET (the run record)', { timeout: S3_TEST_TIMEOUT }, async () => {
  const url = journalUrlFor(`s3://${BUCKET}/out-d`);
  const store = new S3JournalStore(client, url, { retry: FAST_RETRY });
  await store.append(runRec('many', '2026-04-01T00:00:00.000Z'));
  const n = 1199;
  const base = Date.parse('2026-04-01T00:00:01.000Z');
  for (let i = 0; i < n; i += 32) {
    await Promise.all(
      Array.from({ length: Math.min(32, n - i) }, (_, j) =>
        store.append(tileRec(`main/dark/${i + j}`, (i + j) % 10 === 0 ? 'failed' : 'ok', new Date(base + i + j).toISOString(), 'many')),
      ),
    );
  }
  const reader = new S3JournalStore(client, url);
  const { records, damaged } = await reader.load();
  assert.equal(damaged, 0);
  assert.equal(records.length, 1200);
  assert.equal(reader.stats.listRequests, 2);
  assert.equal(reader.stats.getRequests, 1);
  const journal = await Journal.open(new S3JournalStore(client, url));
  assert.equal(journal.completed().size, n - Math.ceil(n / 10));
  assert.equal(journal.latestRecord('main/dark/1198')?.status, 'ok');
  assert.equal(journal.latestRecord('main/dark/1190')?.status, 'failed');
});

test('long run details and tiles: every key segment under 200 bytes, all records read back whole', { timeout: S3_TEST_TIMEOUT }, async () => {
  const url = journalUrlFor(`s3://${BUCKET}/out-e`);
  const store = new S3JournalStore(client, url, { retry: FAST_RETRY });
  const source = `/tmp/${'a-rather-long-folder-name-for-a-checkout/'.repeat(12)}test/fixtures/tree`;
  const run = runRec('20260501T000000-77-0badf00d', '2026-05-01T00:00:00.000Z');
  const longRun = { ...runRec('ü'.repeat(120), '2026-05-01T00:00:01.000Z'), source };
  const tiles: TileRecord[] = [
    tileRec('main/dark/23040', 'ok', '2026-05-01T00:00:02.000Z', run.run, { sources: '0123456789abcdef', rows: 4 }),
    tileRec('main/dark/23041', 'ok', '2026-05-01T00:00:03.000Z', longRun.run, { sources: 'fedcba9876543210' }),
    tileRec(`main/dark/${'9'.repeat(300)}`, 'failed', '2026-05-01T00:00:04.000Z', run.run),
  ];
  await store.append({ ...run, source });
  await store.append(longRun);
  for (const t of tiles) await store.append(t);
  const keys = await keysUnder('out-e/_desi-qad/journal/');
  assert.equal(keys.length, 5);
  for (const k of keys) for (const seg of k.split('/')) assert.ok(Buffer.byteLength(seg) < 200, `${Buffer.byteLength(seg)} bytes: ${seg}`);
  const { records, damaged } = await new S3JournalStore(client, url).load();
  assert.equal(damaged, 0);
  // Tile records come from their names (rows included); the rest from their bodies, whole.
  assert.deepEqual(records, [{ ...run, source }, longRun, tiles[0], tiles[1], tiles[2]]);
});

test('an endpoint that answers 200 with an HTML page: load and append fail, naming the journal', { timeout: S3_TEST_TIMEOUT }, async () => {
  const page = '<html><body>Welcome to the hotel network</body></html>';
  const portal = await startFaultServer(undefined, () => ({ status: 200, headers: { 'content-type': 'text/html' }, body: page }));
  try {
    const store = new S3JournalStore(signedClient(portal.endpoint), journalUrlFor(`s3://${BUCKET}/out-f`), { retry: { ...FAST_RETRY, maxAttempts: 2 } });
    await assert.rejects(store.load(), (err: Error) => {
      assert.match(err.message, /out-f\/_desi-qad\/journal/);
      assert.match(err.message, /not an S3 listing/);
      return true;
    });
    await assert.rejects(store.append(tileRec('main/dark/1', 'ok', '2026-06-01T00:00:00.000Z', 'r')), (err: Error) => {
      assert.match(err.message, /out-f\/_desi-qad\/journal\/.*_t_ok_main\.2Fdark\.2F1_-_-_-_-_-_-\.json/);
      assert.match(err.message, /no ETag/);
      return true;
    });
    assert.ok(portal.requests.filter((r) => r.method === 'PUT').length >= 2, 'the PUT was retried');
  } finally {
    await portal.close();
  }
});
