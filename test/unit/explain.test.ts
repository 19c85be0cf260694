import { test } from 'node:test';
import assert from 'node:assert/strict';
import { S3Error } from '../../src/storage/s3-client.js';
import { LogDirError } from '../../src/pipeline/log.js';
import { explainError, formatForConsole } from '../../src/cli/explain.js';

const s3err = (code: string | undefined, status?: number) =>
  new S3Error(`s3://b/k: ListObjectsV2 failed: ${code ?? ''}`, 'b', 'k', 'ListObjectsV2', status, code, true);

test('NoSuchBucket: a hint about the bucket name, --region and --endpoint', () => {
  const e = explainError(s3err('NoSuchBucket', 404));
  assert.equal(e.expected, true);
  assert.match(e.hint ?? '', /bucket name/);
  assert.match(e.hint ?? '', /--region/);
  assert.match(e.hint ?? '', /--endpoint/);
});

test('access denied in its forms: --no-sign-request for public data, --profile for your own bucket', () => {
  for (const [code, status] of [
    ['AccessDenied', 403],
    ['InvalidAccessKeyId', 403],
    ['SignatureDoesNotMatch', 403],
    [undefined, 403],
  ] as const) {
    const e = explainError(s3err(code, status));
    assert.equal(e.expected, true, String(code));
    assert.match(e.hint ?? '', /--no-sign-request/);
    assert.match(e.hint ?? '', /--profile \/ AWS_PROFILE/);
  }
});

test('no credentials: the ways to give them, or --no-sign-request', () => {
  const sdk = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
  const wrapped = s3err('CredentialsProviderError');
  for (const err of [sdk, wrapped, new Error('Could not load credentials from any providers')]) {
    const e = explainError(err);
    assert.equal(e.expected, true);
    assert.match(e.hint ?? '', /no AWS credentials found: --profile, AWS_PROFILE or AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY/);
  }
});

test('no server at the endpoint: check --endpoint', () => {
  for (const err of [s3err('ECONNREFUSED'), s3err('ENOTFOUND'), Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' })]) {
    const e = explainError(err);
    assert.equal(e.expected, true);
    assert.match(e.hint ?? '', /--endpoint/);
  }
});

test('the network or the server gave out after the retries (timeouts, resets, 5xx): expected, run again to resume', () => {
  for (const [code, status] of [
    ['TimeoutError', undefined],
    ['ECONNRESET', undefined],
    ['SlowDown', 503],
    ['InternalError', 500],
    [undefined, 502],
  ] as const) {
    const e = explainError(s3err(code, status));
    assert.equal(e.expected, true, String(code ?? status));
    assert.match(e.hint ?? '', /run the same command again to resume/);
    assert.match(e.hint ?? '', /--cli-read-timeout/);
  }
  // The same codes outside S3 are not classified by this rule.
  assert.equal(explainError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })).expected, false);
});

test("a folder that cannot be written: the folder's permissions/space", () => {
  for (const code of ['EACCES', 'EROFS', 'ENOSPC', 'EDQUOT']) {
    const err = Object.assign(new Error(`${code}: failed, open '/data/out/x.parquet'`), { code, syscall: 'open', path: '/data/out/x.parquet' });
    const e = explainError(err);
    assert.equal(e.expected, true, code);
    assert.equal(e.hint, "check the folder's permissions/space");
  }
});

test('NO_SOURCE: check --source; a wrapped cause is found through `cause`', () => {
  const e = explainError(Object.assign(new Error('test/none: no such folder'), { code: 'NO_SOURCE' }));
  assert.equal(e.expected, true);
  assert.match(e.hint ?? '', /--source/);
  const outer = new Error('discovery failed', { cause: s3err('NoSuchBucket', 404) });
  assert.equal(explainError(outer).message, 'discovery failed');
  assert.match(explainError(outer).hint ?? '', /bucket name/);
});

test('a log folder that cannot be made: expected, its one-line message already names --log-dir', () => {
  const cause = Object.assign(new Error("ENOTDIR: not a directory, mkdir 'f/logs'"), { code: 'ENOTDIR' });
  const err = new LogDirError('f/logs', cause);
  assert.equal(err.code, 'ENOTDIR');
  const e = explainError(err);
  assert.equal(e.expected, true);
  const text = formatForConsole(e);
  assert.equal(text.split('\n').length, 1, text);
  assert.match(text, /^desi-qad: cannot write the run log in f\/logs: .*ENOTDIR.*--log-dir/);
});

test('anything else is a bug (expected: false); formatForConsole never prints a stack', () => {
  const err = new TypeError("Cannot read properties of undefined (reading 'x')");
  const e = explainError(err);
  assert.equal(e.expected, false);
  assert.equal(e.hint, undefined);
  assert.equal(formatForConsole(e), "desi-qad: Cannot read properties of undefined (reading 'x')");
  assert.equal(explainError('a string').message, 'a string');
  const hinted = formatForConsole(explainError(s3err('NoSuchBucket', 404)));
  assert.deepEqual(
    hinted.split('\n').map((l) => l.split(':')[0]),
    ['desi-qad', 'hint'],
  );
  assert.doesNotMatch(hinted, /\n\s+at /);
});
