/**
 * `desi-qad verify` as users run it, on real datasets made by `desi-qad convert` from a copy of the fixture
 * tree: a clean dataset (exit 0, no findings, also with --source and --deep), then one planted fault per
 * copy of it, each found and named (kind, tile, path) with exit 1: a missing file, a truncated file, a file
 * of another selection, a row count the journal does not say, a stray temporary and a stray file, a changed
 * and a missing source, and a file altered in place with its size kept (only --deep sees it). Usage errors
 * exit 2, a folder that does not exist 4.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { newRunId } from '../../src/storage/run-id.js';
import type { VerifyReport } from '../../src/verify/findings.js';
import { assertExit, FIXTURE_TREE, listFiles, runCli } from '../helpers/cli.js';

const ALL = ['--survey', 'main,sv3', '--program', 'dark,bright', '--quiet', '--threads', '2'];
const TILE = 'main/dark/23040';
const PATH = 'main/dark/230/main-dark-23040.parquet';
let work: string;
let source: string;
let clean: string;
let other: string;
let copies = 0;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'desi-qad-verify-test-'));
  // A copy of the fixture tree, so that a test may change a source file without touching the repository.
  source = join(work, 'source');
  await cp(FIXTURE_TREE, source, { recursive: true });
  clean = join(work, 'clean');
  const logs = join(work, 'logs');
  // The fixture tree lacks one redrock (main/dark/27248): convert exits 1, and the dataset is still sound.
  await assertExit(await runCli(['convert', '--source', source, '--out', clean, '--log-dir', logs, ...ALL]), 1, logs);
  other = join(work, 'other');
  await assertExit(
    await runCli(['convert', '--source', source, '--out', other, '--log-dir', logs, '--tiles', TILE, '--spectype', 'any', '--keep-zwarn', '--quiet']),
    0,
    logs,
  );
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** A fresh copy of the clean dataset, to plant one fault in. */
async function copyOfClean(): Promise<string> {
  const dir = join(work, `copy-${++copies}`);
  await cp(clean, dir, { recursive: true });
  return dir;
}

