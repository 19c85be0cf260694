import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeStatus } from '../../src/pipeline/status.js';
import { makePlan } from '../../src/pipeline/plan-file.js';
import type { TileRef } from '../../src/desi/tile.js';
import type { JournalRecord, RunRecord, TileRecord, TileStatus } from '../../src/storage/journal-store.js';
import type { RunInfo } from '../../src/storage/run-registry.js';
import type { DatasetIdentity } from '../../src/storage/dataset-identity.js';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const at = (sec: number) => new Date(T0 + sec * 1000).toISOString();
const MBYTES = 1e6;

function run(id: string, sec: number, shard?: string): RunRecord {
  const r: RunRecord = { type: 'run', run: id, time: at(sec), version: '1', selection: 'sel', source: '/src' };
  if (shard !== undefined) r.shard = shard;
  return r;
}

function tile(key: string, status: TileStatus, sec: number, runId: string, o: Partial<TileRecord> = {}): TileRecord {
  const done = status === 'ok' || status === 'empty';
  return {
    type: 'tile',
    tile: key,
    status,
    time: at(sec),
    run: runId,
    rows: status === 'ok' ? 10 : 0,
    fitsBytes: 100 * MBYTES,
    fetchedBytes: done ? 5 * MBYTES : 1 * MBYTES,
    parquetBytes: status === 'ok' ? MBYTES : 0,
    ...o,
  };
}

const identity: DatasetIdentity = {
  format: 'desi-qad-dataset',
  schemaVersion: 1,
  columns: 'default',
  selection: 'sel',
  source: '/src',
  toolVersion: '1',
  created: at(0),
  createdBy: 'r1',
};

function ref(key: string, bytes: number): TileRef {
  const [survey, program, healpix] = key.split('/');
  return { survey, program, healpix: Number(healpix), coadd: { path: `/src/${key}/c`, size: bytes / 2 }, redrock: { path: `/src/${key}/r`, size: bytes / 2 } };
}

test('without a plan: the tiles the journal knows; the latest record of each wins; sums over done tiles', () => {
  const records: JournalRecord[] = [
    run('r1', 0),
    tile('main/dark/1', 'ok', 10, 'r1'),
    tile('main/dark/2', 'failed', 20, 'r1', { errorClass: 'S3_SlowDown', error: 'GET …: SlowDown' }),
    tile('main/dark/3', 'failed', 30, 'r1', { errorClass: 'S3_SlowDown', error: 'second' }),
    tile('main/dark/4', 'failed', 40, 'r1', { errorClass: 'FITS_TRUNCATED' }),
    tile('main/dark/5', 'missing', 50, 'r1', { errorClass: 'MISSING_SOURCE', error: 'main/dark/5: no redrock file' }),
    tile('main/dark/6', 'empty', 60, 'r1'),
    run('r2', 100),
    // A later run redoes tile 2: ok now.
    tile('main/dark/2', 'ok', 110, 'r2'),
    // A later record wins even when it is worse.
    tile('main/dark/1', 'failed', 120, 'r2', { errorClass: 'FITS_TRUNCATED', error: 'truncated at byte 5' }),
  ];
  const s = computeStatus({ identity, records, runs: [], now: new Date(T0 + 200_000) });
  assert.deepEqual(s.tiles, { planned: 6, done: 2, ok: 1, empty: 1, failed: 3, missing: 1, notStarted: 0, remaining: 4, outsidePlan: 0 });
  assert.deepEqual(s.failures, [
    // The example with a message is preferred over the first one (S3 names hold no message).
    { errorClass: 'FITS_TRUNCATED', tiles: 2, example: { key: 'main/dark/1', message: 'truncated at byte 5' } },
    { errorClass: 'S3_SlowDown', tiles: 1, example: { key: 'main/dark/3', message: 'second' } },
  ]);
  assert.deepEqual(s.missingTiles, [{ key: 'main/dark/5', message: 'main/dark/5: no redrock file' }]);
  assert.equal(s.rows, 10); // tile 2's ok record; tile 6 is empty
  assert.equal(s.fitsBytes, 200 * MBYTES);
  assert.equal(s.fetchedBytes, 10 * MBYTES);
  assert.equal(s.parquetBytes, MBYTES);
  assert.equal(s.remainingBytes, 400 * MBYTES); // not-done tiles' own records' sizes
  assert.equal(s.complete, false);
  assert.deepEqual(s.shards, [], 'no plan and no shard: no shard table');
  assert.equal(s.identity?.selection, 'sel');
  assert.equal(s.plan, null);
  assert.equal(s.firstRecord, at(0));
  assert.equal(s.lastRecord, at(120));
});

