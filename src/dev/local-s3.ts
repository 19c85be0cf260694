/**
 * A real S3 HTTP server on loopback for tests, `npm run demo` and the bench: s3rver in a child process, and
 * a helper that uploads a local healpix tree to it (or to any S3 bucket).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { joinKey } from '../storage/s3-url.js';
import { mapLimit } from '../util/concurrency.js';

/** The credentials s3rver accepts (any client may also go anonymous with noSignRequest). */
export const LOCAL_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface LocalS3Options {
  /** Where s3rver keeps its objects; a fresh temporary folder (removed by stop()) when not given. */
  dir?: string;
  /** A TCP port on 127.0.0.1; a free one is chosen when not given. */
  port?: number;
  /** Buckets created at start (an existing bucket is kept as is). */
  buckets: string[];
  /** How long to wait for the server to answer (default 15 s). */
  startTimeoutMs?: number;
}

export interface LocalS3 {
  /** "http://127.0.0.1:PORT", for makeS3Client({ endpoint }). */
  endpoint: string;
  dir: string;
  pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes a temporary dir it created. */
  stop(): Promise<void>;
}

/**
 * The child's program. It runs s3rver with its buckets, prints `{"port":N}` once listening, and exits when
 * told (SIGTERM) or when its parent goes away (stdin closes), so no server outlives the test or the demo.
 */
const CHILD = `
const S3rver = require(process.argv[1]);
const [dir, port, buckets] = [process.argv[2], Number(process.argv[3]), JSON.parse(process.argv[4])];
const server = new S3rver({ directory: dir, address: '127.0.0.1', port, silent: true,
  configureBuckets: buckets.map((name) => ({ name, configs: [] })) });
let closing = false;
const bye = () => {
  if (closing) return;
  closing = true;
  setTimeout(() => process.exit(0), 2000).unref();
  server.close().then(() => process.exit(0), () => process.exit(0));
};
// s3rver's file store can throw on racing operations on one prefix (concurrent runs' claims); a test
// server that dies then would look like a client bug (ECONNREFUSED). Report such errors and keep serving.
process.on('uncaughtException', (err) => process.stderr.write('s3rver: ' + String((err && err.stack) || err) + '\\n'));
process.on('unhandledRejection', (err) => process.stderr.write('s3rver: ' + String((err && err.stack) || err) + '\\n'));
process.on('SIGTERM', bye);
process.on('SIGINT', bye);
process.stdin.on('end', bye);
process.stdin.on('close', bye);
process.stdin.resume();
server.run().then(
  (addr) => process.stdout.write(JSON.stringify({ port: addr.port }) + '\\n'),
  (err) => { process.stderr.write(String((err && err.stack) || err) + '\\n'); process.exit(1); },
);
`;

/**
 * Starts s3rver in a child Node process on 127.0.0.1 (with --openssl-legacy-provider: its ListObjectsV2
 * continuation tokens use DES, which OpenSSL 3 refuses otherwise), waits until it answers for every bucket,
 * and returns its endpoint. The child is killed when this process exits.
 */
export async function startLocalS3(o: LocalS3Options): Promise<LocalS3> {
  for (const b of o.buckets) if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(b)) throw new Error(`local S3: ${JSON.stringify(b)} is not a valid bucket name`);
  let s3rverMain: string;
  try {
    s3rverMain = createRequire(import.meta.url).resolve('s3rver');
  } catch {
    throw new Error('local S3: the s3rver package is not installed (it is a devDependency: run npm install in the repository)');
  }
  const ownDir = o.dir === undefined;
  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), 'desi-qad-s3-')));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD, s3rverMain, dir, String(o.port ?? 0), JSON.stringify(o.buckets)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (ownDir) await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await waitForPort(child, o.startTimeoutMs ?? 15_000, () => stderr);
    const endpoint = `http://127.0.0.1:${port}`;
    for (const b of o.buckets) {
      const r = await fetch(`${endpoint}/${b}`, { method: 'HEAD' });
      if (r.status !== 200) throw new Error(`local S3 at ${endpoint}: bucket ${b} answers HTTP ${r.status}`);
    }
    child.stdout.resume();
    // A forgotten stop() must not keep this process alive: the child goes when our stdin pipe closes.
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr] as unknown as { unref?: () => void }[]) s?.unref?.();
    return { endpoint, dir, pid: child.pid!, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function waitForPort(child: ChildProcess, timeoutMs: number, stderr: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`local S3: s3rver did not start within ${timeoutMs} ms${stderr() ? `: ${stderr()}` : ''}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString('utf8');
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      try {
        const port = (JSON.parse(line) as { port: number }).port;
        cleanup();
        resolve(port);
      } catch (err) {
        fail(err as Error);
      }
    };
    const onExit = (code: number | null) => fail(new Error(`local S3: s3rver exited (status ${code}) before answering${stderr() ? `: ${stderr()}` : ''}`));
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
    };
    const fail = (err: Error) => {
      cleanup();
      reject(err);
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

export interface UploadTreeResult {
  files: number;
  bytes: number;
  /** Keys written, sorted. */
  keys: string[];
}

/**
 * Uploads every file under `localDir` to `s3://bucket/prefix/<relative path>`, `concurrency` at a time
 * (default 4), with lib-storage (multipart for large files). Returns what was written.
 */
export async function uploadTree(
  client: S3Client,
  localDir: string,
  bucket: string,
  prefix: string,
  opts: { concurrency?: number } = {},
): Promise<UploadTreeResult> {
  const files: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(join(dir, e.name), r);
      else if (e.isFile()) files.push(r);
    }
  };
  await walk(localDir, '');
  files.sort();
  const written = await mapLimit(files, opts.concurrency ?? 4, async (rel) => {
    const path = join(localDir, ...rel.split('/'));
    const size = (await stat(path)).size;
    const key = joinKey(prefix, rel);
    const upload = new Upload({
      client,
      params: { Bucket: bucket, Key: key, Body: createReadStream(path), ContentLength: size },
      partSize: 16 * 1024 * 1024,
      queueSize: 2,
    });
    await upload.done();
    return { key, size };
  });
  return { files: files.length, bytes: written.reduce((s, w) => s + w.size, 0), keys: written.map((w) => w.key).sort() };
}