/** `verify --json ARGS`: its exit code and the one JSON document it printed. */
async function verifyJson(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; report: VerifyReport; stderr: string }> {
  const r = await runCli(['verify', '--json', ...args], undefined, env);
  let report: VerifyReport;
  try {
    report = JSON.parse(r.stdout) as VerifyReport;
  } catch {
    throw new Error(`verify --json printed no single JSON document (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

/** The findings as `kind tile path` lines, for comparisons that show everything on failure. */
function named(report: VerifyReport): string[] {
  return report.findings.map((f) => `${f.kind} ${f.tile ?? '-'} ${f.path ?? '-'}`);
}

test('a clean dataset: exit 0 and no findings, with the table, --json, --source and --deep', async () => {
  const before = await listFiles(clean);
  const table = await runCli(['verify', '--out', clean]);
  await assertExit(table, 0);
  assert.match(table.stdout, /^verify: 7 tiles, 5 files checked, 0 findings ✅$/m);
  assert.equal(table.stderr, '');

  // Its own TMPDIR, so that the --deep scratch folder can be seen to go.
  const scratch = join(work, 'tmp');
  await mkdir(scratch);
  const { code, report } = await verifyJson(['--out', clean, '--source', source, '--deep', '2', '--seed', '7'], { ...process.env, TMPDIR: scratch });
  assert.equal(code, 0, JSON.stringify(report, null, 2));
  assert.deepEqual(Object.keys(report).sort(), ['checked', 'dataset', 'files', 'findings', 'ok', 'tiles']);
  assert.equal(report.ok, true);
  assert.deepEqual(report.findings, []);
  assert.equal(report.dataset, clean);
  assert.equal(report.tiles, 7);
  assert.equal(report.files, 5);
  assert.equal(report.checked.ok, 5);
  assert.equal(report.checked.empty, 1);
  assert.equal(report.checked.missing, 1);
  assert.equal(report.checked.footers, 5);
  assert.equal(report.checked.sources, 6, 'every done tile (ok and empty) had its sources compared');
  assert.equal(report.checked.deep, 2);
  assert.deepEqual(await listFiles(clean), before, 'verify wrote nothing to --out');
  assert.deepEqual(await readdir(scratch), [], 'the --deep scratch folder was removed');
});

test('a missing file and a truncated file are found and named', async () => {
  const out = await copyOfClean();
  await rm(join(out, PATH));
  const missing = await verifyJson(['--out', out]);
  assert.equal(missing.code, 1);
  assert.equal(missing.report.ok, false);
  assert.deepEqual(named(missing.report), [`missing-file ${TILE} ${PATH}`]);

  // The human table: one line per finding (kind, tile, path, detail), then the summary.
  const out2 = await copyOfClean();
  const path = 'main/dark/272/main-dark-27247.parquet';
  await truncate(join(out2, path), Math.floor((await stat(join(out2, path))).size / 2));
  const table = await runCli(['verify', '--out', out2]);
  await assertExit(table, 1);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^kind +tile +path +detail$/);
  assert.match(lines[1], /^size-mismatch +main\/dark\/27247 +main\/dark\/272\/main-dark-27247\.parquet +\d+ bytes, the journal says \d+$/);
  assert.match(lines[2], /^bad-footer +main\/dark\/27247 +main\/dark\/272\/main-dark-27247\.parquet +does not end with PAR1/);
  assert.match(lines[lines.length - 1], /^verify: 7 tiles, 5 files checked, 2 findings ❌$/);
});

test('a file of another selection, swapped in under the same name, is found', async () => {
  const out = await copyOfClean();
  await cp(join(other, PATH), join(out, PATH));
  const { code, report } = await verifyJson(['--out', out]);
  assert.equal(code, 1);
  const f = report.findings.find((x) => x.kind === 'other-selection');
  assert.ok(f, named(report).join('\n'));
  assert.equal(f.tile, TILE);
  assert.equal(f.path, PATH);
  assert.match(f.detail, /all rows/, 'the detail names the selection the file was made with');
  // Its other rows and size do not match the journal either; nothing else is wrong.
  assert.ok(
    report.findings.every((x) => x.tile === TILE && ['other-selection', 'size-mismatch', 'row-count-mismatch'].includes(x.kind)),
    named(report).join('\n'),
  );
});

test('a row count the journal does not say, a stray temporary and a stray .parquet file are found; _desi-qad/ and the temporary of a live run are not stray', async () => {
  const out = await copyOfClean();
  const dir = join(out, '_desi-qad', 'journal');
  const [name] = await readdir(dir);
  const text = await readFile(join(dir, name), 'utf8');
  const lines = text.split('\n').map((line) => {
    if (!line.includes(`"tile":"${TILE}"`)) return line;
    const rec = JSON.parse(line) as { rows: number };
    return JSON.stringify({ ...rec, rows: rec.rows + 3 });
  });
  await writeFile(join(dir, name), lines.join('\n'));
  const tmp = 'main/dark/230/.desi-qad-tmp-20260101T000000-4242-deadbeef.0a1b2c';
  await writeFile(join(out, tmp), 'half a file');
  const stray = 'main/dark/103/main-dark-10305.parquet';
  await cp(join(out, 'main/dark/103/main-dark-10304.parquet'), join(out, stray));
  await writeFile(join(out, '_desi-qad', 'notes.txt'), 'the tool folder is its own');
  // A live run (this process, with a fresh heartbeat) and its temporary: work in progress, not stray.
  const run = newRunId();
  const now = new Date().toISOString();
  await mkdir(join(out, '_desi-qad', 'runs'), { recursive: true });
  const heartbeat = { run, host: hostname(), pid: process.pid, started: now, heartbeat: now, leaseMs: 600_000 };
  await writeFile(join(out, '_desi-qad', 'runs', `${run}.json`), JSON.stringify(heartbeat));
  await writeFile(join(out, `main/dark/230/.desi-qad-tmp-${run}.abcdef`), 'being written');

  const { code, report, stderr } = await verifyJson(['--out', out]);
  assert.equal(code, 1);
  assert.equal(report.checked.liveTemporaries, 1);
  assert.match(stderr, new RegExp(`1 run\\(s\\) are writing this dataset now \\(${run}\\)`));
  assert.deepEqual(named(report).sort(), [`row-count-mismatch ${TILE} ${PATH}`, `stray-file main/dark/10305 ${stray}`, `stray-temporary - ${tmp}`]);
  const detail = (kind: string) => report.findings.find((f) => f.kind === kind)!.detail;
  assert.match(detail('row-count-mismatch'), /its footer says \d+ rows, the journal says \d+/);
  assert.match(detail('stray-temporary'), /run 20260101T000000-4242-deadbeef, which is gone/);
  assert.match(detail('stray-file'), /no journal record names this tile/);
});

test('--source: a changed and a missing source are found; --deep: they no longer convert to the same file', async () => {
  // A dataset of its own source copy, so that changing a source leaves the other tests' source alone.
  const src = join(work, 'source-2');
  await cp(FIXTURE_TREE, src, { recursive: true });
  const out = join(work, 'from-source-2');
  const logs = join(work, 'logs-2');
  await assertExit(
    await runCli(['convert', '--source', src, '--out', out, '--log-dir', logs, '--tiles', `${TILE},main/dark/10304,main/dark/27247`, '--quiet']),
    0,
    logs,
  );
  const coadd = join(src, 'main/dark/230/23040/coadd-main-dark-23040.fits');
  const later = new Date(Date.now() + 3_600_000);
  await utimes(coadd, later, later);
  await rm(join(src, 'main/dark/103/10304/redrock-main-dark-10304.fits'));

  const { code, report } = await verifyJson(['--out', out, '--source', src, '--deep', '3']);
  assert.equal(code, 1);
  assert.deepEqual(named(report), [
    'source-missing main/dark/10304 -',
    'deep-failed main/dark/10304 main/dark/103/main-dark-10304.parquet',
    `source-changed ${TILE} -`,
    `deep-mismatch ${TILE} ${PATH}`,
  ]);
  const [missing, failed, changed] = report.findings;
  assert.match(missing.detail, /its redrock is no longer under/);
  assert.match(failed.detail, /did not convert again .*missing/);
  assert.match(changed.detail, /coadd mtime \S+ → \S+/, 'the detail says what changed, from the footer');
  assert.equal(report.checked.sources, 3);
  assert.equal(report.checked.deep, 2, 'main/dark/27247 converted to the same bytes; main/dark/10304 did not convert');
});

test('--deep finds a file altered in place (same size, footer intact) that the other checks cannot see', async () => {
  const out = await copyOfClean();
  const bytes = await readFile(join(out, PATH));
  bytes[200] ^= 0xff; // inside the first data page: the footer, and so every other check, still holds
  await writeFile(join(out, PATH), bytes);
  assert.equal((await verifyJson(['--out', out])).code, 0, 'without --deep the file looks sound');
  const { code, report } = await verifyJson(['--out', out, '--source', source, '--deep', '5']);
  assert.equal(code, 1);
  assert.equal(report.checked.deep, 5);
  assert.deepEqual(named(report), [`deep-mismatch ${TILE} ${PATH}`]);
  assert.match(report.findings[0].detail, /at byte 200 \(\d+ bytes here, \d+ re-converted\)/);
});

test('--deep re-converts with the Parquet writer the files were made by: a parquet-wasm dataset checks clean under the own writer', async () => {
  const out = join(work, 'wasm');
  const logs = join(work, 'logs-wasm');
  const env = { ...process.env, DESI_QAD_PARQUET_WRITER: 'wasm' };
  await assertExit(await runCli(['convert', '--source', source, '--out', out, '--log-dir', logs, '--tiles', TILE, '--quiet'], undefined, env), 0, logs);
  const own = { ...process.env };
  delete own.DESI_QAD_PARQUET_WRITER;
  const { code, report } = await verifyJson(['--out', out, '--source', source, '--deep', '1'], own);
  assert.deepEqual(named(report), [], 'no deep-mismatch: the child wrote with parquet-wasm too');
  assert.equal(code, 0);
  assert.equal(report.checked.deep, 1);
});

test('usage errors exit 2 (no stdout), no dataset exits 2, a folder that does not exist exits 4', async () => {
  for (const args of [
    ['verify', '--out', clean, '--deep', '2'],
    ['verify', '--out', clean, '--source', source, '--deep', '-1'],
  ]) {
    const r = await runCli(args);
    await assertExit(r, 2);
    assert.equal(r.stdout, '', args.join(' '));
  }
  const empty = join(work, 'empty');
  await mkdir(empty);
  const none = await verifyJson(['--out', empty]);
  assert.equal(none.code, 2);
  assert.deepEqual(named(none.report), ['no-dataset - -']);
  assert.match(none.stderr, /desi-qad verify: .*not a desi-qad dataset/);

  const gone = await verifyJson(['--out', join(work, 'no-such-folder')]);
  assert.equal(gone.code, 4);
  assert.equal(gone.report.ok, false);
  assert.deepEqual(named(gone.report), ['out-unreadable - -']);
  assert.match(gone.stderr, /desi-qad verify: --out .*no-such-folder: the folder does not exist/);
  assert.doesNotMatch(gone.stderr, /\n\s+at /, 'no stack trace');

  const noSource = await verifyJson(['--out', clean, '--source', join(work, 'no-such-source')]);
  assert.equal(noSource.code, 4);
  assert.deepEqual(named(noSource.report), ['source-unreadable - -']);
  assert.match(noSource.stderr, /--source .*no-such-source/);
});
