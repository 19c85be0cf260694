import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchStats, FailureWindow, totalsLines, tileLine } from '../../src/pipeline/summary.js';
import { duration, mb, reduction } from '../../src/pipeline/format.js';
import type { TileOutcome } from '../../src/pipeline/tile-job.js';
import { newRetryCounters } from '../../src/storage/retry.js';

const outcome = (fits: number, parquet: number, extra: Partial<TileOutcome> = {}): TileOutcome => ({
  tile: { survey: 'main', program: 'dark', healpix: 10304 },
  key: 'main/dark/10304',
  status: 'ok',
  rows: 3,
  fitsBytes: fits,
  fetchedBytes: fits / 10,
  requests: 4,
  retries: newRetryCounters(),
  parquetBytes: parquet,
  ms: 10,
  ioMs: 5,
  poolMs: 5,
  ...extra,
});

test("the seed's batch numbers come out as the seed printed them", () => {
  // Batch 1/5 of the seed's dry run: 1,236.86 MB of FITS, 21.13 MB of Parquet, 34.76 s.
  const s = new BatchStats();
  s.add(outcome(1_236_860_000, 21_130_000));
  s.ms = 34_760;
  const lines = s.lines();
  assert.match(lines[0], /FITS Downloaded : 1,236\.86 MB/);
  assert.match(lines.join('\n'), /Parquet Created : 21\.13 MB/);
  assert.match(lines.join('\n'), /Data Reduction {2}: 98\.29%/);
  assert.match(lines.join('\n'), /Batch Speed {5}: 35\.58 MB\/s/);
  assert.match(lines.join('\n'), /Duration {8}: 34\.76 sec/);
});

test('totals use total bytes over wall time, and the seed duration format', () => {
  const s = new BatchStats();
  s.add(outcome(7_715_850_000, 105_630_000));
  const t = totalsLines(s, 221_000).join('\n');
  assert.match(t, /Avg Compression : 98\.63%/);
  assert.match(t, /Avg Speed {7}: 34\.91 MB\/s/);
  assert.match(t, /Total Runtime {3}: 3 min 41 sec/);
  assert.equal(duration(2 * 3600_000 + 5 * 60_000 + 10_000), '2 h 05 min 10 sec');
  assert.equal(mb(0), '0.00');
  assert.equal(reduction(0, 0), 1);
});

test("tile lines start like the seed's and name the failure class", () => {
  assert.match(tileLine(outcome(172_460_000, 430_000)), /^ {2}Tile 10304: FITS Size=172\.46 MB, Parquet Size=0\.43 MB, /);
  const f = tileLine(outcome(1, 0, { status: 'failed', errorClass: 'TRUNCATED', error: 'x.fits: HDU FIBERMAP: ends early' }));
  assert.match(f, /Status=failed \[TRUNCATED\] x\.fits: HDU FIBERMAP: ends early$/);
});

test('the failure window judges only from 20 finished tiles and over the last 100', () => {
  const w = new FailureWindow(100, 20);
  for (let i = 0; i < 19; i++) w.push(true);
  assert.equal(w.exceeds(0.1), false, 'not judged before 20');
  w.push(true);
  assert.equal(w.exceeds(0.1), true);
  const w2 = new FailureWindow(100, 20);
  for (let i = 0; i < 10; i++) w2.push(true);
  for (let i = 0; i < 100; i++) w2.push(false);
  assert.equal(w2.rate(), 0, 'old failures leave the window');
  for (let i = 0; i < 10; i++) w2.push(true);
  assert.equal(w2.exceeds(0.1), false, '10% is not more than 10%');
  w2.push(true);
  assert.equal(w2.exceeds(0.1), true);
});
