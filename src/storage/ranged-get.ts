/**
 * The lean path of ranged object reads: one GET with node:http on the client's own keep-alive agents,
 * signed with SigV4 (@smithy/signature-v4) only when the client signs, sent unsigned when it is anonymous.
 * The SDK keeps everything else (listing, uploads, heads, the credential chain, endpoint resolution): this
 * module asks the client for its endpoint (once per bucket) and credentials, and sends only the request.
 *
 * It answers what S3ObjectSource reads from a GetObjectCommand output (ETag, Content-Range, the body as a
 * stream) and fails the way the SDK does (an error named after S3's code, with `$metadata.httpStatusCode`;
 * Node's own errors for resets; a TimeoutError for the connection and socket timeouts; an AbortError), so
 * the source's retries, ETag pinning, checks and messages are the same on both paths.
 * `DESI_QAD_S3_GET=sdk` sends ranged reads through the SDK again (the bench's before/after).
 */
import { createHash, createHmac, type BinaryLike } from 'node:crypto';
import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getEndpointFromInstructions } from '@smithy/core/endpoints';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, Checksum, SourceData } from '@smithy/types';

/** What makeS3Client gives the lean path: its agents and timeouts, and whether the client signs. */
export interface LeanTransport {
  httpAgent: HttpAgent;
  httpsAgent: HttpsAgent;
  connectionTimeoutMs: number;
  socketTimeoutMs: number;
  signed: boolean;
}

/** The part of a GetObject answer S3ObjectSource reads. */
export interface RangedAnswer {
  ETag?: string;
  ContentRange?: string;
  Body?: Readable;
}

export interface RangedRequest {
  bucket: string;
  key: string;
  /** "bytes=START-END". */
  range: string;
  /** The quoted ETag of If-Match, when pinned. */
  ifMatch?: string;
  signal: AbortSignal;
}

const transports = new WeakMap<S3Client, LeanTransport>();
const endpoints = new WeakMap<S3Client, Map<string, Promise<BucketEndpoint>>>();
const signers = new WeakMap<S3Client, Map<string, SignatureV4>>();

/** Called by makeS3Client: this client's ranged reads may take the lean path. */
export function registerLeanTransport(client: S3Client, t: LeanTransport): void {
  transports.set(client, t);
}

/** Which path ranged reads take: DESI_QAD_S3_GET=sdk (the AWS SDK) or lean (the default). */
export type RangedGetPath = 'sdk' | 'lean';

/**
 * The path for `client`'s ranged reads: 'sdk' when DESI_QAD_S3_GET=sdk or the client was not made by
 * makeS3Client (no transport known), 'lean' otherwise. Any other value of the variable is refused.
 */
export function rangedGetPath(client: S3Client): RangedGetPath {
  const v = process.env.DESI_QAD_S3_GET;
  if (v !== undefined && v !== '' && v !== 'sdk' && v !== 'lean')
    throw new Error(`DESI_QAD_S3_GET must be "sdk" or "lean" (the default), not ${JSON.stringify(v)}`);
  return v === 'sdk' || !transports.has(client) ? 'sdk' : 'lean';
}

interface BucketEndpoint {
  protocol: string;
  hostname: string;
  port: string;
  /** The path before the key, without a trailing slash ("" or "/bucket"). */
  basePath: string;
  signingName: string;
  signingRegion: string | undefined;
}

/**
 * The bucket's endpoint as the SDK resolves it for GetObject (custom endpoint and path style, virtual-hosted
 * AWS, FIPS, dual-stack, endpoint URLs from the environment or profile), once per client and bucket.
 */
function bucketEndpoint(client: S3Client, bucket: string): Promise<BucketEndpoint> {
  let byBucket = endpoints.get(client);
  if (!byBucket) endpoints.set(client, (byBucket = new Map<string, Promise<BucketEndpoint>>()));
  let p = byBucket.get(bucket);
  if (!p) {
    p = (async () => {
      const e = await getEndpointFromInstructions({ Bucket: bucket, Key: 'k' }, GetObjectCommand, client.config as never);
      const scheme = (e.properties?.authSchemes as { name?: string; signingName?: string; signingRegion?: string }[] | undefined)?.find((s) =>
        s.name?.startsWith('sigv4'),
      );
      return {
        protocol: e.url.protocol,
        hostname: e.url.hostname,
        port: e.url.port,
        basePath: e.url.pathname.replace(/\/+$/, ''),
        signingName: scheme?.signingName ?? 's3',
        signingRegion: scheme?.signingRegion,
      };
    })();
    p.catch(() => byBucket.delete(bucket)); // a failed resolution is tried again by the next read
    byBucket.set(bucket, p);
  }
  return p;
}

/** What the signer needs of a node:crypto Hash or Hmac. */
interface Digester {
  update(data: Uint8Array): unknown;
  digest(): Buffer;
}

/** SHA-256 (and its HMAC) for the signer, from node:crypto. */
class NodeSha256 implements Checksum {
  private h: Digester;
  constructor(private readonly secret?: SourceData) {
    this.h = this.fresh();
  }
  private fresh(): Digester {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBinary(this.secret));
  }
  update(data: Uint8Array): void {
    this.h.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
  reset(): void {
    this.h = this.fresh();
  }
}

function toBinary(d: SourceData): BinaryLike {
  if (typeof d === 'string') return d;
  if (ArrayBuffer.isView(d)) return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  return new Uint8Array(d);
}

