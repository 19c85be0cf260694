/**
 * The bench's lean S3 server (src/dev/lean-s3-server.ts) answers as S3 does for what the bench asks of it:
 * ranges byte-exactly through the client's own ranged-read path (signed and anonymous), whole objects, HEAD,
 * If-Match (412 for another ETag), unsatisfiable ranges (416), and ListObjectsV2 with a delimiter and pages.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { parseRange, startLeanS3, type LeanS3 } from '../../src/dev/lean-s3-server.js';
import { S3ObjectSource } from '../../src/storage/s3-source.js';
import { anonClient, pseudoRandomBytes, signedClient } from '../helpers/s3.js';

const BUCKET = 'desidata';
const PREFIX = 'dr1/healpix';
const SIZE = 3 * 1024 * 1024 + 17;
let dir: string;
let server: LeanS3;
let bytes: Uint8Array;
const clients: S3Client[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'desi-qad-lean-s3-'));
  bytes = pseudoRandomBytes(SIZE, 7);
  await mkdir(join(dir, 'main', 'dark', '87'), { recursive: true });
  await writeFile(join(dir, 'main', 'dark', '87', 'coadd.fits'), bytes);
  for (let i = 0; i < 5; i++) await writeFile(join(dir, 'main', `f${i}.txt`), `file ${i}`);
  server = await startLeanS3({ folder: dir, bucket: BUCKET, prefix: PREFIX });
});

after(async () => {
  for (const c of clients) c.destroy();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

const KEY = `${PREFIX}/main/dark/87/coadd.fits`;

test('parseRange: closed, open and suffix ranges, clamped to the object; unsatisfiable is null', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), [0, 9]);
  assert.deepEqual(parseRange('bytes=90-200', 100), [90, 99]);
  assert.deepEqual(parseRange('bytes=10-', 100), [10, 99]);
  assert.deepEqual(parseRange('bytes=-5', 100), [95, 99]);
  assert.equal(parseRange('bytes=100-', 100), null);
  assert.equal(parseRange('bytes=5-4', 100), null);
  assert.equal(parseRange('lines=1-2', 100), undefined);
});

for (const signed of [false, true]) {
  test(`ranges through the client's ranged reads are byte-exact (${signed ? 'signed' : 'anonymous'})`, async () => {
    const client = signed ? signedClient(server.endpoint) : anonClient(server.endpoint);
    clients.push(client);
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: KEY }));
    assert.equal(head.ContentLength, SIZE);
    const src = new S3ObjectSource(client, BUCKET, KEY, SIZE, head.ETag);
    const ranges: [number, number][] = [
      [0, 1],
      [0, 2880],
      [1000, 1001],
      [SIZE - 10, SIZE],
      [123_457, 2_345_679],
      [0, SIZE],
    ];
    for (const [s, e] of ranges) {
      const got = await src.slice(s, e);
      assert.equal(got.length, e - s, `length of ${s}-${e}`);
      assert.ok(Buffer.from(got).equals(Buffer.from(bytes.subarray(s, e))), `bytes ${s}-${e}`);
    }
    assert.ok(src.stats.requests >= ranges.length);
  });
}

test('If-Match with another ETag is refused (412); a range past the end is 416', async () => {
  const client = anonClient(server.endpoint);
  clients.push(client);
  await assert.rejects(
    client.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY, Range: 'bytes=0-9', IfMatch: '"nope"' })),
    (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 412,
  );
  await assert.rejects(
    client.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY, Range: `bytes=${SIZE}-` })),
    (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 416,
  );
  const whole = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }));
  assert.ok(Buffer.from(await whole.Body!.transformToByteArray()).equals(Buffer.from(bytes)));
});

test('ListObjectsV2: common prefixes with a delimiter, and every key once over pages', async () => {
  const client = anonClient(server.endpoint);
  clients.push(client);
  const top = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}/main/`, Delimiter: '/' }));
  assert.deepEqual(
    top.CommonPrefixes?.map((p) => p.Prefix),
    [`${PREFIX}/main/dark/`],
  );
  assert.deepEqual(
    top.Contents?.map((c) => c.Key),
    [0, 1, 2, 3, 4].map((i) => `${PREFIX}/main/f${i}.txt`),
  );
  const keys: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const p = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: PREFIX, MaxKeys: 2, ContinuationToken: token }));
    keys.push(...(p.Contents ?? []).map((c) => c.Key!));
    token = p.NextContinuationToken;
    pages += 1;
  } while (token);
  assert.equal(pages, 3);
  assert.deepEqual(keys, [KEY, ...[0, 1, 2, 3, 4].map((i) => `${PREFIX}/main/f${i}.txt`)]);
  assert.ok((await server.cpuSeconds()) >= 0);
});
