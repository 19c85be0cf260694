/**
 * S3 test helpers: a real s3rver process (src/dev/local-s3.ts), clients for it with short timeouts, and a
 * loopback HTTP server that records every request's headers and can answer with faults (503 SlowDown, 412,
 * short bodies, silence) or pass the request on to s3rver.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { LOCAL_S3_CREDENTIALS, startLocalS3, type LocalS3 } from '../../src/dev/local-s3.js';
import { makeS3Client, type S3ClientOptions } from '../../src/storage/s3-client.js';

/** Upper bound of any S3 test; each one is far quicker, the bound only stops a hang. */
export const S3_TEST_TIMEOUT = 60_000;

/** Quiets the SDK's warning about Node 20 in test output. */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export function startS3(buckets: string[]): Promise<LocalS3> {
  return startLocalS3({ buckets });
}

/** A signed client (s3rver's credentials) with short timeouts. */
export function signedClient(endpoint: string, o: Partial<S3ClientOptions> = {}): S3Client {
  return makeS3Client({ endpoint, credentials: { ...LOCAL_S3_CREDENTIALS }, connectionTimeoutMs: 2000, socketTimeoutMs: 10_000, ...o });
}

/** An anonymous client (noSignRequest) with short timeouts. */
export function anonClient(endpoint: string, o: Partial<S3ClientOptions> = {}): S3Client {
  return makeS3Client({ endpoint, noSignRequest: true, connectionTimeoutMs: 2000, socketTimeoutMs: 10_000, ...o });
}

/** Retry settings that keep tests quick: tiny backoffs, same attempts as production. */
export const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 20 } as const;

export async function putObject(client: S3Client, bucket: string, key: string, body: Uint8Array | string): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

export async function getObjectBytes(client: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return r.Body!.transformToByteArray();
}

/** Deterministic pseudo-random bytes (xorshift32), so a failing comparison can be reproduced. */
export function pseudoRandomBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function s3ErrorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>test</RequestId></Error>`;
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * What the fault server does with a request: pass it to the target, answer it, say nothing at all, or pass
 * it on and then send only the first bytes of the answer's body and go silent (a stalled read).
 */
export type FaultAction = 'proxy' | 'silent' | { status: number; headers?: Record<string, string>; body?: string | Uint8Array } | { stallAfter: number };

export interface FaultServer {
  endpoint: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * A loopback HTTP server that records each request and asks `decide(request, index)` what to do with it.
 * `target` (an http://host:port) is where 'proxy' and stallAfter requests go.
 */
export async function startFaultServer(target: string | undefined, decide: (req: RecordedRequest, index: number) => FaultAction): Promise<FaultServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const rec: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } };
    const index = requests.push(rec) - 1;
    const action = decide(rec, index);
    if (action === 'silent') {
      req.resume();
      return;
    }
    if (action === 'proxy' || 'stallAfter' in action) {
      if (!target) throw new Error('fault server: no target to proxy to');
      const t = new URL(target);
      const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (action === 'proxy') {
          upRes.pipe(res);
          return;
        }
        let sent = 0;
        upRes.on('data', (chunk: Buffer) => {
          if (sent >= action.stallAfter) return;
          const part = chunk.subarray(0, action.stallAfter - sent);
          sent += part.byteLength;
          res.write(part);
        });
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
      return;
    }
    req.resume();
    const body = action.body ?? '';
    res.writeHead(action.status, { 'content-length': String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength), ...action.headers });
    res.end(body);
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
