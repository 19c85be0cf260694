/**
 * The dataset written to a real S3 server (s3rver): atomic uploads (single and multipart) read back equal
 * and confirmed by HEAD (an endpoint that answers 200 to anything fails), keys outside the prefix refused,
 * listFiles, and only the tool's own leftovers of interrupted multipart uploads swept (and a server without
 * ListMultipartUploads answered gracefully).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { LocalS3 } from '../../src/dev/local-s3.js';
import { S3Error } from '../../src/storage/s3-client.js';
import { S3OutputStore } from '../../src/storage/s3-output.js';
import { S3UrlError } from '../../src/storage/s3-url.js';
import {
  anonClient,
  FAST_RETRY,
  getObjectBytes,
  putObject,
  pseudoRandomBytes,
  S3_TEST_TIMEOUT,
  s3ErrorXml,
  signedClient,
  startFaultServer,
  startS3,
} from '../helpers/s3.js';

const BUCKET = 'desi-out';
/** Owners for a sweep where no run is gone and every tile is held: nothing may be removed. */
const NO_OWNERS = { isGone: () => Promise.resolve(false), heldByOther: () => Promise.resolve(true) };
let s3: LocalS3;
let client: S3Client;

before(async () => {
  s3 = await startS3([BUCKET]);
  client = signedClient(s3.endpoint);
});
after(async () => {
  await s3?.stop();
});

test('writeAtomic then GET returns the same bytes, at the key under the prefix', { timeout: S3_TEST_TIMEOUT }, async () => {
  const out = new S3OutputStore(client, `s3://${BUCKET}/runs/qso/`, { retry: FAST_RETRY });
  assert.equal(out.root, `s3://${BUCKET}/runs/qso`);
  const rel = 'main/dark/230/main-dark-23040.parquet';
  assert.equal(out.location(rel), `s3://${BUCKET}/runs/qso/main/dark/230/main-dark-23040.parquet`);
  const small = pseudoRandomBytes(123_457, 5);
  const written = await out.writeAtomic(rel, small);
  const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'runs/qso/main/dark/230/main-dark-23040.parquet' }));
  assert.equal(written.size, small.byteLength);
  assert.ok(written.etag, 'an ETag');
  assert.equal(written.etag, head.ETag);
  assert.equal(head.Metadata?.['desi-qad-run'], out.run, 'the object names the run that wrote it');
  assert.deepEqual(await getObjectBytes(client, BUCKET, 'runs/qso/main/dark/230/main-dark-23040.parquet'), small);

  // Larger than the part size: a multipart upload, complete when writeAtomic resolves.
  const big = pseudoRandomBytes(11 * 1024 * 1024 + 17, 6);
  const proxy = await startFaultServer(s3.endpoint, () => 'proxy');
  try {
    const w = await new S3OutputStore(signedClient(proxy.endpoint), `s3://${BUCKET}/runs/qso`, { partSize: 5 * 1024 * 1024, retry: FAST_RETRY }).writeAtomic(
      'main/dark/231/main-dark-23100.parquet',
      big,
    );
    assert.equal(w.size, big.byteLength);
    assert.equal(w.etag, (await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'runs/qso/main/dark/231/main-dark-23100.parquet' }))).ETag);
    assert.equal(proxy.requests.filter((r) => r.method === 'HEAD').length, 1, 'one HEAD confirms the upload');
    assert.equal(proxy.requests.filter((r) => r.method === 'PUT' && /[?&]partNumber=\d+/.test(r.url)).length, 3, 'three parts of 5 MiB at most');
  } finally {
    await proxy.close();
  }
  const back = await getObjectBytes(client, BUCKET, 'runs/qso/main/dark/231/main-dark-23100.parquet');
  assert.equal(back.byteLength, big.byteLength);
  assert.ok(Buffer.from(back).equals(Buffer.from(big)), 'no aws-chunked framing or checksum trailer stored inside the object');

  // Overwriting keeps one whole version.
  const again = pseudoRandomBytes(1000, 9);
  await out.writeAtomic(rel, again);
  assert.deepEqual(await getObjectBytes(client, BUCKET, 'runs/qso/main/dark/230/main-dark-23040.parquet'), again);
});

