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

test('recordName / parseRecordName: tile records round-trip from the name, with their fingerprint', () => {
  const tile: TileRecord = {
    type: 'tile',
    tile: 'main/dark/23040',
    status: 'ok',
    time: '2026-01-02T03:04:05.123Z',
    run: '20260102T030000-4242-9f3a61c2',
    rows: 12,
    parquetBytes: 4096,
    sources: '3f9c2a7e1b0d4c55',
  };
  const name = recordName(tile, timeStamp(tile.time), '5d0e11aa', 41);
  assert.equal(name, '20260102T030405123Z_20260102T030000-4242-9f3a61c2_5d0e11aa_0000000041_t_ok_main.2Fdark.2F23040_3f9c2a7e1b0d4c55_4096_12_-_-_-.json');
  assert.deepEqual(parseRecordName(name), {
    type: 'tile',
    tile: 'main/dark/23040',
    status: 'ok',
    time: tile.time,
    run: tile.run,
    sources: tile.sources,
    parquetBytes: 4096,
    rows: 12,
  });

  const bare: TileRecord = { ...tile };
  delete bare.sources;
  delete bare.rows;
  const bareName = recordName(bare, timeStamp(tile.time), '5d0e11aa', 42);
  assert.match(bareName, /_t_ok_main\.2Fdark\.2F23040_-_4096_-_-_-_-\.json$/);
  assert.deepEqual(parseRecordName(bareName), { type: 'tile', tile: 'main/dark/23040', status: 'ok', time: tile.time, run: tile.run, parquetBytes: 4096 });

  // The form before the counts (9 fields: up to the Parquet size) is still read.
  assert.deepEqual(
    parseRecordName('20260102T030405123Z_20260102T030000-4242-9f3a61c2_5d0e11aa_0000000041_t_ok_main.2Fdark.2F23040_3f9c2a7e1b0d4c55_4096.json'),
    { type: 'tile', tile: 'main/dark/23040', status: 'ok', time: tile.time, run: tile.run, sources: tile.sources, parquetBytes: 4096 },
  );

  // The form before fingerprints (7 fields) is still read.
  assert.deepEqual(parseRecordName('20260102T030405123Z_20260102T030000-4242_9f3a61c2_0000000041_t_ok_main.2Fdark.2F23040.json'), {
    type: 'tile',
    tile: 'main/dark/23040',
    status: 'ok',
    time: tile.time,
    run: '20260102T030000-4242',
  });
  // A fingerprint the name cannot hold as hex goes in the body.
  assert.equal(parseRecordName(recordName({ ...tile, sources: 'Not/Hex' }, timeStamp(tile.time), 'ab', 1)), 'body');
});

test('tile names carry what status sums and groups by: rows, FITS and fetched bytes, and the error class', () => {
  const t = '2026-01-02T03:04:05.123Z';
  const run = '20260102T030000-4242-9f3a61c2';
  // What a run writes (pipeline/run.ts toRecord), for each status: all but the message comes back from the name.
  const records: TileRecord[] = [
    {
      type: 'tile',
      tile: 'main/dark/1',
      status: 'ok',
      time: t,
      run,
      rows: 7,
      fitsBytes: 123456789,
      fetchedBytes: 2345678,
      requests: 9,
      parquetBytes: 40960,
      sources: '0123456789abcdef',
      path: 'x',
    },
    {
      type: 'tile',
      tile: 'main/dark/2',
      status: 'empty',
      time: t,
      run,
      rows: 0,
      fitsBytes: 5_000_000_000,
      fetchedBytes: 0,
      requests: 2,
      parquetBytes: 0,
      sources: '0123456789abcdef',
    },
    {
      type: 'tile',
      tile: 'sv3/bright/99999',
      status: 'failed',
      time: t,
      run,
      rows: 0,
      fitsBytes: 999_999_999_999,
      fetchedBytes: 999_999_999_999,
      requests: 5,
      parquetBytes: 0,
      sources: 'fedcba9876543210',
      errorClass: 'S3_InternalError',
      error: 'GET s3://… failed after 6 attempts',
    },
    {
      type: 'tile',
      tile: 'main/dark/27248',
      status: 'missing',
      time: t,
      run,
      rows: 0,
      fitsBytes: 129600,
      fetchedBytes: 0,
      requests: 0,
      parquetBytes: 0,
      sources: 'fedcba9876543210',
      errorClass: 'MISSING_SOURCE',
      error: 'no redrock',
    },
  ];
  for (const [i, rec] of records.entries()) {
    const name = recordName(rec, timeStamp(t), '5d0e11aa', 1_000_000_000 + i);
    assert.ok(Buffer.byteLength(name) < 200, `${Buffer.byteLength(name)} bytes: ${name}`);
    const named: TileRecord = { ...rec };
    delete named.requests;
    delete named.path;
    delete named.error;
    if (rec.status !== 'ok') delete named.parquetBytes; // the size rides along for ok tiles only (resume's check)
    assert.deepEqual(parseRecordName(name), named, name);
  }
  assert.match(recordName(records[3], timeStamp(t), 'ab', 1), /_t_missing_main\.2Fdark\.2F27248_fedcba9876543210_-_0_129600_0_MISSING\.5FSOURCE\.json$/);
  // An error class a name field cannot tell from "none" ('-', or empty), or a count that is not a count: the body.
  for (const odd of [{ errorClass: '-' }, { errorClass: '' }, { rows: 1.5 }, { fitsBytes: -1 }, { fetchedBytes: 1e16 }]) {
    assert.equal(parseRecordName(recordName({ ...records[2], ...odd }, timeStamp(t), 'ab', 1)), 'body', JSON.stringify(odd));
  }
  // Bad count fields or class are not records.
  const head = '20260102T030405123Z_r_ab_1_t_failed_a_-_-';
  for (const bad of [`${head}_x_-_-_-.json`, `${head}_-_-_-_bad.5.json`, `${head}_-_-_-_.json`, `${head}_-_-_-.json`, `${head}_-_-_-_A_B.json`]) {
    assert.equal(parseRecordName(bad), undefined, bad);
  }
  assert.deepEqual(parseRecordName(`${head}_1_2_3_A.json`), {
    type: 'tile',
    tile: 'a',
    status: 'failed',
    time: t,
    run: 'r',
    rows: 1,
    fitsBytes: 2,
    fetchedBytes: 3,
    errorClass: 'A',
  });
});