function signerFor(client: S3Client, service: string, region: string): SignatureV4 {
  let bySpace = signers.get(client);
  if (!bySpace) signers.set(client, (bySpace = new Map<string, SignatureV4>()));
  const id = `${service}\n${region}`;
  let s = bySpace.get(id);
  if (!s) {
    // The client's own credential provider (the SDK's chain, memoized and refreshed by it).
    const credentials = client.config.credentials as () => Promise<AwsCredentialIdentity>;
    s = new SignatureV4({ service, region, credentials, sha256: NodeSha256, uriEscapePath: false, applyChecksum: true });
    bySpace.set(id, s);
  }
  return s;
}

/** A key as the SDK puts it in a path: each segment percent-encoded (RFC 3986 strict), slashes kept. */
export function encodeKeyPath(key: string): string {
  return key
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

/** An S3 answer that is not a success, shaped like the SDK's service errors (name, Code, $metadata). */
export class S3HttpError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode: number; requestId?: string };
  readonly Code: string;
  constructor(status: number, code: string, message: string, requestId?: string) {
    super(message);
    this.name = code;
    this.Code = code;
    this.$fault = status >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode: status, requestId };
  }
}

/** The names the SDK gives an S3 error answer that has no XML body to say its code. */
const STATUS_CODES: Record<number, string> = {
  304: 'NotModified',
  400: 'BadRequest',
  403: 'Forbidden',
  404: 'NotFound',
  412: 'PreconditionFailed',
  416: 'InvalidRange',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

/** At most this much of an error answer's body is read for its code and message. */
const ERROR_BODY_LIMIT = 64 * 1024;

async function httpError(res: IncomingMessage): Promise<S3HttpError> {
  const status = res.statusCode ?? 0;
  let text = '';
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      text += chunk.toString('utf8');
      if (text.length > ERROR_BODY_LIMIT) break;
    }
  } catch {
    // A body cut short still leaves the status to report.
  } finally {
    res.destroy();
  }
  const tag = (name: string) => new RegExp(`<${name}>([^<]{0,1024})</${name}>`).exec(text)?.[1];
  const code = tag('Code') ?? STATUS_CODES[status] ?? 'UnknownError';
  const requestId = tag('RequestId') ?? headerOf(res, 'x-amz-request-id');
  return new S3HttpError(status, code, tag('Message') ?? code, requestId);
}

function headerOf(res: IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function timeoutError(message: string): Error {
  const e = new Error(message);
  e.name = 'TimeoutError';
  return e;
}

function abortError(reason: unknown): Error {
  const e = new Error('The operation was aborted', { cause: reason });
  e.name = 'AbortError';
  return e;
}

/**
 * One ranged GET. Resolves once the answer's headers are in, with its body as a stream (2xx only); rejects
 * with an S3HttpError for any other status, or with the transport's error. The connection timeout covers
 * getting a connected socket, the socket timeout any silence after it (body included), as the SDK's
 * handler does; `signal` aborts the request or its body.
 */
export async function rangedGet(client: S3Client, r: RangedRequest): Promise<RangedAnswer> {
  const t = transports.get(client);
  if (!t) throw new Error('rangedGet: the client was not made by makeS3Client');
  if (r.signal.aborted) throw abortError(r.signal.reason);
  const ep = await bucketEndpoint(client, r.bucket);
  const path = `${ep.basePath}/${encodeKeyPath(r.key)}`;
  const host = ep.port ? `${ep.hostname}:${ep.port}` : ep.hostname;
  let headers: Record<string, string> = { host, range: r.range };
  if (r.ifMatch !== undefined) headers['if-match'] = r.ifMatch;
  if (t.signed) {
    const region = ep.signingRegion ?? (await client.config.region());
    headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
    const signed = await signerFor(client, ep.signingName, region).sign({
      method: 'GET',
      protocol: ep.protocol,
      hostname: ep.hostname,
      port: ep.port ? Number(ep.port) : undefined,
      path,
      query: {},
      headers,
    });
    headers = signed.headers;
  }
  if (r.signal.aborted) throw abortError(r.signal.reason);
  const https = ep.protocol === 'https:';
  return new Promise<RangedAnswer>((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)({
      method: 'GET',
      protocol: ep.protocol,
      hostname: ep.hostname,
      port: ep.port || undefined,
      path,
      headers,
      agent: https ? t.httpsAgent : t.httpAgent,
    });
    let connectTimer: NodeJS.Timeout | undefined;
    const onAbortSignal = () => req.destroy(abortError(r.signal.reason));
    r.signal.addEventListener('abort', onAbortSignal, { once: true });
    const done = () => {
      clearTimeout(connectTimer);
      r.signal.removeEventListener('abort', onAbortSignal);
    };
    req.on('socket', (socket) => {
      // A pooled socket is connected already; a new one must connect within the connection timeout.
      if ((socket as { connecting?: boolean }).connecting) {
        connectTimer = setTimeout(
          () => req.destroy(timeoutError(`Socket timed out without establishing a connection within ${t.connectionTimeoutMs} ms`)),
          t.connectionTimeoutMs,
        );
        socket.once('connect', () => clearTimeout(connectTimer));
      }
    });
    req.setTimeout(t.socketTimeoutMs, () => req.destroy(timeoutError(`Connection timed out after ${t.socketTimeoutMs} ms`)));
    req.on('error', (err) => {
      done();
      reject(err);
    });
    req.on('response', (res) => {
      clearTimeout(connectTimer);
      // The signal keeps aborting the body (req.destroy destroys the answer too) until the answer is done.
      res.once('close', done);
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        httpError(res).then(reject, reject);
        return;
      }
      resolve({ ETag: headerOf(res, 'etag'), ContentRange: headerOf(res, 'content-range'), Body: res });
    });
    req.end();
  });
}
