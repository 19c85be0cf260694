/**
 * `desi-qad preflight`: the seed's dry run as one command, run as users run it. Against a real S3 server read
 * anonymously, it converts a sample, kills its own conversion with SIGKILL mid-batch, resumes it, checks the
 * resume and prints the checklist (verify --deep included: cleared). A source with broken tiles above the failure-rate target is not cleared, naming that line. Usage
 * errors are exit 2; a missing source or bucket is exit 4 with a message.
 *
 * Targets set here for loopback on 2 cores: --min-throughput-target 0 (the rate of a few small tiles is
 * dominated by process start-up) and --min-reduction-target 0.9 (these synthetic tiles reduce by about 95%,
 * at the seed's bar; the failure-rate target keeps the seed's 10%).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { smallSpecs, synthTree } from '../../src/synth/index.js';
import { uploadTree, type LocalS3 } from '../../src/dev/local-s3.js';
import { assertExit, runCli } from '../helpers/cli.js';
import { S3_TEST_TIMEOUT, signedClient, startS3 } from '../helpers/s3.js';
import { truncateInside } from '../helpers/corrupt.js';
import type { PreflightReport } from '../../src/preflight/runner.js';

const TARGETS = ['--min-throughput-target', '0', '--min-reduction-target', '0.9'];
/** Slow enough that the kill lands between the first batch and the end on a fast machine too. */
const KNOBS = ['--threads', '1', '--downloads', '2', '--batch-size', '2'];

