/**
 * A bench-only S3 server that costs little CPU per request: node:http serving one bucket read-only from a
 * plain folder (key PREFIX/REL is the file FOLDER/REL), with GET (Range, If-Match, ETag, Content-Length,
 * Content-Range), HEAD and ListObjectsV2 (prefix, delimiter, max-keys, continuation-token, start-after).
 * s3rver (src/dev/local-s3.ts) is the real server of the tests; on the bench's 2 cores it spends ~1.4-1.9 ms
 * of CPU per GET, so a ranged run of 14,000 GETs is bounded by it. This one lets the bench time the link
 * section against a server that is not the bottleneck. It signs nothing and checks no signature (clients
 * go anonymous or signed: both are accepted), and it serves what the folder held when it started.
 *
 * It runs in a child process (`startLeanS3`) so the bench can read its CPU seconds from /proc.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { open, readdir, readFile, stat, type FileHandle } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LeanS3Options {
  /** The folder served. */
  folder: string;
  bucket: string;
  /** The key prefix the folder is served under ("" for the bucket's root), without a trailing slash. */
  prefix: string;
}

export interface LeanS3 {
  /** "http://127.0.0.1:PORT". */
  endpoint: string;
  pid: number;
  /** CPU seconds (user + system) the server process has used so far, from /proc. */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

interface Entry {
  key: string;
  path: string;
  size: number;
  etag: string;
  lastModified: string;
  /** Last-Modified as the header carries it, made once. */
  httpDate: string;
}

/** Every file under `folder`, as keys under `prefix`, sorted by key (S3's order: UTF-8 bytes, here ASCII). */
async function listFolder(folder: string, prefix: string): Promise<Entry[]> {
  const out: Entry[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const d of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, d.name);
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) await walk(path, r);
      else if (d.isFile()) {
        const s = await stat(path);
        // A strong ETag without reading the file: its size and modification time, hashed.
        const etag = `"${createHash('md5').update(`${r}\n${s.size}\n${s.mtimeMs}`).digest('hex')}"`;
        out.push({ key: prefix ? `${prefix}/${r}` : r, path, size: s.size, etag, lastModified: s.mtime.toISOString(), httpDate: s.mtime.toUTCString() });
      }
    }
  };
  await walk(folder, '');
  out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return out;
}

const xmlEscape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function xmlError(res: ServerResponse, status: number, code: string, message: string, head = false): void {
  const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': head ? 0 : Buffer.byteLength(body) });
  res.end(head ? undefined : body);
}

/** "bytes=A-B", "bytes=A-" or "bytes=-N" of an object of `size` bytes: [start, endInclusive], or null when unsatisfiable. */
export function parseRange(header: string, size: number): [number, number] | null | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined; // not a range S3 honours: the whole object
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return null;
    return [Math.max(0, size - n), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return null;
  return [start, end];
}