test('paths that could leave the prefix are refused before any request', { timeout: S3_TEST_TIMEOUT }, async () => {
  const proxy = await startFaultServer(s3.endpoint, () => 'proxy');
  try {
    const out = new S3OutputStore(signedClient(proxy.endpoint), `s3://${BUCKET}/runs/qso`, { retry: FAST_RETRY });
    for (const bad of ['../escape.parquet', 'main/../../escape.parquet', '/abs.parquet', 'main//x.parquet', './x.parquet', 'x\0.parquet', '', 'main/']) {
      await assert.rejects(out.writeAtomic(bad, new Uint8Array(1)), S3UrlError, JSON.stringify(bad));
      assert.throws(() => out.location(bad), S3UrlError);
    }
    assert.equal(proxy.requests.length, 0);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'runs/escape' }));
    assert.equal(listed.KeyCount ?? 0, 0);
  } finally {
    await proxy.close();
  }
});

test('a write to a bucket that does not exist or is denied: S3Error marked fatal', { timeout: S3_TEST_TIMEOUT }, async () => {
  await assert.rejects(new S3OutputStore(client, 's3://no-such-out/x', { retry: FAST_RETRY }).writeAtomic('a.parquet', new Uint8Array(10)), (err: unknown) => {
    assert.ok(err instanceof S3Error);
    assert.equal(err.code, 'NoSuchBucket');
    assert.equal(err.fatal, true);
    assert.match(err.message, /^s3:\/\/no-such-out\/x\/a\.parquet: Upload failed: HTTP 404 NoSuchBucket/);
    return true;
  });
  const denied = await startFaultServer(undefined, () => ({
    status: 403,
    headers: { 'content-type': 'application/xml' },
    body: s3ErrorXml('AccessDenied', 'Access Denied'),
  }));
  try {
    await assert.rejects(
      new S3OutputStore(anonClient(denied.endpoint), `s3://${BUCKET}/x`, { retry: FAST_RETRY }).writeAtomic('a.parquet', new Uint8Array(10)),
      (err: unknown) => err instanceof S3Error && err.fatal && err.status === 403,
    );
    assert.equal(denied.requests.length, 1, 'a 403 is not retried');
  } finally {
    await denied.close();
  }
});

test(
  'writeAtomic against an endpoint that answers 200 and an HTML page to everything: a fatal S3Error, not "stored"',
  { timeout: S3_TEST_TIMEOUT },
  async () => {
    const portal = await startFaultServer(undefined, () => ({
      status: 200,
      headers: { 'content-type': 'text/html' },
      body: '<html><body>Welcome to the hotel network</body></html>',
    }));
    try {
      const out = new S3OutputStore(anonClient(portal.endpoint), `s3://${BUCKET}/x`, { retry: FAST_RETRY });
      await assert.rejects(out.writeAtomic('main/dark/230/main-dark-23040.parquet', new Uint8Array(10)), (err: unknown) => {
        assert.ok(err instanceof S3Error, String(err));
        assert.equal(err.fatal, true);
        assert.match(err.message, /^s3:\/\/desi-out\/x\/main\/dark\/230\/main-dark-23040\.parquet: the upload was not confirmed: .*ETag/);
        return true;
      });
    } finally {
      await portal.close();
    }
  },
);

