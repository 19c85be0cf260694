import { test } from 'node:test';
import assert from 'node:assert/strict';
import { journalUrlFor, parseRecordName, recordName, safeDecode, safeEncode, timeStamp } from '../../src/storage/s3-journal.js';
import type { RunRecord, TileRecord } from '../../src/storage/journal-store.js';

test('safeEncode keeps names to [A-Za-z0-9.-] and round-trips', () => {
  for (const s of ['main/dark/23040', 'a_b.c d', 'ünï/ç0dé', '20260102T030405-4242', '']) {
    const e = safeEncode(s);
    assert.match(e, /^[A-Za-z0-9.-]*$/);
    assert.equal(safeDecode(e), s);
  }
  assert.equal(safeEncode('main/dark/23040'), 'main.2Fdark.2F23040');
  assert.equal(safeDecode('bad.2'), undefined);
  assert.equal(safeDecode('no_underscore'), undefined);
});

test('timeStamp is fixed width and sorts like the time', () => {
  assert.equal(timeStamp('2026-01-02T03:04:05.123Z'), '20260102T030405123Z');
  assert.equal(timeStamp('2026-01-02T03:04:05Z'), '20260102T030405000Z');
  assert.throws(() => timeStamp('yesterday'));
  assert.ok(timeStamp('2026-01-02T03:04:05.999Z') < timeStamp('2026-01-02T03:04:06.000Z'));
});

test('recordName / parseRecordName round-trip tile and run records', () => {
  const tile: TileRecord = { type: 'tile', tile: 'main/dark/23040', status: 'ok', time: '2026-01-02T03:04:05.123Z', run: '20260102T030000-4242', rows: 12 };
  const name = recordName(tile, timeStamp(tile.time), '9f3a61c2', 41);
  assert.equal(name, '20260102T030405123Z_20260102T030000-4242_9f3a61c2_0000000041_t_ok_main.2Fdark.2F23040.json');
  assert.deepEqual(parseRecordName(name), { type: 'tile', tile: 'main/dark/23040', status: 'ok', time: tile.time, run: tile.run });

  const run: RunRecord = {
    type: 'run',
    run: 'r_1',
    time: '2026-01-02T03:00:00.000Z',
    version: '0.1.0',
    selection: 'SPECTYPE in (QSO) and ZWARN == 0 and DELTACHI2 > 25 ü/_',
    source: 's3://desiproject/dr1/spectro/redux/iron/healpix',
  };
  const rname = recordName(run, timeStamp(run.time), 'abcdef01', 0);
  assert.doesNotMatch(rname, /\//);
  assert.deepEqual(parseRecordName(rname), run);

  const long: RunRecord = { ...run, selection: 'x'.repeat(2000) };
  const lname = recordName(long, timeStamp(long.time), 'abcdef01', 1);
  assert.ok(Buffer.byteLength(lname) < 1024);
  assert.equal(parseRecordName(lname), 'body');

  for (const bad of [
    'notes.txt',
    'x.json',
    '20260102T030405123Z_r_zz_1_t_ok_a.json',
    '20260102T030405123Z_r_ab_1_t_done_a.json',
    '20260102T030405123Z_r_ab_1_q_ok_a.json',
    'sub/20260102T030405123Z_r_ab_1_t_ok_a.json',
    '20260102T030405123Z_r_ab_1_r_!!!.json',
  ]) {
    assert.equal(parseRecordName(bad), undefined, bad);
  }
});

test('journalUrlFor puts the journal in _desi-qad/journal under the output', () => {
  assert.deepEqual(journalUrlFor('s3://b12/out/'), { bucket: 'b12', prefix: 'out/_desi-qad/journal' });
  assert.deepEqual(journalUrlFor('s3://b12'), { bucket: 'b12', prefix: '_desi-qad/journal' });
});
