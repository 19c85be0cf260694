/**
 * The console of `desi-qad convert` as a real process shows it: INFO on stdout, WARN and ERROR on stderr
 * (also with --quiet), usage errors that name the option, a closed stdout (`| head`) that does not stop
 * the run, an unwritable --log-dir reported in one line, and credential values that appear nowhere even
 * when an endpoint echoes them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, collect, FIXTURE_TREE, latestLog, listFiles, REPO, runCli } from '../helpers/cli.js';
import { assertSameDataset } from '../helpers/dataset.js';
import { displayWidth, fitToWidth } from '../../src/cli/console.js';
import { s3ErrorXml, S3_TEST_TIMEOUT, startFaultServer } from '../helpers/s3.js';

const ALL = ['--survey', 'main,sv3', '--program', 'dark,bright', '--threads', '2'];
const LOG_LINE = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] \[(INFO|WARN|ERROR)\] - /;
let work: string;
let n = 0;
const fresh = (name: string) => join(work, `${name}-${++n}`);

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'desi-qad-console-'));
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

const levels = (text: string) =>
  text
    .split('\n')
    .map((l) => LOG_LINE.exec(l)?.[1])
    .filter((x) => x !== undefined);

test('INFO lines go to stdout, WARN and ERROR lines to stderr', async () => {
  const out = fresh('out');
  // --min-reduction 0.99 makes the batch warn (the fixture's reduction is about 94%), so a WARN line is certain.
  const r = await runCli(['convert', '--source', FIXTURE_TREE, '--out', out, '--log-dir', fresh('logs'), ...ALL, '--min-reduction', '0.99']);
  assert.equal(r.code, 1, `one tile lacks its redrock: exit 1; stderr: ${r.stderr}`);
  const onStdout = levels(r.stdout);
  const onStderr = levels(r.stderr);
  assert.ok(onStdout.length > 10 && onStdout.every((l) => l === 'INFO'), `stdout holds only INFO lines: ${JSON.stringify([...new Set(onStdout)])}`);
  assert.ok(onStderr.includes('WARN'), `the --min-reduction warning is on stderr: ${r.stderr}`);
  assert.ok(
    onStderr.every((l) => l !== 'INFO'),
    `stderr holds no INFO line: ${r.stderr}`,
  );
  assert.match(r.stdout, /TOTALS:/);
  assert.match(r.stdout, /--- Outcomes ---/);
  assert.match(r.stderr, /data reduction .* is under --min-reduction/);
});

test('--quiet hides INFO lines but never errors: a refused option and a refused selection are on stderr', async () => {
  const bad = await runCli(['convert', '--source', FIXTURE_TREE, '--out', fresh('out'), '--quiet', '--threads', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--threads must be an integer >= 1/);

  const out = fresh('out');
  const logs = fresh('logs');
  const first = await runCli(['convert', '--source', FIXTURE_TREE, '--out', out, '--log-dir', logs, ...ALL, '--tiles', '10304', '--quiet']);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, '', '--quiet: no INFO line on stdout');
  const refused = await runCli(['convert', '--source', FIXTURE_TREE, '--out', out, '--log-dir', logs, ...ALL, '--spectype', 'any', '--quiet']);
  assert.equal(refused.code, 2, refused.stderr);
  assert.equal(refused.stdout, '');
  assert.match(refused.stderr, /\[ERROR\] - .*is a dataset of another selection or source/);
});

test('an option given twice is a usage error naming it', async () => {
  const r = await runCli(['convert', '--source', FIXTURE_TREE, '--out', 'a', '--out', 'b']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--out given twice \("a" and "b"\); give it once/);
  assert.doesNotMatch(r.stderr, /toLowerCase|at .*\.js:\d+/, 'no crash, no stack');
  const t = await runCli(['convert', '--source', FIXTURE_TREE, '--out', fresh('out'), '--tiles', '10304', '--tiles', '9500']);
  assert.equal(t.code, 2);
  assert.match(t.stderr, /--tiles given twice \("10304" and "9500"\); give it once/);
  const e = await runCli(['convert', '--source', FIXTURE_TREE, '--out', fresh('out'), '--endpoint', 'http://a', '--endpoint-url', 'http://b']);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /--endpoint given twice/);
});

test('--threads 100000 and other absurd concurrency is refused before anything starts', { timeout: 30_000 }, async () => {
  const logs = fresh('logs');
  const r = await runCli(['convert', '--source', FIXTURE_TREE, '--out', fresh('out'), '--log-dir', logs, '--threads', '100000']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--threads 100000 is too large: at most \d+ \(4 × the \d+ cores of this machine, at least 8\)/);
  await assert.rejects(latestLog(logs), 'no run started, so no log');
  for (const [opt, max] of [
    ['--downloads', 1024],
    ['--reads-per-tile', 1024],
    ['--reads-in-flight', 4096],
  ] as const) {
    const x = await runCli(['convert', '--source', FIXTURE_TREE, '--out', fresh('out'), '--log-dir', logs, opt, String(max + 1)]);
    assert.equal(x.code, 2, opt);
    assert.match(x.stderr, new RegExp(`${opt} ${max + 1} is too large: at most ${max}`));
  }
});

test('`convert … | head -1`: the run goes on to a complete dataset, without EPIPE or a stack trace', { timeout: 120_000 }, async () => {
  const plain = fresh('out');
  const base = await runCli(['convert', '--source', FIXTURE_TREE, '--out', plain, '--log-dir', fresh('logs'), ...ALL]);
  assert.equal(base.code, 1, base.stderr);
  const piped = fresh('out');
  const logs = fresh('logs');
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = [process.execPath, BIN, 'convert', '--source', FIXTURE_TREE, '--out', piped, '--log-dir', logs, ...ALL].map(q).join(' ');
  // `head -1` exits after the first line; the shell reports the CLI's status through a file.
  const status = join(work, `status-${++n}`);
  const child = spawn('sh', ['-c', `{ ${cmd}; echo $? > ${q(status)}; } | head -1`], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  const r = await collect(child);
  assert.equal(r.stdout.split('\n').filter(Boolean).length, 1, r.stdout);
  assert.equal((await readFile(status, 'utf8')).trim(), '1', `the run ended as without the pipe (exit 1); stderr: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /EPIPE|Error|\n\s+at /, r.stderr);
  const data = async (d: string) => (await listFiles(d)).filter((f) => !f.startsWith('_desi-qad/'));
  assert.deepEqual(await data(piped), await data(plain));
  await assertSameDataset(plain, piped, 5);
  const log = await latestLog(logs);
  assert.match(log, /TOTALS:/, 'the log file is complete');
  assert.match(log, /Run finished/);

  // stderr closed too (`2>&1 | head -1`): same run, same dataset.
  const both = fresh('out');
  const cmd2 = [process.execPath, BIN, 'convert', '--source', FIXTURE_TREE, '--out', both, '--log-dir', fresh('logs'), ...ALL].map(q).join(' ');
  const status2 = join(work, `status-${++n}`);
  const r2 = await collect(spawn('sh', ['-c', `{ ${cmd2} 2>&1; echo $? > ${q(status2)}; } | head -1`], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] }));
  assert.equal((await readFile(status2, 'utf8')).trim(), '1', r2.stderr);
  await assertSameDataset(plain, both, 5);
});

test('a line wider than the terminal is wrapped at spaces, indented under the message, and loses nothing', () => {
  const line = `[2025-09-01 04:09:50] [INFO] -   Tile 27248: ${'word '.repeat(40)}Status=missing ${'x'.repeat(150)}`;
  const wrapped = fitToWidth(line, 100).split('\n');
  assert.ok(wrapped.length > 2);
  for (const l of wrapped) assert.ok(displayWidth(l) <= 99, `${displayWidth(l)}: ${l}`);
  assert.ok(wrapped.slice(1).every((l) => l.startsWith(' '.repeat(31)) && l[31] !== ' '));
  assert.equal(wrapped.join('').replace(/\s/g, ''), line.replace(/\s/g, ''), 'no character lost');
  const words = (t: string) => t.split(/\s+/).filter((w) => w && !w.startsWith('x'));
  assert.deepEqual(words(wrapped.join('\n')), words(line), 'words are not cut (only the one longer than a line)');
  assert.equal(fitToWidth('short line', 100), 'short line');
  assert.equal(displayWidth('✅ Run finished.'), 16, 'the emoji takes two columns');
});

test('a --log-dir that cannot be made (under a regular file) exits 4 with one line on stderr', async () => {
  const file = join(work, 'a-file');
  await writeFile(file, 'not a folder');
  const r = await runCli(['convert', '--source', FIXTURE_TREE, '--out', fresh('out'), '--log-dir', join(file, 'logs'), ...ALL]);
  assert.equal(r.code, 4, r.stderr);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /a-file\/logs.*ENOTDIR.*--log-dir/);
});

test(
  'a session token echoed by the endpoint, and the password of --endpoint, appear nowhere: stdout, stderr, the log, the files under --out',
  { timeout: S3_TEST_TIMEOUT },
  async () => {
    const token = 'PLANTED-session-token-Zx81/+q=';
    const secret = 'PLANTED-secret-key-9Qm2';
    const password = 'endpoint-pass-77';
    const fault = await startFaultServer(undefined, () => ({
      status: 403,
      headers: { 'content-type': 'application/xml' },
      body: s3ErrorXml('AccessDenied', `Access Denied for token ${token} and key ${secret}, url http://desi:${password}@x`),
    }));
    try {
      const out = fresh('out');
      const logs = fresh('logs');
      const env: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: 'PLANTEDKEYID0001', AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token };
      delete env.AWS_PROFILE;
      const r = await runCli(
        [
          'convert',
          '--source',
          's3://private/healpix',
          '--endpoint',
          fault.endpoint.replace('http://', `http://desi:${password}@`),
          '--sign-request',
          '--out',
          out,
          '--log-dir',
          logs,
          ...ALL,
          '--max-attempts',
          '1',
        ],
        REPO,
        env,
      );
      assert.notEqual(r.code, 0);
      assert.ok(fault.requests.length > 0, 'the request reached the endpoint');
      assert.ok(
        fault.requests.some((q) => q.headers['x-amz-security-token'] === token),
        'the token was really sent (so an echo is a real risk)',
      );
      const log = await latestLog(logs);
      assert.match(log + r.stderr, /AccessDenied|403/, 'the failure is reported');
      const files = await listFiles(out).catch(() => [] as string[]);
      const contents = await Promise.all(files.map((f) => readFile(join(out, f), 'latin1')));
      for (const [where, text] of [
        ['stdout', r.stdout],
        ['stderr', r.stderr],
        ['log', log],
        ...files.map((f, i) => [`out/${f}`, contents[i]] as const),
      ] as const) {
        for (const v of [token, secret, encodeURIComponent(token), password])
          assert.ok(!text.includes(v), `${where} shows a credential (${v.slice(0, 12)}…): ${text.slice(0, 2000)}`);
      }
      assert.match(log, /<redacted AWS_SESSION_TOKEN>/, 'the echoed token is shown as redacted');
      assert.ok(log.includes(`(endpoint ${fault.endpoint})`), 'the endpoint is named without its user:password@');
    } finally {
      await fault.close();
    }
  },
);