test('throughput: the last 10 minutes of records and overall; the ETA at the recent rate, else the overall one', () => {
  // Run from t=0; 100 MB done every 10 s for 20 min (overall 10 MB/s), then 100 MB every 5 s for the last
  // 10 minutes (20 MB/s).
  const records: JournalRecord[] = [run('r1', 0)];
  let n = 0;
  for (let sec = 10; sec <= 1200; sec += 10) records.push(tile(`main/dark/${n++}`, 'ok', sec, 'r1'));
  for (let sec = 1205; sec <= 1800; sec += 5) records.push(tile(`main/dark/${n++}`, 'ok', sec, 'r1'));
  records.push(tile('main/dark/99999', 'failed', 1800, 'r1', { fitsBytes: 600 * MBYTES, errorClass: 'X' }));
  const s = computeStatus({ records, runs: [], now: new Date(T0 + 1_800_000) });
  const doneMB = n * 100; // every done tile is 100 MB
  assert.ok(Math.abs(s.throughput.overallMBps! - doneMB / 1800) < 1e-9, String(s.throughput.overallMBps));
  // 120 tiles of 100 MB from 1205 s to 1800 s, plus the one at 1200 s: 121 × 100 MB over 600 s.
  assert.ok(Math.abs(s.throughput.recentMBps! - (121 * 100) / 600) < 1e-9, String(s.throughput.recentMBps));
  assert.equal(s.eta.basis, 'recent');
  assert.ok(Math.abs(s.eta.seconds! - 600 / s.throughput.recentMBps!) < 1e-9);

  // Status read an hour after the runs stopped: the rates are those the records show, not diluted by the gap.
  const later = computeStatus({ records, runs: [], now: new Date(T0 + 5_400_000) });
  assert.equal(later.throughput.recentMBps, s.throughput.recentMBps);

  // Nothing done in the last 10 minutes of records (only failures): the ETA falls back to the overall rate.
  const stuck = computeStatus({
    records: [run('r1', 0), tile('main/dark/1', 'ok', 10, 'r1'), tile('main/dark/2', 'failed', 1500, 'r1', { errorClass: 'X' })],
    runs: [],
    now: new Date(T0 + 1_500_000),
  });
  assert.equal(stuck.throughput.recentMBps, null);
  assert.ok(Math.abs(stuck.throughput.overallMBps! - 100 / 1500) < 1e-9);
  assert.equal(stuck.eta.basis, 'overall');
  assert.ok(Math.abs(stuck.eta.seconds! - 1500) < 1e-6);

  // No done record at all: no rate, no ETA.
  const none = computeStatus({ records: [run('r1', 0), tile('main/dark/1', 'failed', 5, 'r1', { errorClass: 'X' })], runs: [], now: new Date(T0 + 10_000) });
  assert.deepEqual(none.throughput, { recentMBps: null, overallMBps: null });
  assert.deepEqual(none.eta, { seconds: null, basis: null });
});

