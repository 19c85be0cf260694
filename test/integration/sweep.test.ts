/**
 * The start-up sweep with two runs on one --out, the registry answering for the owners: a live run's
 * temporary files (local) and its tiles' uploads (S3) survive another run's sweep, and go once that run is
 * gone (killed: its pid is dead; or its heartbeat expired). Other tools' uploads under the same prefix are
 * never aborted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LocalS3 } from '../../src/dev/local-s3.js';
import { LocalOutputStore, TEMP_MARK } from '../../src/storage/output-local.js';
import { LocalRegistry } from '../../src/storage/registry-local.js';
import { S3Registry } from '../../src/storage/registry-s3.js';
import { newRunId } from '../../src/storage/run-id.js';
import { S3OutputStore } from '../../src/storage/s3-output.js';
import { FAST_RETRY, S3_TEST_TIMEOUT, s3ErrorXml, signedClient, startFaultServer, startS3 } from '../helpers/s3.js';

const MODULE = (rel: string) => fileURLToPath(new URL(`../../src/storage/${rel}`, import.meta.url));

/**
 * Another run, in its own process: starts its registry, leaves a temporary named for its run in `dir` (as a
 * writeAtomic in flight does), prints "ready" and waits to be killed.
 */
const CHILD = `
import { writeFile, mkdir } from 'node:fs/promises';
const [regMod, outMod, out, dir, run] = process.argv.slice(1);
const { LocalRegistry } = await import(regMod);
const { TEMP_MARK } = await import(outMod);
await new LocalRegistry(out, run).start();
await mkdir(dir, { recursive: true });
await writeFile(dir + '/' + TEMP_MARK + run + '.00aa11bb22cc', 'half a file');
console.log('ready');
setInterval(() => {}, 1000);
`;

function startOtherRun(out: string, dir: string, run: string): Promise<ChildProcess> {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', CHILD, MODULE('registry-local.js'), MODULE('output-local.js'), out, dir, run], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    proc.stdout?.once('data', () => resolve(proc));
    proc.once('exit', (code) => reject(new Error(`the other run exited (${code}) before it was ready`)));
  });
}

test("local: a live run's temporary survives another run's sweep, and goes once that run is killed", { timeout: 30_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'sweep-'));
  const dir = join(out, 'main/dark/230');
  const other = newRunId();
  const child = await startOtherRun(out, dir, other);
  const me = new LocalRegistry(out, newRunId(), { goneCacheMs: 0 });
  await me.start();
  const store = new LocalOutputStore(out, { run: me.run });
  try {
    assert.equal(await store.sweepTemporaries(me), 0);
    assert.deepEqual(await readdir(dir), [`${TEMP_MARK}${other}.00aa11bb22cc`], 'the live run keeps its temporary');
    // Meanwhile this run writes a file beside it; its own temporary is gone once the write is done.
    await store.writeAtomic('main/dark/230/main-dark-23040.parquet', new Uint8Array(10));
  } finally {
    child.kill('SIGKILL');
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve)));
  }
  assert.equal(await store.sweepTemporaries(me), 1, 'killed: its pid is dead, so its temporary is a leftover');
  assert.deepEqual(await readdir(dir), ['main-dark-23040.parquet']);
  assert.deepEqual(await readdir(join(out, '_desi-qad/runs')), [`${other}.json`, `${me.run}.json`].sort(), 'the killed run left its heartbeat');
  await me.stop();
});

let s3: LocalS3;
before(async () => {
  s3 = await startS3(['desi-sweep']);
});
after(async () => {
  await s3?.stop();
});

test("S3: the sweep aborts an old upload of a tile only once no live run holds its claim, and never another tool's", { timeout: S3_TEST_TIMEOUT }, async () => {
  const out = 's3://desi-sweep/qso';
  const leaseMs = 1_500;
  const old = '2020-01-01T00:00:00.000Z';
  // s3rver has no ListMultipartUploads: the endpoint answers it (and the aborts) itself, and passes the
  // registry's requests through to s3rver.
  const uploads = `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>desi-sweep</Bucket><Prefix>qso/</Prefix><IsTruncated>false</IsTruncated>${[
    ['qso/main/dark/230/main-dark-23040.parquet', 'held'],
    ['qso/main/dark/230/main-dark-23041.parquet', 'free'],
    ['qso/other-tool/archive.tar', 'foreign'],
  ]
    .map(([k, id]) => `<Upload><Key>${k}</Key><UploadId>${id}</UploadId><Initiated>${old}</Initiated></Upload>`)
    .join('')}</ListMultipartUploadsResult>`;
  const server = await startFaultServer(s3.endpoint, (req) => {
    if (req.method === 'GET' && /[?&]uploads/.test(req.url)) return { status: 200, headers: { 'content-type': 'application/xml' }, body: uploads };
    if (req.method === 'DELETE' && req.url.includes('uploadId=')) return { status: 204 };
    return 'proxy';
  });
  const aborted = () =>
    server.requests.filter((r) => r.method === 'DELETE' && r.url.includes('uploadId=')).map((r) => /uploadId=([^&]+)/.exec(r.url)?.[1] ?? '');
  // The writer's own way to S3, cut later (a killed process, a machine gone): its heartbeat stops.
  let cut = false;
  const writerLink = await startFaultServer(s3.endpoint, () => (cut ? { status: 500, body: s3ErrorXml('InternalError', 'gone') } : 'proxy'));
  try {
    const c = signedClient(server.endpoint);
    const writer = new S3Registry(signedClient(writerLink.endpoint), out, newRunId(), { leaseMs, retry: { ...FAST_RETRY, maxAttempts: 2 } });
    await writer.start();
    assert.deepEqual(await writer.claim('main/dark/23040'), { ok: true });
    const me = new S3Registry(c, out, newRunId(), { leaseMs, goneCacheMs: 0, retry: FAST_RETRY });
    await me.start();
    const store = new S3OutputStore(c, out, { run: me.run, retry: FAST_RETRY });
    assert.equal(await store.sweepTemporaries(me), 1);
    assert.deepEqual(aborted(), ['free'], "the held tile and the other tool's upload are left alone");
    // The writer can no longer renew (nor clean up): after its lease its claim no longer protects the upload.
    cut = true;
    await sleep(leaseMs + 500);
    assert.equal(await store.sweepTemporaries(me), 2);
    assert.deepEqual(aborted(), ['free', 'held', 'free'], "now the dead run's upload is aborted too, never the other tool's");
    await me.stop();
    await writer.stop();
  } finally {
    await server.close();
    await writerLink.close();
  }
});
