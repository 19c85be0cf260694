import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { S3Client } from '@aws-sdk/client-s3';
import { clearSecrets, redactSecrets, registerEnvSecrets, registeredSecretCount, registerSecret, registerUrlSecrets } from '../../src/util/secrets.js';
import { clientLabel, makeS3Client, redact, registerClientSecrets, s3Error } from '../../src/storage/s3-client.js';

afterEach(() => clearSecrets());

test('every occurrence of a registered value is replaced by its label; short values are ignored', () => {
  registerSecret('hunter2-secret', 'password');
  registerSecret('abc12', 'too short');
  assert.equal(registeredSecretCount(), 1);
  assert.equal(redactSecrets('a hunter2-secret b hunter2-secret'), 'a <redacted password> b <redacted password>');
  assert.equal(redactSecrets('abc12 stays'), 'abc12 stays');
  assert.equal(redactSecrets('nothing here'), 'nothing here');
});

test('URL-encoded forms of a value are blanked too (upper- and lower-case hex, + for spaces)', () => {
  registerSecret('tok/en+with=stuff and space', 'AWS_SESSION_TOKEN');
  const enc = encodeURIComponent('tok/en+with=stuff and space');
  assert.equal(redactSecrets(`x=${enc}`), 'x=<redacted AWS_SESSION_TOKEN>');
  assert.equal(redactSecrets(`x=${enc.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())}`), 'x=<redacted AWS_SESSION_TOKEN>');
  assert.equal(redactSecrets(`x=${enc.replace(/%20/g, '+')}`), 'x=<redacted AWS_SESSION_TOKEN>');
});

test('a value containing another registered value is blanked whole', () => {
  registerSecret('secret', 'short one');
  registerSecret('the-whole-secret-value', 'long one');
  assert.equal(redactSecrets('[the-whole-secret-value] [secret]'), '[<redacted long one>] [<redacted short one>]');
});

test('registerUrlSecrets takes the user, the password and the whole user:pass@ of a URL', () => {
  registerUrlSecrets('http://alice-user:p%40ssw0rd-long@minio.example:9000/bucket');
  const text = 'GET http://alice-user:p%40ssw0rd-long@minio.example:9000/x by alice-user with p@ssw0rd-long';
  const out = redactSecrets(text);
  assert.doesNotMatch(out, /alice-user|p%40ssw0rd-long|p@ssw0rd-long/);
  assert.match(out, /minio\.example:9000/, 'the host stays: only the userinfo is secret');
  registerUrlSecrets('http://127.0.0.1:4568');
  registerUrlSecrets('not a url');
  registerUrlSecrets(undefined);
  assert.equal(redactSecrets('http://127.0.0.1:4568'), 'http://127.0.0.1:4568');
});

test('registerEnvSecrets takes the AWS key id, secret key and session token of the environment', () => {
  registerEnvSecrets({ AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE123', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG', AWS_SESSION_TOKEN: 'FwoGZXIvYXdzEBYaDH+token/=' });
  const out = redactSecrets('AKIDEXAMPLE123 wJalrXUtnFEMI/K7MDENG FwoGZXIvYXdzEBYaDH+token/=');
  assert.equal(out, '<redacted AWS_ACCESS_KEY_ID> <redacted AWS_SECRET_ACCESS_KEY> <redacted AWS_SESSION_TOKEN>');
  registerEnvSecrets({});
  assert.equal(registeredSecretCount(), 3);
});

test('registerClientSecrets registers the credentials a signed client resolves, and nothing for an anonymous one', async () => {
  const signed = makeS3Client({
    endpoint: 'http://127.0.0.1:1',
    credentials: { accessKeyId: 'KEYID-resolved', secretAccessKey: 'SECRET-resolved', sessionToken: 'TOKEN-resolved' },
  });
  await registerClientSecrets(signed);
  assert.equal(
    redactSecrets('KEYID-resolved SECRET-resolved TOKEN-resolved'),
    '<redacted access key id> <redacted secret access key> <redacted session token>',
  );
  clearSecrets();
  await registerClientSecrets(makeS3Client({ endpoint: 'http://127.0.0.1:1', noSignRequest: true }));
  assert.equal(registeredSecretCount(), 0);
  // A client the stores did not make (no record of being signed) is left alone, and nothing throws.
  await registerClientSecrets(new S3Client({ region: 'us-west-2' }));
  assert.equal(registeredSecretCount(), 0);
});

test("clientLabel never shows an endpoint's userinfo, and s3Error blanks registered values and URL userinfo", () => {
  const client = makeS3Client({ endpoint: 'http://bob-user:bob-password@127.0.0.1:9000', noSignRequest: true });
  assert.equal(clientLabel(client), 'endpoint http://127.0.0.1:9000');
  registerSecret('planted-session-token-value', 'AWS_SESSION_TOKEN');
  const err = Object.assign(new Error('The token planted-session-token-value is bad; see http://u1:p1-long@h/x'), {
    name: 'AccessDenied',
    Code: 'AccessDenied',
    $metadata: { httpStatusCode: 403 },
  });
  const e = s3Error(err, { client, bucket: 'b', key: 'k', operation: 'GetObject' });
  assert.doesNotMatch(e.message, /planted-session-token-value|bob-password|p1-long/);
  assert.match(e.message, /<redacted AWS_SESSION_TOKEN>/);
  assert.match(e.message, /s3:\/\/b\/k: GetObject failed: HTTP 403 AccessDenied/);
  assert.equal(redact('https://user:pw@host/p'), 'https://<redacted userinfo>@host/p');
});