/** The index of the first entry whose key is greater than `after` and not less than `prefix` (entries are sorted by key). */
function firstListed(entries: Entry[], prefix: string, after: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const k = entries[mid].key;
    if (k <= after || k < prefix) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * One ListObjectsV2 page: from a binary search to the first key after the marker, to the end of the prefix's
 * keys (contiguous, as the entries are sorted), so a page costs its own keys, not a walk of the whole bucket.
 */
function listObjectsV2(res: ServerResponse, url: URL, bucket: string, entries: Entry[]): void {
  const q = url.searchParams;
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const maxKeys = Math.min(1000, Math.max(0, Number(q.get('max-keys') ?? 1000) || 1000));
  const token = q.get('continuation-token');
  const after = token ? Buffer.from(token, 'base64url').toString('utf8') : (q.get('start-after') ?? '');
  const contents: Entry[] = [];
  const prefixes: string[] = [];
  let truncated = false;
  let last = '';
  for (let at = firstListed(entries, prefix, after); at < entries.length; at++) {
    const e = entries[at];
    if (!e.key.startsWith(prefix)) break;
    let common: string | undefined;
    if (delimiter) {
      const i = e.key.indexOf(delimiter, prefix.length);
      if (i >= 0) common = e.key.slice(0, i + delimiter.length);
    }
    if (common !== undefined && common <= after) continue;
    if (common !== undefined && prefixes[prefixes.length - 1] === common) continue;
    if (contents.length + prefixes.length >= maxKeys) {
      truncated = true;
      break;
    }
    if (common !== undefined) {
      prefixes.push(common);
      last = common;
    } else {
      contents.push(e);
      last = e.key;
    }
  }
  const parts = [
    '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
    `<Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(prefix)}</Prefix>`,
    delimiter ? `<Delimiter>${xmlEscape(delimiter)}</Delimiter>` : '',
    `<MaxKeys>${maxKeys}</MaxKeys><KeyCount>${contents.length + prefixes.length}</KeyCount><IsTruncated>${truncated}</IsTruncated>`,
    token ? `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>` : '',
    truncated ? `<NextContinuationToken>${Buffer.from(last, 'utf8').toString('base64url')}</NextContinuationToken>` : '',
    ...contents.map(
      (e) =>
        `<Contents><Key>${xmlEscape(e.key)}</Key><LastModified>${e.lastModified}</LastModified><ETag>${xmlEscape(e.etag)}</ETag><Size>${e.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    ),
    ...prefixes.map((p) => `<CommonPrefixes><Prefix>${xmlEscape(p)}</Prefix></CommonPrefixes>`),
    '</ListBucketResult>',
  ];
  const body = parts.join('');
  res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Open files, kept between GETs (a ranged run reads each file hundreds of times: an open and a close per
 * GET were two thread-pool round trips of the server's CPU). At most MAX_OPEN are kept; one not in use
 * is closed to make room.
 */
const MAX_OPEN = 128;
const openFiles = new Map<string, { fh: Promise<FileHandle>; users: number }>();

async function useFile<T>(path: string, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
  let f = openFiles.get(path);
  if (!f) {
    if (openFiles.size >= MAX_OPEN)
      for (const [p, g] of openFiles)
        if (g.users === 0) {
          openFiles.delete(p);
          void g.fh.then((h) => h.close()).catch(() => undefined);
          break;
        }
    f = { fh: open(path, 'r'), users: 0 };
    openFiles.set(path, f);
    const opened = f;
    f.fh.catch(() => openFiles.get(path) === opened && openFiles.delete(path));
  }
  f.users += 1;
  try {
    return await fn(await f.fh);
  } finally {
    f.users -= 1;
  }
}

async function serveObject(req: IncomingMessage, res: ServerResponse, e: Entry): Promise<void> {
  const head = req.method === 'HEAD';
  const ifMatch = req.headers['if-match'];
  if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== e.etag) {
    xmlError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', head);
    return;
  }
  const rangeHeader = req.headers.range;
  const range = rangeHeader === undefined ? undefined : parseRange(rangeHeader, e.size);
  if (range === null) {
    res.setHeader('content-range', `bytes */${e.size}`);
    xmlError(res, 416, 'InvalidRange', 'The requested range is not satisfiable', head);
    return;
  }
  const [start, end] = range ?? [0, e.size - 1];
  const length = e.size === 0 ? 0 : end - start + 1;
  const headers: Record<string, string | number> = {
    'content-length': length,
    etag: e.etag,
    'last-modified': e.httpDate,
    'accept-ranges': 'bytes',
    'content-type': 'application/octet-stream',
  };
  if (range) headers['content-range'] = `bytes ${start}-${end}/${e.size}`;
  res.writeHead(range ? 206 : 200, headers);
  if (head || length === 0) return void res.end();
  // One read into one buffer for a small range; a stream of 1 MiB reads for a large one.
  await useFile(e.path, async (fh) => {
    const CHUNK = 1 << 20;
    let at = start;
    while (at <= end) {
      const n = Math.min(CHUNK, end + 1 - at);
      const buf = Buffer.allocUnsafe(n);
      const { bytesRead } = await fh.read(buf, 0, n, at);
      if (bytesRead !== n) throw new Error(`${e.path}: short read at ${at} (${bytesRead} of ${n} bytes)`);
      at += n;
      if (!res.write(buf)) await new Promise<void>((resolve) => res.once('drain', resolve));
      if (res.destroyed) return;
    }
    res.end();
  });
}

/** Serves `o` on 127.0.0.1:`port` (0: any free port) in this process; resolves to the port. */
export async function serveLeanS3(o: LeanS3Options, port = 0): Promise<number> {
  const entries = await listFolder(o.folder, o.prefix);
  const byKey = new Map(entries.map((e) => [e.key, e]));
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = decodeURIComponent(url.pathname);
    const slash = path.indexOf('/', 1);
    const bucket = slash < 0 ? path.slice(1) : path.slice(1, slash);
    const key = slash < 0 ? '' : path.slice(slash + 1);
    if (bucket !== o.bucket) {
      xmlError(res, 404, 'NoSuchBucket', `no bucket ${bucket}`, req.method === 'HEAD');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      xmlError(res, 405, 'MethodNotAllowed', 'this server is read-only');
      return;
    }
    if (key === '') {
      if (req.method === 'HEAD') return void res.writeHead(200, { 'content-length': 0 }).end();
      listObjectsV2(res, url, o.bucket, entries);
      return;
    }
    const e = byKey.get(key);
    if (!e) {
      xmlError(res, 404, 'NoSuchKey', `no key ${key}`, req.method === 'HEAD');
      return;
    }
    serveObject(req, res, e).catch((err: unknown) => res.destroy(err as Error));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** CPU seconds (utime + stime) of process `pid`, from /proc/PID/stat (clock ticks of 1/100 s on Linux). */
export async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is [0], utime is field 14 of the whole line, so [11], stime [12].
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Starts the server in a child Node process, which exits when this process does. */
export async function startLeanS3(o: LeanS3Options): Promise<LeanS3> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [self, JSON.stringify(o)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /\{"port":(\d+)\}/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`lean S3 server exited (status ${code}) before listening: ${stderr}`)));
  });
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr] as unknown as { unref?: () => void }[]) s?.unref?.();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    cpuSeconds: () => processCpuSeconds(child.pid!),
    stop: async () => {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.ref(); // the child was unref'd: without this, awaiting its exit would not keep this process alive
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

// The child: serve, print the port, leave when the parent closes our stdin or sends SIGTERM.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2]) {
  const o = JSON.parse(process.argv[2]) as LeanS3Options;
  serveLeanS3(o).then(
    (port) => process.stdout.write(JSON.stringify({ port }) + '\n'),
    (err: unknown) => {
      process.stderr.write(String((err as Error).stack ?? err) + '\n');
      process.exit(1);
    },
  );
  process.on('SIGTERM', () => process.exit(0));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}
