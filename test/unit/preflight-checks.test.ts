/**
 * The pure parts of preflight: the kill point, the judgement of a resume from its journal and files, the
 * projection's arithmetic, and the checklist's decision.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { atKillPoint } from '../../src/preflight/kill-resume.js';
import { judgeResume, type ResumeEvidence } from '../../src/preflight/exactness.js';
import { project, projectionText, sampleFigures, throughputMBps } from '../../src/preflight/projection.js';
import { checklistLines, decide } from '../../src/preflight/checklist.js';
import type { JournalRecord, TileRecord, TileStatus } from '../../src/storage/journal-store.js';
import type { TileRef } from '../../src/desi/tile.js';

test('the kill point: first batch summarized and the second started, some tiles journaled and not all', () => {
  const log = '--- Starting Batch 1/4 ---\n--- Batch Summary ---\n--- Starting Batch 2/4 ---\n';
  assert.equal(atKillPoint({ log, journaled: 2, sample: 8, batches: 4 }), true);
  assert.equal(
    atKillPoint({ log: '--- Starting Batch 1/4 ---\n--- Starting Batch 2/4 ---\n', journaled: 1, sample: 8, batches: 4 }),
    false,
    'batch 1 not summarized',
  );
  assert.equal(atKillPoint({ log, journaled: 8, sample: 8, batches: 4 }), false, 'all done: too late');
  assert.equal(atKillPoint({ log: '', journaled: 0, sample: 8, batches: 1 }), false);
  assert.equal(atKillPoint({ log: '', journaled: 1, sample: 8, batches: 1 }), true, 'one batch: after its first tile');
});

const run = (id: string): JournalRecord => ({ type: 'run', run: id, time: '2026-12-03T00:00:00.000Z', version: 't', selection: 's', source: 'src' });
const rec = (runId: string, tile: string, status: TileStatus = 'ok'): TileRecord => ({
  type: 'tile',
  tile,
  status,
  time: '2026-12-03T00:00:01.000Z',
  run: runId,
  fitsBytes: 1000,
  fetchedBytes: 100,
  parquetBytes: status === 'ok' ? 10 : 0,
  ...(status === 'ok' ? { path: `${tile}.parquet` } : {}),
});

/** A resume that went right: a and b done before the kill, c and d by the resumed run. */
function good(): ResumeEvidence {
  return {
    sample: ['a', 'b', 'c', 'd'],
    records: [run('r1'), rec('r1', 'a'), rec('r1', 'b', 'empty'), run('r2'), rec('r2', 'c'), rec('r2', 'd')],
    killed: true,
    firstExit: 'by signal SIGKILL',
    resumedLog: 'Found 2 completed tiles.\n',
    files: new Map([
      ['a.parquet', 10],
      ['c.parquet', 10],
      ['d.parquet', 10],
    ]),
  };
}

test('an exact resume is judged exact, with its counts', () => {
  const v = judgeResume(good());
  assert.deepEqual(v.problems, []);
  assert.equal(v.ok, true);
  assert.equal(v.journaledBeforeKill, 2);
  assert.equal(v.doneBeforeKill, 2);
  assert.equal(v.resumedJournaled, 2);
  assert.equal(v.foundCompleted, 2);
});

test('each way a resume can be wrong is named', () => {
  const cases: [string, (e: ResumeEvidence) => void, RegExp][] = [
    ['not killed', (e) => (e.killed = false), /was not killed/],
    ['found the wrong count', (e) => (e.resumedLog = 'Found 1 completed tiles.'), /found 1 completed tiles, but 2 were done/],
    ['redid a done tile', (e) => e.records.push(rec('r2', 'a')), /redid 1 tiles done before the kill/],
    ['skipped a tile', (e) => (e.records = e.records.filter((r) => !(r.type === 'tile' && r.tile === 'd'))), /not journaled exactly once by the resumed run/],
    ['journaled twice', (e) => e.records.push(rec('r2', 'c')), /journaled as done more than once/],
    ['a tile outside the sample', (e) => e.records.push(rec('r2', 'z')), /not in the sample/],
    ['a missing file', (e) => e.files.delete('c.parquet'), /journaled Parquet files are missing/],
    ['a file of another size', (e) => e.files.set('c.parquet', 9), /differ in size/],
    ['a leftover temporary', (e) => e.files.set('main/dark/.desi-qad-tmp-r1.abc', 5), /not journaled as ok/],
  ];
  for (const [what, spoil, expected] of cases) {
    const e = good();
    spoil(e);
    const v = judgeResume(e);
    assert.equal(v.ok, false, what);
    assert.match(v.problems.join('; '), expected, what);
  }
});

test('the projection scales the sample by FITS bytes and adds the discovery once', () => {
  const finals = [rec('r', 'a'), rec('r', 'b', 'empty'), rec('r', 'c', 'failed')];
  const f = sampleFigures(finals, 3e6, 2000);
  assert.equal(f.done, 2);
  assert.equal(f.failed, 1);
  assert.equal(f.fitsBytes, 2000);
  assert.equal(f.parquetBytes, 10);
  assert.equal(throughputMBps(f), 1.5);
  const all: TileRef[] = [0, 1, 2, 3].map((i) => ({
    survey: 'main',
    program: 'dark',
    healpix: i,
    coadd: { path: `c${i}`, size: 1.5e6 },
    redrock: { path: `r${i}`, size: 1.5e6 },
  }));
  const p = project(all, f, 500);
  assert.equal(p.tiles, 4);
  assert.equal(p.fitsBytes, 12e6);
  assert.equal(p.seconds, 0.5 + 12 / 1.5);
  assert.equal(p.fetchBytes, 1.2e6, 'fetched/FITS of the sample (200/2000) times the total');
  assert.equal(p.outputBytes, 60e3, 'Parquet/FITS of the sample (10/2000) times the total');
  assert.match(
    projectionText(p),
    /^4 tiles, 12\.00 MB of FITS: 8\.50 sec \(discovery 0\.50 s, then 1\.50 MB\/s\); fetch 1\.20 MB \(10\.00% of the FITS\); output 0\.06 MB/,
  );
  assert.match(projectionText(project(all, sampleFigures([], 0, 0), 0)), /nothing measured/);
});

test('cleared only when every item with a target holds; information never decides', () => {
  const ok = decide([
    { id: 'a', name: 'Failure rate', target: 'at most 10%', value: '0%', ok: true },
    { id: 'p', name: 'Full run', target: '', value: '1 h' },
  ]);
  assert.equal(ok.cleared, true);
  assert.equal(checklistLines(ok).at(-1), '✅ Cleared for the full run.');
  const no = decide([
    { id: 'a', name: 'Failure rate', target: 'at most 10%', value: '30%', ok: false },
    { id: 'v', name: 'Verify', target: 'nothing found', value: 'not run', ok: false },
  ]);
  assert.equal(no.cleared, false);
  assert.deepEqual(no.failed, ['Failure rate', 'Verify']);
  assert.equal(checklistLines(no).at(-1), '❌ Not cleared: failure rate, verify.');
  assert.match(checklistLines(no)[1], /^❌ Failure rate : 30% {2}\(target: at most 10%\)$/);
});