test('run records are named by a hash of their body and read from it; the older base64 form is still read', () => {
  const run: RunRecord = {
    type: 'run',
    run: 'r_1',
    time: '2026-01-02T03:00:00.000Z',
    version: '0.1.0',
    selection: 'SPECTYPE in (QSO) and ZWARN == 0 and DELTACHI2 > 25 ü/_',
    source: '/home/someone/'.padEnd(400, 'long-checkout-folder/') + 'test/fixtures/tree',
  };
  const rname = recordName(run, timeStamp(run.time), 'abcdef01', 0);
  assert.match(rname, /^20260102T030000000Z_r.5F1_abcdef01_0000000000_r_[0-9a-f]{16}\.json$/);
  assert.equal(parseRecordName(rname), 'body');
  assert.notEqual(recordName({ ...run, selection: 'other' }, timeStamp(run.time), 'abcdef01', 0), rname);

  const old = `20260102T030000000Z_r.5F1_abcdef01_0000000000_r_${Buffer.from(JSON.stringify({ version: run.version, selection: run.selection, source: 's3://x/y' })).toString('base64url')}.json`;
  assert.deepEqual(parseRecordName(old), { ...run, source: 's3://x/y' });
});

test('every name stays under 200 bytes whatever the run, tile or selection', () => {
  const t = '2026-01-02T03:00:00.000Z';
  const long: RunRecord = { type: 'run', run: 'r', time: t, version: 'v', selection: 'x'.repeat(2000), source: 'ü'.repeat(500) };
  const cases = [
    recordName(long, timeStamp(t), 'abcdef01', 1),
    recordName({ ...long, run: 'ü/'.repeat(300) }, timeStamp(t), 'abcdef01', 2),
    recordName({ type: 'tile', tile: 'main/dark/'.repeat(40), status: 'failed', time: t, run: 'r' }, timeStamp(t), 'abcdef01', 3),
    recordName(
      { type: 'tile', tile: 'main/dark/1', status: 'failed', time: t, run: 'q'.repeat(500), sources: '0123456789abcdef' },
      timeStamp(t),
      'abcdef01',
      4,
    ),
  ];
  for (const n of cases) {
    assert.ok(Buffer.byteLength(n) < 200, `${Buffer.byteLength(n)} bytes: ${n}`);
    assert.equal(parseRecordName(n), 'body', n);
  }
  assert.match(cases[2], /_T\.json$/);
  assert.match(cases[3], /_h-[0-9a-f]{16}_abcdef01_0000000004_T\.json$/);
});

test('names that are not records are rejected', () => {
  for (const bad of [
    'notes.txt',
    'x.json',
    '20260102T030405123Z_r_zz_1_t_ok_a.json',
    '20260102T030405123Z_r_ab_1_t_done_a.json',
    '20260102T030405123Z_r_ab_1_q_ok_a.json',
    'sub/20260102T030405123Z_r_ab_1_t_ok_a.json',
    '20260102T030405123Z_r_ab_1_r_!!!.json',
    '20260102T030405123Z_r_ab_1_t_ok_a_NotHex.json',
    '20260102T030405123Z_r_ab_1_t_ok_a_00_extra.json',
  ]) {
    assert.equal(parseRecordName(bad), undefined, bad);
  }
});

test('journalUrlFor puts the journal in _desi-qad/journal under the output', () => {
  assert.deepEqual(journalUrlFor('s3://b12/out/'), { bucket: 'b12', prefix: 'out/_desi-qad/journal' });
  assert.deepEqual(journalUrlFor('s3://b12'), { bucket: 'b12', prefix: '_desi-qad/journal' });
});