let s3: LocalS3;
let work: string;
let tree: string;
let broken: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'desi-qad-preflight-test-'));
  tree = join(work, 'tree');
  broken = join(work, 'broken');
  const specs = smallSpecs({ tiles: 10, seed: 7 }).map((s) => ({ ...s, survey: 'main', program: 'dark' }));
  await synthTree({ out: tree, tiles: specs, wavelength: 'full' });
  // 3 of 10 tiles with a redrock cut inside its REDSHIFTS table: 30% > the 10% target.
  const report = await synthTree({ out: broken, tiles: specs, wavelength: 'short' });
  for (const t of [...report.tiles].sort((a, b) => a.healpix - b.healpix).slice(0, 3)) await truncateInside(t.redrockPath, 'REDSHIFTS');
  s3 = await startS3(['desi-preflight']);
  await uploadTree(signedClient(s3.endpoint), tree, 'desi-preflight', 'dr1/healpix');
});
after(async () => {
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

test('an anonymous S3 source: sample converted, killed mid-batch, resumed exactly; verified and cleared', { timeout: S3_TEST_TIMEOUT * 2 }, async () => {
  const scratch = join(work, 'scratch-s3');
  const r = await runCli([
    'preflight',
    '--source',
    's3://desi-preflight/dr1/healpix',
    '--endpoint',
    s3.endpoint,
    '--no-sign-request',
    '--sample',
    '8',
    '--seed',
    '3',
    '--scratch',
    scratch,
    '--json',
    // The clean re-conversion is checked on the local source below: each child's discovery on s3rver takes seconds.
    '--compare-tiles',
    '0',
    ...KNOBS,
    ...TARGETS,
  ]);
  await assertExit(r, 0);
  const report = JSON.parse(r.stdout) as PreflightReport & { scratch: string | null };
  const item = (id: string) => report.items.find((i) => i.id === id)!;
  assert.equal(item('source').ok, true);
  assert.match(item('source').value, /listed anonymously: 10 tiles/);
  assert.equal(report.sample.tiles, 8);
  assert.equal(report.sample.batches, 4);
  // The kill really happened in the middle: some tiles journaled before it, not all, and the resume skipped them.
  assert.equal(item('resume').ok, true, item('resume').value);
  assert.ok(report.resume.journaledBeforeKill > 0 && report.resume.journaledBeforeKill < 8, `killed after ${report.resume.journaledBeforeKill} tiles`);
  assert.ok(report.resume.doneBeforeKill > 0 && report.resume.doneBeforeKill < 8, `${report.resume.doneBeforeKill} tiles done before the kill`);
  assert.equal(report.resume.foundCompleted, report.resume.doneBeforeKill);
  assert.equal(report.resume.resumedJournaled, 8 - report.resume.doneBeforeKill);
  assert.equal(report.resume.runs.length, 2);
  assert.match(item('resume').value, /^killed \(SIGKILL\) after \d+ of 8 tiles/);
  for (const id of ['batches', 'failureRate', 'reduction', 'throughput']) assert.equal(item(id).ok, true, `${id}: ${item(id).value}`);
  assert.equal(report.sample.failed, 0);
  assert.ok(report.sample.parquetBytes > 0 && report.sample.fetchedBytes > 0);
  // The projection covers the 10 tiles the source holds, at the sample's ratios.
  assert.equal(report.projection.tiles, 10);
  assert.ok(report.projection.fitsBytes > report.sample.fitsBytes);
  assert.ok(report.projection.seconds! > report.projection.discoverySeconds);
  assert.ok(Math.abs(report.projection.outputBytes! / report.projection.fitsBytes - report.sample.parquetBytes / report.sample.fitsBytes) < 1e-9);
  assert.equal(report.cleared, true);
  assert.equal(item('verify').ok, true, item('verify').value);
  assert.equal(report.scratch, null);
  assert.equal(existsSync(scratch), false, 'the scratch folder preflight made is removed');
});

test('broken tiles above the failure-rate target: not cleared, naming the failure rate (exit 1)', { timeout: S3_TEST_TIMEOUT }, async () => {
  const r = await runCli(['preflight', '--source', broken, '--sample', '10', '--keep-scratch', ...KNOBS, ...TARGETS]);
  await assertExit(r, 1);
  assert.match(r.stdout, /^❌ Failure rate\s+: 30\.00% \(3 failed of 10 tiles\)\s+\(target: at most 10\.00%\)$/m);
  assert.match(r.stdout, /^✅ Resume exact\s+: killed \(SIGKILL\) after \d+ of 10 tiles; .*; 2 tiles byte-identical to a clean conversion/m);
  assert.match(r.stdout, /^❌ Not cleared: .*failure rate/m);
  const kept = /^Scratch kept: (.+)$/m.exec(r.stdout)?.[1];
  assert.ok(kept && existsSync(join(kept, 'out', '_desi-qad', 'journal')), '--keep-scratch keeps the output and its journal');
  await rm(kept, { recursive: true, force: true });
});

test('usage errors are exit 2: a non-empty --scratch, a bad value for convert, a sample of one', async () => {
  const full = join(work, 'full');
  await mkdir(full, { recursive: true });
  await writeFile(join(full, 'something'), 'x');
  const r = await runCli(['preflight', '--source', tree, '--scratch', full]);
  await assertExit(r, 2);
  assert.match(r.stderr, /desi-qad preflight: --scratch .* is not empty/);
  assert.ok(existsSync(join(full, 'something')), 'a folder preflight did not make is left alone');
  const threads = await runCli(['preflight', '--source', tree, '--threads', '0']);
  await assertExit(threads, 2);
  assert.match(threads.stderr, /--threads must be an integer >= 1/);
  const one = await runCli(['preflight', '--source', tree, '--sample', '1']);
  await assertExit(one, 2);
  assert.match(one.stderr, /--sample must be an integer >= 2/);
});

test('a missing source folder or bucket is exit 4 with a clear message', { timeout: S3_TEST_TIMEOUT }, async () => {
  const r = await runCli(['preflight', '--source', join(work, 'no-such-tree')]);
  await assertExit(r, 4);
  assert.match(r.stderr, /desi-qad preflight: the source .*no-such-tree cannot be used: /);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const b = await runCli(['preflight', '--source', 's3://no-such-bucket/healpix', '--endpoint', s3.endpoint, '--no-sign-request', '--max-attempts', '1']);
  await assertExit(b, 4);
  assert.match(b.stderr, /desi-qad preflight: the source s3:\/\/no-such-bucket\/healpix cannot be used: /);
  assert.match(b.stderr, /hint: /);
});
