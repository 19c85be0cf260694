/**
 * The primary-spectra table on S3 (s3rver): a run that completes a dataset under s3:// writes
 * _catalog/zcatalog.parquet there, reading the files' catalog columns by ranged GETs, and its bytes are those
 * of the same conversion to a local folder; `desi-qad catalog --out s3://…` finds it unchanged.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { LocalS3 } from '../../src/dev/local-s3.js';
import { runCli } from '../helpers/cli.js';
import { getObjectBytes, S3_TEST_TIMEOUT, signedClient, startS3 } from '../helpers/s3.js';
import { writeSharedTargetsTree } from '../helpers/shared-targets-tree.js';

const ENV = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
let s3: LocalS3;
let client: S3Client;
let work: string;

before(async () => {
  s3 = await startS3(['cat-out']);
  client = signedClient(s3.endpoint);
  work = await mkdtemp(join(tmpdir(), 'desi-qad-catalog-s3-'));
  await writeSharedTargetsTree(join(work, 'src'));
});
after(async () => {
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** `desi-qad convert` of the shared-targets tree into `out`, every row kept; its stdout. */
async function convert(out: string, extra: string[] = []): Promise<string> {
  const args = ['convert', '--source', join(work, 'src'), '--out', out, '--survey', 'main,sv1,sv3,special', '--program', 'dark,bright'];
  const r = await runCli([...args, '--spectype', 'any', '--threads', '1', '--log-dir', join(work, 'logs'), ...extra], undefined, ENV);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('a run to s3:// writes the table there, with the bytes of the same run to a folder', { timeout: S3_TEST_TIMEOUT * 2 }, async () => {
  const stdout = await convert('s3://cat-out/qso', ['--endpoint', s3.endpoint]);
  assert.match(stdout, /Catalog: s3:\/\/cat-out\/qso\/_catalog\/zcatalog\.parquet \(\d+ spectra/);
  const local = join(work, 'out');
  await convert(local);
  const bytes = await getObjectBytes(client, 'cat-out', 'qso/_catalog/zcatalog.parquet');
  assert.ok(Buffer.compare(Buffer.from(bytes), await readFile(join(local, '_catalog', 'zcatalog.parquet'))) === 0, 'same bytes on S3 and on disk');

  const again = await runCli(['catalog', '--out', 's3://cat-out/qso', '--endpoint', s3.endpoint], undefined, ENV);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /, unchanged$/m);
});