test('writeAtomic: a HEAD that disagrees with the upload (size or ETag) is a fatal S3Error naming what HEAD said', { timeout: S3_TEST_TIMEOUT }, async () => {
  for (const lie of [
    { 'content-length': '3', etag: '"whatever"' },
    { 'content-length': '10', etag: '"0123456789abcdef0123456789abcdef"' },
  ]) {
    const proxy = await startFaultServer(s3.endpoint, (req) => (req.method === 'HEAD' ? { status: 200, headers: lie } : 'proxy'));
    try {
      const out = new S3OutputStore(signedClient(proxy.endpoint), `s3://${BUCKET}/lies`, { retry: FAST_RETRY });
      await assert.rejects(out.writeAtomic('main/dark/230/main-dark-23040.parquet', new Uint8Array(10)), (err: unknown) => {
        assert.ok(err instanceof S3Error && err.fatal, String(err));
        assert.match(err.message, /the upload was not confirmed: HEAD said ContentLength \d+, ETag "/);
        assert.ok(err.message.includes(lie.etag), err.message);
        return true;
      });
    } finally {
      await proxy.close();
    }
  }
});

test('listFiles: the dataset files written, with sizes; nothing under _desi-qad/, no other files', { timeout: S3_TEST_TIMEOUT }, async () => {
  const out = new S3OutputStore(client, `s3://${BUCKET}/listing`, { retry: FAST_RETRY });
  await out.writeAtomic('main/dark/230/main-dark-23040.parquet', new Uint8Array(12));
  await out.writeAtomic('sv3/bright/0/sv3-bright-5.parquet', new Uint8Array(7));
  await out.writeAtomic('_desi-qad/journal/x.parquet', new Uint8Array(1));
  await out.writeAtomic('_desi-qad/journal/y.json', new Uint8Array(1));
  await out.writeAtomic('_desi-qad/runs/z.json', new Uint8Array(1));
  await out.writeAtomic('main/dark/230/readme.txt', new Uint8Array(1));
  await out.writeAtomic('A/before-the-tool-folder.parquet', new Uint8Array(2)); // 'A' sorts before '_'
  await putObject(client, BUCKET, 'listing-other/main/dark/230/main-dark-23041.parquet', 'not under the prefix');
  assert.deepEqual([...(await out.listFiles())].sort(), [
    ['A/before-the-tool-folder.parquet', 2],
    ['main/dark/230/main-dark-23040.parquet', 12],
    ['sv3/bright/0/sv3-bright-5.parquet', 7],
  ]);
  // Paginated: one page per key, each page checked; the tool's folder is not listed. The flat walk: its
  // first key ends the first listing, the second starts after the folder. The split listing (the first page
  // of the flat walk is truncated, so the dataset is longer than a page): one-key LISTs
  // find the prefix's folders (A/, _desi-qad/ passed over, main/, sv3/, then none), then theirs (main/dark/;
  // sv3/bright/), then those are listed flat (main/dark/ holds two keys: two pages); A/ is listed flat too.
  const proxy = await startFaultServer(s3.endpoint, () => 'proxy');
  try {
    const paged = new S3OutputStore(signedClient(proxy.endpoint), `s3://${BUCKET}/listing`, { maxKeys: 1, retry: FAST_RETRY });
    assert.equal((await paged.listFilesFlat()).size, 3);
    assert.equal(proxy.requests.filter((r) => r.method === 'GET').length, 5, 'A, the first key of _desi-qad/, then the three keys after it');
    assert.equal((await paged.listFiles()).size, 3);
    const split = proxy.requests.slice(5).map((r) => new URL(r.url, 'http://x').searchParams.get('prefix'));
    assert.deepEqual(
      split.filter((p) => p === 'listing/').length,
      6,
      "the flat walk's first page, then the prefix's folders: A/, _desi-qad/, main/, sv3/, the end",
    );
    assert.deepEqual(split.filter((p) => p === 'listing/main/dark/').length, 2, 'main/dark/ holds two keys: two pages');
    assert.ok(!split.some((p) => p?.startsWith('listing/_desi-qad')), 'the tool folder is not listed');
  } finally {
    await proxy.close();
  }
  // A portal page instead of a listing is an error, not an empty dataset.
  const portal = await startFaultServer(undefined, () => ({ status: 200, headers: { 'content-type': 'text/html' }, body: '<html></html>' }));
  try {
    await assert.rejects(new S3OutputStore(anonClient(portal.endpoint), `s3://${BUCKET}/listing`, { retry: FAST_RETRY }).listFiles(), /not an S3 listing/);
  } finally {
    await portal.close();
  }
});

test('sweepTemporaries: 0 when the server has no ListMultipartUploads (s3rver)', { timeout: S3_TEST_TIMEOUT }, async () => {
  assert.equal(await new S3OutputStore(client, `s3://${BUCKET}/runs/qso`, { retry: FAST_RETRY }).sweepTemporaries(NO_OWNERS), 0);
});

test(
  "sweepTemporaries aborts only old uploads of the tool's own keys under the prefix, of tiles no live run holds, across pages",
  { timeout: S3_TEST_TIMEOUT },
  async () => {
    const old = '2020-01-01T00:00:00.000Z';
    const recent = new Date().toISOString();
    const page = (uploads: [string, string, string][], next?: [string, string]) =>
      `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>${BUCKET}</Bucket><Prefix>runs/qso/</Prefix>` +
      `<IsTruncated>${next ? 'true' : 'false'}</IsTruncated>${next ? `<NextKeyMarker>${next[0]}</NextKeyMarker><NextUploadIdMarker>${next[1]}</NextUploadIdMarker>` : ''}` +
      uploads.map(([k, id, t]) => `<Upload><Key>${k}</Key><UploadId>${id}</UploadId><Initiated>${t}</Initiated></Upload>`).join('') +
      `</ListMultipartUploadsResult>`;
    const server = await startFaultServer(undefined, (req) => {
      if (req.method === 'GET' && req.url.includes('uploads') && !req.url.includes('key-marker')) {
        return {
          status: 200,
          headers: { 'content-type': 'application/xml' },
          body: page(
            [
              ['runs/qso/main/dark/230/main-dark-23040.parquet', 'u1', old],
              ['runs/qso/main/dark/230/main-dark-23041.parquet', 'u2', recent],
              ['runs/qso/main/dark/230/main-dark-23042.parquet', 'u5', old], // its tile is held by a live run
              ['runs/qso/other-tool/big.bin', 'u6', old],
              ['runs/qso/main/dark/230/a.parquet', 'u7', old], // not a name the tool writes
            ],
            ['runs/qso/main/dark/230/main-dark-23041.parquet', 'u2'],
          ),
        };
      }
      if (req.method === 'GET' && req.url.includes('uploads')) {
        return {
          status: 200,
          headers: { 'content-type': 'application/xml' },
          body: page([
            ['runs/qso/_desi-qad/journal/x.json', 'u3', old],
            ['elsewhere/main/dark/230/main-dark-23040.parquet', 'u4', old],
          ]),
        };
      }
      if (req.method === 'DELETE') return { status: 204 };
      return { status: 500, body: s3ErrorXml('InternalError', 'unexpected') };
    });
    try {
      const out = new S3OutputStore(anonClient(server.endpoint), `s3://${BUCKET}/runs/qso`, { retry: FAST_RETRY });
      const asked: string[] = [];
      const owners = {
        isGone: () => Promise.resolve(true),
        heldByOther: (tile: string) => {
          asked.push(tile);
          return Promise.resolve(tile === 'main/dark/23042');
        },
      };
      assert.equal(await out.sweepTemporaries(owners), 2);
      const deletes = server.requests.filter((r) => r.method === 'DELETE').map((r) => decodeURIComponent(r.url));
      assert.equal(deletes.length, 2, deletes.join('\n'));
      assert.match(deletes[0], /\/desi-out\/runs\/qso\/main\/dark\/230\/main-dark-23040\.parquet\?.*uploadId=u1/);
      assert.match(deletes[1], /\/desi-out\/runs\/qso\/_desi-qad\/journal\/x\.json\?.*uploadId=u3/);
      assert.deepEqual(asked.sort(), ['main/dark/23040', 'main/dark/23042'], 'claims are asked about old dataset uploads only');
      const lists = server.requests.filter((r) => r.method === 'GET');
      assert.equal(lists.length, 2);
      assert.match(decodeURIComponent(lists[0].url), /prefix=runs\/qso\//);
    } finally {
      await server.close();
    }
  },
);

test('sweepTemporaries: a listing that is not S3\'s (no Bucket) is an error, not "nothing to sweep"', { timeout: S3_TEST_TIMEOUT }, async () => {
  const portal = await startFaultServer(undefined, () => ({
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body: '<html><body>hello</body></html>',
  }));
  try {
    await assert.rejects(
      new S3OutputStore(anonClient(portal.endpoint), `s3://${BUCKET}/runs/qso`, { retry: FAST_RETRY }).sweepTemporaries(NO_OWNERS),
      /not an S3 listing/,
    );
  } finally {
    await portal.close();
  }
});

test('writeOnce: sends If-None-Match, takes 412 for "already there", and leaves the first object', { timeout: S3_TEST_TIMEOUT }, async () => {
  const rel = '_wavelength/wavelength.parquet';
  const key = 'once/_wavelength/wavelength.parquet';
  const first = pseudoRandomBytes(2_000, 7);
  // s3rver ignores If-None-Match; a server that honours it answers 412 to the second PUT (played here).
  let puts = 0;
  const conditions: unknown[] = [];
  const server = await startFaultServer(s3.endpoint, (req) => {
    if (req.method !== 'PUT') return 'proxy';
    puts += 1;
    conditions.push(req.headers['if-none-match']);
    return puts === 1 ? 'proxy' : { status: 412, body: s3ErrorXml('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold') };
  });
  try {
    const out = new S3OutputStore(signedClient(server.endpoint), `s3://${BUCKET}/once`, { retry: FAST_RETRY });
    assert.deepEqual(await out.writeOnce(rel, first), { created: true });
    assert.deepEqual(await out.writeOnce(rel, pseudoRandomBytes(2_000, 8)), { created: false });
    assert.equal(puts, 2);
    assert.deepEqual(conditions, ['*', '*'], 'conditional PUTs');
  } finally {
    await server.close();
  }
  assert.deepEqual(await getObjectBytes(client, BUCKET, key), first);
});