test('with a plan: planned tiles by shard, remaining bytes from the plan, records outside it not counted', () => {
  const refs = [ref('main/dark/1', 400 * MBYTES), ref('main/dark/2', 300 * MBYTES), ref('main/dark/3', 200 * MBYTES), ref('main/dark/4', 100 * MBYTES)];
  const plan = makePlan({
    tiles: refs,
    shards: 2,
    created: new Date(T0),
    createdBy: 'p',
    source: '/src',
    selection: 'sel',
    surveys: ['main'],
    programs: ['dark'],
  });
  // Balanced by bytes: shard 0 gets 400 + 100, shard 1 gets 300 + 200.
  assert.deepEqual(
    plan.tiles.map((t) => [t.key, t.shard]),
    [
      ['main/dark/1', 0],
      ['main/dark/2', 1],
      ['main/dark/3', 1],
      ['main/dark/4', 0],
    ],
  );
  const records: JournalRecord[] = [
    tile('main/dark/77', 'ok', 1, 'old'), // an earlier unsharded run's tile the plan does not list
    run('s0', 10, '0/2'),
    run('s1', 11, '1/2'),
    // Shard 0's record names its shard; shard 1's does not (an older writer): its run record does.
    tile('main/dark/1', 'ok', 30, 's0', { shard: '0/2', fitsBytes: 400 * MBYTES }),
    tile('main/dark/2', 'failed', 40, 's1', { errorClass: 'S3_InternalError', fitsBytes: 300 * MBYTES }),
    tile('main/dark/3', 'ok', 50, 's1', { fitsBytes: 200 * MBYTES }),
  ];
  const heartbeat = (r: string, sec: number): RunInfo => ({ run: r, host: 'h', pid: 1, started: at(10), heartbeat: at(sec), leaseMs: 120_000 });
  const s = computeStatus({
    identity,
    plan,
    records,
    runs: [heartbeat('s1', 55), heartbeat('s0', 58), heartbeat('gone', -1000)],
    now: new Date(T0 + 60_000),
  });
  assert.deepEqual(s.plan, { shards: 2, tiles: 4, bytes: 1000 * MBYTES, created: at(0) });
  assert.deepEqual(s.tiles, { planned: 4, done: 2, ok: 2, empty: 0, failed: 1, missing: 0, notStarted: 1, remaining: 2, outsidePlan: 1 });
  assert.equal(s.fitsBytes, 600 * MBYTES);
  assert.equal(s.remainingBytes, 400 * MBYTES, 'tiles 2 and 4, at the plan sizes');
  assert.deepEqual(s.shards, [
    { shard: '0/2', tiles: 2, done: 1, failed: 0, missing: 0, remaining: 1, lastActivity: at(30) },
    { shard: '1/2', tiles: 2, done: 1, failed: 1, missing: 0, remaining: 1, lastActivity: at(50) },
  ]);
  assert.deepEqual(
    s.runs.map((r) => [r.run, r.alive, r.shard]),
    [
      ['gone', false, undefined],
      ['s0', true, '0/2'],
      ['s1', true, '1/2'],
    ],
  );
  assert.equal(s.complete, false);

  // The last tiles done, by any run: complete, whatever run did them.
  const all = [...records, tile('main/dark/2', 'ok', 70, 'later'), tile('main/dark/4', 'empty', 71, 'later')];
  const done = computeStatus({ plan, records: all, runs: [], now: new Date(T0 + 80_000) });
  assert.equal(done.complete, true);
  assert.deepEqual(done.eta, { seconds: 0, basis: null });
  assert.deepEqual(
    done.shards.map((x) => [x.shard, x.done, x.remaining]),
    [
      ['0/2', 2, 0],
      ['1/2', 2, 0],
    ],
  );

  // A shard that has not started yet: listed, with nothing done and no activity.
  const idle = computeStatus({ plan, records: [], runs: [], now: new Date(T0) });
  assert.deepEqual(idle.shards[1], { shard: '1/2', tiles: 2, done: 0, failed: 0, missing: 0, remaining: 2 });
});

test('without a plan, records from shards give a shard table; a live run or no record at all is not complete', () => {
  const records: JournalRecord[] = [run('a', 0, '1/2'), tile('main/dark/1', 'ok', 5, 'a'), run('b', 1), tile('main/dark/2', 'ok', 6, 'b')];
  const s = computeStatus({ records, runs: [], now: new Date(T0 + 10_000) });
  assert.deepEqual(
    s.shards.map((x) => [x.shard, x.tiles, x.done, x.lastActivity]),
    [
      ['1/2', 1, 1, at(5)],
      ['none', 1, 1, at(6)],
    ],
  );
  assert.equal(s.complete, true);
  const live: RunInfo = { run: 'c', host: 'h', pid: 5, started: at(0), heartbeat: at(9), leaseMs: 120_000 };
  assert.equal(computeStatus({ records, runs: [live], now: new Date(T0 + 10_000) }).complete, false, 'a live run may find more tiles');
  // processGone (its pid is dead on this host) overrides the lease.
  const gone = computeStatus({ records, runs: [live], now: new Date(T0 + 10_000), processGone: () => true });
  assert.equal(gone.runs[0].alive, false);
  assert.equal(gone.complete, true);
  assert.equal(computeStatus({ identity, records: [], runs: [], now: new Date(T0) }).complete, false, 'nothing recorded yet');
});
