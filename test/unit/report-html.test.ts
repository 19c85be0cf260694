/**
 * The report's data and page from hand-made journal records: batches rebuilt with the log's batch size,
 * throughput bins, the sky pixels, the Z histogram, and the page itself: self-contained (nothing to fetch)
 * and escaped (a hostile tile name or error message stays text).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reportData, zHistogram, type ParquetFacts, type RunLogInfo } from '../../src/report/data.js';
import { reportHtml } from '../../src/report/html.js';
import { parseLogHead, readParquetFacts } from '../../src/report/read.js';
import { esc } from '../../src/report/svg.js';
import type { JournalRecord, TileRecord, TileStatus } from '../../src/storage/journal-store.js';

const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const at = (sec: number) => new Date(T0 + sec * 1000).toISOString();
const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)>`;

function tile(key: string, status: TileStatus, sec: number, extra: Partial<TileRecord> = {}): TileRecord {
  return { type: 'tile', tile: key, status, time: at(sec), run: 'r1', rows: 0, fitsBytes: 10e6, fetchedBytes: 1e6, parquetBytes: 0, ...extra };
}

const RECORDS: JournalRecord[] = [
  { type: 'run', run: 'r1', time: at(0), version: 'desi-qad 0.1.0', selection: "SPECTYPE == 'QSO' and ZWARN == 0", source: '/src' },
  tile('main/dark/0', 'ok', 10, { rows: 5, parquetBytes: 0.5e6, path: 'main/dark/0/main-dark-0.parquet' }),
  tile('main/dark/4', 'ok', 20, { rows: 3, parquetBytes: 0.3e6, path: 'main/dark/0/main-dark-4.parquet' }),
  tile('main/dark/5', 'empty', 30),
  tile('main/dark/6', 'failed', 40, { errorClass: 'BAD_HEADER', error: HOSTILE, fitsBytes: 5e6 }),
  tile('main/dark/<b>7</b>', 'missing', 50, { error: 'no redrock <file>' }),
];

const PARQUET: ParquetFacts = {
  z: new Float64Array([0.5, 1.2, 1.25, 2.4, 3.9, 2.1, 2.2, 2.3]),
  filesRead: 2,
  filesTotal: 3,
  unreadable: [{ path: 'main/dark/9/x.parquet', message: HOSTILE }],
  provenance: [{ values: { 'desi-qad': 'desi-qad 0.1.0', 'coadd SPECPROD': HOSTILE }, files: 2, example: 'main/dark/0/main-dark-0.parquet' }],
};

function data(batchSize?: number) {
  const logs = new Map<string, RunLogInfo>();
  if (batchSize !== undefined) logs.set('r1', { file: 'run_x.log', command: `desi-qad convert --out ${HOSTILE}`, batchSize });
  return reportData({ out: '/o', now: new Date(T0 + 3600_000), records: RECORDS, runs: [], logs, parquet: PARQUET, minReduction: 0.9 });
}

test('batches come from the run records in groups of the batch size its log says (else 8)', () => {
  const two = data(2);
  assert.deepEqual(
    two.batches.map((b) => [b.index, b.tiles, b.fitsBytes, b.parquetBytes]),
    [
      [1, 2, 20e6, 0.8e6],
      [2, 2, 10e6, 0],
      [3, 1, 0, 0],
    ],
  );
  assert.equal(two.batches[0].reduction, 1 - 0.8 / 20);
  assert.equal(two.batches[2].reduction, null, 'a batch of a missing tile only has no reduction');
  assert.equal(data().batches.length, 1, 'without a log, batches of 8');
  // Throughput: 1 s bins over 50 s, one series (the run); the done tiles' FITS bytes in their bins.
  const tp = two.throughput;
  assert.equal(tp.binMs, 1000);
  assert.equal(tp.series.length, 1);
  const total = tp.series[0].points.reduce((s, p) => s + p.mbps * (tp.binMs / 1000), 0);
  assert.ok(Math.abs(total - 30) < 1e-9, `${total} MB in the bins`);
});

test('sky pixels: the done tiles at their nside-64 pixel centres, with their rows', () => {
  const d = data(2);
  assert.deepEqual(
    d.sky.map((p) => [p.healpix, p.rows]),
    [
      [0, 5],
      [4, 3],
      [5, 0],
    ],
  );
  assert.ok(Math.abs(d.sky[0].ra - 45) < 1e-9);
});

test('the Z histogram: round bins, every value counted once', () => {
  const h = zHistogram(PARQUET.z)!;
  assert.equal(h.total, 8);
  assert.equal(
    h.counts.reduce((s, c) => s + c, 0),
    8,
  );
  assert.equal(h.lo, 0);
  assert.equal(h.width, 0.1);
  assert.equal(h.counts[Math.floor(2.15 / 0.1)], 1, 'the bin of 2.1');
  assert.equal(h.median, (2.1 + 2.2) / 2);
  assert.equal(zHistogram(new Float64Array(0)), null);
});

test('the page is self-contained and escapes what the dataset says', () => {
  const html = reportHtml(data(2));
  assert.doesNotMatch(html, /<script/i, 'no script element, hostile or not');
  assert.doesNotMatch(html, /<img/i);
  assert.doesNotMatch(html, /<b>7<\/b>/, 'a tile name stays text');
  assert.match(html, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/, 'the error message is shown, escaped');
  assert.match(html, /main\/dark\/&lt;b&gt;7&lt;\/b&gt;/);
  // Nothing to fetch: no src, href or url(), and the only URL is SVG's namespace name.
  assert.doesNotMatch(html, /\s(src|href|xlink:href)=["']|url\(|@import/i);
  assert.deepEqual([...new Set(html.match(/https?:\/\/[^\s"'<>]+/g))], ['http://www.w3.org/2000/svg']);
  assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  const plots = [...html.matchAll(/data-plot="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(plots.sort(), ['fetched', 'outcomes', 'redshift', 'reduction', 'size-rows', 'sky', 'throughput']);
  assert.match(html, /failed: BAD_HEADER/);
  assert.equal(esc(`a<b>&"c'`), 'a&lt;b&gt;&amp;&quot;c&#39;');
});

test('a log head gives the run, its command line and batch size', () => {
  const text = [
    '[2026-12-03 07:08:00] [INFO] - desi-qad 0.1.0: run 20261203T070800-27838-fd9d80f3 on vm (pid 27838), Node v20.20.2',
    '[2026-12-03 07:08:00] [INFO] - Command: desi-qad convert --out o --batch-size 3',
    '[2026-12-03 07:08:00] [INFO] - Settings: --threads 2 --downloads 8 --fetch ranges --gap-bytes 65536 --memory 6,319.00 MB --batch-size 3',
  ].join('\n');
  const got = parseLogHead('run_20261203_070800.log', text)!;
  assert.equal(got.run, '20261203T070800-27838-fd9d80f3');
  assert.equal(got.info.command, 'desi-qad convert --out o --batch-size 3');
  assert.equal(got.info.batchSize, 3);
  assert.equal(got.info.host, 'vm');
  assert.equal(parseLogHead('x.log', 'nothing'), undefined);
});

test('past the limit, the Z column is read from an even sample of the files, the same on every report', async () => {
  const records = Array.from({ length: 10 }, (_, i) => tile(`main/dark/${i}`, 'ok', i, { rows: 1 }));
  const opened: string[] = [];
  const facts = await readParquetFacts(
    records,
    (rel) => {
      opened.push(rel);
      return Promise.reject(new Error(`cannot open ${HOSTILE}`));
    },
    4,
  );
  assert.equal(facts.filesTotal, 10);
  assert.equal(opened.length, 4);
  assert.deepEqual(opened.sort(), [
    'main/dark/0/main-dark-0.parquet',
    'main/dark/0/main-dark-2.parquet',
    'main/dark/0/main-dark-5.parquet',
    'main/dark/0/main-dark-7.parquet',
  ]);
  assert.equal(facts.filesRead, 0);
  assert.equal(facts.unreadable.length, 4, 'a file that cannot be read is listed, not fatal');
  assert.equal(facts.z.length, 0);
});
