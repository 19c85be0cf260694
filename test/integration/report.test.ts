/**
 * The run report as users get it: `convert` of the fixture tree (batches of 2, one tile whose redrock is
 * broken, one whose redrock is missing) writes logs/run_….report.html next to its log without changing its
 * exit status, and `desi-qad report` writes the page on demand, from a local --out and from an S3 one. The
 * page is opened from disk in headless Chromium (playwright-core, Debian's /usr/bin/chromium): it asks for
 * nothing but itself, logs no error, and every plot has drawn marks; the redshift histogram counts exactly
 * the rows the journal kept. A full-page screenshot is left in a folder of its own (its path is printed).
 * Skipped without Chromium unless DESI_QAD_REQUIRE_ORACLES=1 (CI).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import type { LocalS3 } from '../../src/dev/local-s3.js';
import type { TileRecord } from '../../src/storage/journal-store.js';
import { assertExit, FIXTURE_TREE, readLocalJournal, runCli } from '../helpers/cli.js';
import { S3_TEST_TIMEOUT, startS3 } from '../helpers/s3.js';

const CHROMIUM = '/usr/bin/chromium';
const required = process.env.DESI_QAD_REQUIRE_ORACLES === '1';
const noBrowser = !existsSync(CHROMIUM) && !required ? `${CHROMIUM} is not installed` : false;
const ALL = ['--survey', 'main,sv3', '--program', 'dark,bright', '--quiet', '--threads', '2', '--batch-size', '2'];
const ENV = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
const PLOTS = ['throughput', 'reduction', 'outcomes', 'sky', 'redshift', 'size-rows', 'fetched'];

let work: string;
let tree: string;
let out: string;
let logs: string;
let keptRows: number;
let convertOut: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'desi-qad-report-'));
  tree = join(work, 'tree');
  await cp(FIXTURE_TREE, tree, { recursive: true });
  // A redrock whose first card is not SIMPLE: its tile fails with an error class, the others convert.
  const broken = join(tree, 'main/dark/230/23040/redrock-main-dark-23040.fits');
  const bytes = await readFile(broken);
  bytes.write('NOTFITS = T'.padEnd(80, ' '), 0, 'latin1');
  await writeFile(broken, bytes);
  out = join(work, 'out');
  logs = join(work, 'logs');
  // Not --quiet: the run says where its report went.
  const r = await runCli(['convert', '--source', tree, '--out', out, '--log-dir', logs, ...ALL.filter((x) => x !== '--quiet')]);
  await assertExit(r, 1, logs);
  convertOut = r.stdout;
  assert.doesNotMatch(r.stderr, /report was not written/);
  const latest = new Map<string, TileRecord>();
  for (const r of await readLocalJournal(out)) if (r.type === 'tile') latest.set(r.tile, r);
  keptRows = [...latest.values()].reduce((s, r) => s + (r.status === 'ok' ? (r.rows ?? 0) : 0), 0);
  assert.ok(keptRows > 0);
  assert.ok(
    [...latest.values()].some((r) => r.status === 'failed'),
    'a tile failed',
  );
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test('convert writes the report next to its log (same stem) and keeps its exit status', async () => {
  const names = await readdir(logs);
  const log = names.find((f) => /^run_\d{8}_\d{6}(_\d+)?\.log$/.test(f));
  assert.ok(log, names.join(', '));
  const report = log.replace(/\.log$/, '.report.html');
  assert.ok(names.includes(report), `${report} in ${names.join(', ')}`);
  const html = await readFile(join(logs, report), 'utf8');
  assert.match(html, /^<!DOCTYPE html>/);
  for (const p of PLOTS) assert.match(html, new RegExp(`data-plot="${p}"`));
  assert.match(html, /failed: [A-Z_]+/, 'the failure class is on the page');
  assert.match(html, /desi-qad convert --source/, "the run's command line, from its log");
  assert.match(convertOut, new RegExp(`^Report: .*${report.replace(/\./g, '\\.')}$`, 'm'));
});

test('desi-qad report: exit 0 with the page, 2 for usage or a folder that is no dataset, 4 when it cannot be written', async () => {
  // The default file name, in the current folder.
  const cwd = join(work, 'cwd');
  await mkdir(cwd);
  const r = await runCli(['report', '--out', out, '--log-dir', logs], cwd);
  await assertExit(r, 0);
  assert.equal(r.stdout.trim(), `Report: ${join(cwd, 'desi-qad-report.html')}`);
  const html = await readFile(join(cwd, 'desi-qad-report.html'), 'utf8');
  for (const p of PLOTS) assert.match(html, new RegExp(`data-plot="${p}"`));
  assert.match(html, new RegExp(`Z of the ${keptRows} rows in \\d+ Parquet files`));

  const empty = join(work, 'empty');
  await mkdir(empty);
  const notDataset = await runCli(['report', '--out', empty, '--html', join(work, 'x.html')]);
  await assertExit(notDataset, 2);
  assert.match(notDataset.stderr, /^desi-qad report: .*not a desi-qad dataset/m);
  await assertExit(await runCli(['report', '--out', out, '--min-reduction', '2']), 2);
  const unwritable = await runCli(['report', '--out', out, '--html', join(work, 'no-such-folder', 'r.html')]);
  await assertExit(unwritable, 4);
  assert.match(unwritable.stderr, /^desi-qad report: cannot write /m);
  assert.doesNotMatch(unwritable.stderr, /\n\s+at /, 'no stack trace');
});

test(
  "convert's report in headless Chromium: nothing fetched, no error, every plot drawn, Z counts the kept rows",
  { skip: noBrowser, timeout: 60_000 },
  async () => {
    const html = join(
      logs,
      (await readdir(logs)).find((f) => f.endsWith('.report.html'))!,
    );
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const requests: string[] = [];
      const errors: string[] = [];
      page.on('request', (q) => requests.push(q.url()));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      const url = pathToFileURL(html).href;
      await page.goto(url, { waitUntil: 'load' });
      assert.deepEqual(requests, [url], 'the page asks for nothing but itself');
      assert.deepEqual(errors, []);
      const marks = await page.evaluate(() =>
        [...document.querySelectorAll('[data-plot]')].map((e) => [
          e.getAttribute('data-plot'),
          e.querySelectorAll('svg circle.mark, svg rect.mark, svg path.mark, svg polyline.mark').length,
        ]),
      );
      assert.deepEqual(
        marks.map(([p]) => p),
        PLOTS,
      );
      for (const [p, count] of marks) assert.ok(Number(count) > 0, `plot ${p} drew ${count} marks`);
      // The histogram's bars hold every kept row once (their tooltips say how many).
      const zRows = await page.evaluate(() =>
        [...document.querySelectorAll('[data-plot="redshift"] rect.mark title')].reduce(
          (s, t) => s + Number(/: (\d+) rows/.exec(t.textContent ?? '')?.[1] ?? NaN),
          0,
        ),
      );
      assert.equal(zRows, keptRows);
      // The outcome plot has the failure class as a bar.
      const outcomes = await page.evaluate(() => [...document.querySelectorAll('[data-plot="outcomes"] rect.mark title')].map((t) => t.textContent));
      assert.ok(
        outcomes.some((t) => t?.startsWith('failed: ')),
        outcomes.join(' | '),
      );
      const shots = await mkdtemp(join(tmpdir(), 'desi-qad-report-shot-'));
      const png = join(shots, 'report.png');
      await page.screenshot({ path: png, fullPage: true });
      assert.ok((await stat(png)).size > 10_000);
      console.log(`report screenshot: ${png}`);
    } finally {
      await browser.close();
    }
  },
);

test('desi-qad report on an S3 --out reads the Z column by ranged GETs', { timeout: S3_TEST_TIMEOUT }, async () => {
  const s3: LocalS3 = await startS3(['results']);
  try {
    const s3logs = join(work, 'logs-s3');
    const target = 's3://results/qso';
    await assertExit(
      await runCli(['convert', '--source', tree, '--out', target, '--endpoint', s3.endpoint, '--log-dir', s3logs, ...ALL], undefined, ENV),
      1,
      s3logs,
    );
    const html = join(work, 's3.html');
    const r = await runCli(['report', '--out', target, '--endpoint', s3.endpoint, '--html', html, '--log-dir', s3logs], undefined, ENV);
    await assertExit(r, 0);
    const text = await readFile(html, 'utf8');
    assert.match(text, new RegExp(`Z of the ${keptRows} rows in \\d+ Parquet files`));
    assert.doesNotMatch(text, /could not be read/);
    assert.ok(
      (await readdir(s3logs)).some((f) => f.endsWith('.report.html')),
      'convert to S3 wrote its report too',
    );
  } finally {
    await s3.stop();
  }
});
