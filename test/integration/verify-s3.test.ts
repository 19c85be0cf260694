/**
 * `desi-qad verify` on S3, against a real S3 server (s3rver): the fixture tree uploaded to one bucket and
 * converted by `desi-qad convert` to another. A clean dataset passes with --source and --deep (exit 0); a
 * deleted file, a truncated one, one of another selection, a row count the journal does not say and a stray
 * temporary object are found in copies of it; a second upload of the tree passes
 * as the same sources (fingerprints are sizes and ETags, not names), then a rewritten and a deleted source
 * object are found; a bucket that does not exist and an endpoint where nothing answers exit 4.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { uploadTree, type LocalS3 } from '../../src/dev/local-s3.js';
import type { VerifyReport } from '../../src/verify/findings.js';
import { S3JournalStore, journalUrlFor } from '../../src/storage/s3-journal.js';
import type { TileRecord } from '../../src/storage/journal-store.js';
import { assertExit, FIXTURE_TREE, runCli } from '../helpers/cli.js';
import { closedPort, getObjectBytes, putObject, S3_TEST_TIMEOUT, signedClient, startS3 } from '../helpers/s3.js';

const ENV = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
const SOURCE = 's3://verify-src/healpix';
const TILE = 'main/dark/23040';
const PATH = 'main/dark/230/main-dark-23040.parquet';
let s3: LocalS3;
let client: S3Client;
let work: string;
let endpoint: string[];

before(async () => {
  s3 = await startS3(['verify-src', 'verify-out']);
  client = signedClient(s3.endpoint);
  endpoint = ['--endpoint', s3.endpoint];
  work = await mkdtemp(join(tmpdir(), 'desi-qad-verify-s3-'));
  await uploadTree(client, FIXTURE_TREE, 'verify-src', 'healpix');
  const logs = join(work, 'logs');
  const args = ['convert', '--source', SOURCE, '--out', 's3://verify-out/clean', ...endpoint, '--log-dir', logs];
  // The fixture tree lacks one redrock (main/dark/27248): exit 1, and the dataset is still sound.
  await assertExit(await runCli([...args, '--survey', 'main,sv3', '--program', 'dark,bright', '--quiet', '--threads', '2'], undefined, ENV), 1, logs);
});
after(async () => {
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** `verify --json ARGS` against the test server: its exit code and the JSON document it printed. */
async function verifyJson(args: string[]): Promise<{ code: number | null; report: VerifyReport; stderr: string }> {
  const r = await runCli(['verify', '--json', ...args], undefined, ENV);
  let report: VerifyReport;
  try {
    report = JSON.parse(r.stdout) as VerifyReport;
  } catch {
    throw new Error(`verify --json printed no single JSON document (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

function named(report: VerifyReport): string[] {
  return report.findings.map((f) => `${f.kind} ${f.tile ?? '-'} ${f.path ?? '-'}`);
}

/** Every key under `bucket/prefix/`. */
async function keysUnder(bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** Copies every object of the clean dataset (files, journal records, manifest) under a new prefix. */
async function copyOfClean(prefix: string): Promise<string> {
  for (const key of await keysUnder('verify-out', 'clean'))
    await putObject(client, 'verify-out', `${prefix}/${key.slice('clean/'.length)}`, await getObjectBytes(client, 'verify-out', key));
  return `s3://verify-out/${prefix}`;
}

test('S3: a clean dataset passes with --source and --deep, exit 0', { timeout: S3_TEST_TIMEOUT * 2 }, async () => {
  // Seed 4 draws two main/dark tiles: the re-conversion lists one survey and program (convert lists every pixgroup).
  const { code, report } = await verifyJson(['--out', 's3://verify-out/clean', '--source', SOURCE, ...endpoint, '--deep', '2', '--seed', '4']);
  assert.equal(code, 0, JSON.stringify(report, null, 2));
  assert.equal(report.ok, true);
  assert.deepEqual(report.findings, []);
  assert.equal(report.dataset, 's3://verify-out/clean');
  assert.equal(report.tiles, 7);
  assert.equal(report.files, 5);
  assert.equal(report.checked.footers, 5, 'every footer was read by ranged GETs');
  assert.equal(report.checked.sources, 6);
  assert.equal(report.checked.deep, 2);
});

test('S3: a deleted file and a stray temporary object are found and named', { timeout: S3_TEST_TIMEOUT }, async () => {
  const out = await copyOfClean('faulty');
  await client.send(new DeleteObjectCommand({ Bucket: 'verify-out', Key: `faulty/${PATH}` }));
  const tmp = 'main/dark/272/.desi-qad-tmp-20260101T000000-4242-deadbeef.0a1b2c';
  await putObject(client, 'verify-out', `faulty/${tmp}`, 'left by a copy of a local dataset');
  const { code, report } = await verifyJson(['--out', out, ...endpoint]);
  assert.equal(code, 1);
  assert.deepEqual(named(report), [`missing-file ${TILE} ${PATH}`, `stray-temporary - ${tmp}`]);
});

test('S3: the same objects uploaded elsewhere are the same sources; a rewritten and a deleted one are found', { timeout: S3_TEST_TIMEOUT }, async () => {
  await uploadTree(client, FIXTURE_TREE, 'verify-src', 'copy');
  const copy = 's3://verify-src/copy';
  const same = await verifyJson(['--out', 's3://verify-out/clean', '--source', copy, ...endpoint]);
  assert.equal(same.code, 0, JSON.stringify(same.report, null, 2));

  const coadd = 'main/dark/230/23040/coadd-main-dark-23040.fits';
  const bytes = await readFile(join(FIXTURE_TREE, coadd));
  const longer = new Uint8Array(bytes.byteLength + 2880);
  longer.set(bytes);
  await putObject(client, 'verify-src', `copy/${coadd}`, longer);
  await client.send(new DeleteObjectCommand({ Bucket: 'verify-src', Key: 'copy/main/dark/103/10304/coadd-main-dark-10304.fits' }));
  const { code, report } = await verifyJson(['--out', 's3://verify-out/clean', '--source', copy, ...endpoint]);
  assert.equal(code, 1);
  assert.deepEqual(named(report), ['source-missing main/dark/10304 -', `source-changed ${TILE} -`]);
  assert.match(report.findings[0].detail, /its coadd is no longer under s3:\/\/verify-src\/copy/);
  assert.match(report.findings[1].detail, new RegExp(`coadd size ${bytes.byteLength} → ${longer.byteLength}, ETag \\w+ → \\w+`));
});

test('S3: no such bucket, and no server at the endpoint: exit 4 with a message, no stack trace', { timeout: S3_TEST_TIMEOUT }, async () => {
  const noBucket = await verifyJson(['--out', 's3://no-such-bucket/x', ...endpoint, '--max-attempts', '1']);
  assert.equal(noBucket.code, 4);
  assert.deepEqual(named(noBucket.report), ['out-unreadable - -']);
  assert.match(noBucket.stderr, /desi-qad verify: .*no-such-bucket.*NoSuchBucket/);
  const port = await closedPort();
  const down = await verifyJson(['--out', 's3://verify-out/clean', '--endpoint', `http://127.0.0.1:${port}`, '--max-attempts', '1']);
  assert.equal(down.code, 4);
  assert.match(down.stderr, /desi-qad verify: .*ECONNREFUSED/);
  for (const r of [noBucket, down]) {
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.doesNotMatch(r.stderr + JSON.stringify(r.report), /S3RVER/, 'no credential is printed');
  }
});

test(
  'S3: a truncated file, a file of another selection and a row count the journal does not say are found and named',
  { timeout: S3_TEST_TIMEOUT * 2 },
  async () => {
    // Truncated: the object rewritten without its last 100 bytes.
    const truncated = await copyOfClean('truncated');
    const key = `truncated/${PATH}`;
    const bytes = await getObjectBytes(client, 'verify-out', key);
    await putObject(client, 'verify-out', key, bytes.subarray(0, bytes.byteLength - 100));
    let r = await verifyJson(['--out', truncated, ...endpoint]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(
      r.report.findings.some((f) => f.kind === 'size-mismatch' && f.tile === TILE && f.path === PATH),
      named(r.report).join('\n'),
    );

    // Another selection: the same tile converted with every row kept, put under the same name.
    const logs = join(work, 'logs-any');
    const any = ['convert', '--source', SOURCE, '--out', 's3://verify-out/any', ...endpoint, '--log-dir', logs, '--tiles', TILE, '--quiet'];
    await assertExit(await runCli([...any, '--spectype', 'any', '--keep-zwarn'], undefined, ENV), 0, logs);
    const swapped = await copyOfClean('swapped');
    await putObject(client, 'verify-out', `swapped/${PATH}`, await getObjectBytes(client, 'verify-out', `any/${PATH}`));
    r = await verifyJson(['--out', swapped, ...endpoint]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(
      r.report.findings.some((f) => f.kind === 'other-selection' && f.tile === TILE && f.path === PATH),
      named(r.report).join('\n'),
    );

    // A row count the journal does not say: a later record of the tile, as a run would append it, with one row more.
    const rows = await copyOfClean('rows');
    const journal = new S3JournalStore(client, journalUrlFor(rows));
    const { records } = await journal.load();
    const last = records.filter((x): x is TileRecord => x.type === 'tile' && x.tile === TILE).pop();
    assert.ok(last?.rows !== undefined, 'the clean journal has the tile with its rows');
    await journal.append({ ...last, rows: last.rows + 1, time: new Date().toISOString() });
    r = await verifyJson(['--out', rows, ...endpoint]);
    assert.equal(r.code, 1, r.stderr);
    const f = r.report.findings.find((x) => x.kind === 'row-count-mismatch');
    assert.ok(f?.tile === TILE && f.path === PATH, named(r.report).join('\n'));
    assert.equal(r.report.findings.length, 1, named(r.report).join('\n'));
  },
);
