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
import { request as httpRequest, type Agent as HttpAgent, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getEndpointFromInstructions } from '@smithy/core/endpoints';
import type { AwsCredentialIdentity } from '@smithy/types';
import { unwatchAbort, watchAbort, type AbortWatcher } from './abort.js';
import { BodyLengthError, StallError } from './retry.js';
import { SigV4Signer, type SigV4Credentials } from './sigv4.js';

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

const transports = new WeakMap<S3Client, LeanTransport>();
const endpoints = new WeakMap<S3Client, Map<string, Promise<BucketEndpoint>>>();
const credentialCache = new WeakMap<S3Client, CachedCredentials>();

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

interface CachedCredentials {
  value?: AwsCredentialIdentity;
  pending?: Promise<AwsCredentialIdentity>;
}

/** Credentials are asked for again this long before they expire (the SDK's own margin). */
const CREDENTIALS_REFRESH_MS = 5 * 60_000;

/**
 * The client's credentials from its own provider (the SDK's chain), kept until 5 minutes before they expire
 * (never, for credentials without an expiry, as the SDK does): the signed path then signs synchronously.
 */
function credentialsOf(client: S3Client): AwsCredentialIdentity | Promise<AwsCredentialIdentity> {
  let c = credentialCache.get(client);
  if (!c) credentialCache.set(client, (c = {}));
  const v = c.value;
  if (v && (v.expiration === undefined || v.expiration.getTime() - Date.now() > CREDENTIALS_REFRESH_MS)) return v;
  const cache = c;
  const provider = client.config.credentials as () => Promise<AwsCredentialIdentity>;
  cache.pending ??= provider().then(
    (id) => {
      cache.value = id;
      cache.pending = undefined;
      return id;
    },
    (err: unknown) => {
      cache.pending = undefined;
      throw err;
    },
  );
  return cache.pending;
}

/** Where one object's GETs go, resolved once per object: request options, host header, path, signer. */
interface Target {
  transport: LeanTransport;
  request: typeof httpRequest;
  agent: HttpAgent | HttpsAgent;
  protocol: string;
  hostname: string;
  port: string | undefined;
  host: string;
  path: string;
  signer: SigV4Signer | undefined;
}

/** One ranged read by the lean path: bytes [start, end) of the object streamed into out[offset, ...). */
export interface RangedRead {
  start: number;
  end: number;
  /** The quoted ETag of If-Match, when pinned. */
  ifMatch?: string;
  out: Uint8Array;
  offset: number;
  /** The run's signal: aborts the request or its body (an AbortError). */
  signal?: AbortSignal;
  /** Once the answer's headers are in, a body silent this long fails the read with a StallError. */
  stallMs: number;
  /** Checks the answer's headers before any body byte is taken; throws to refuse the answer. */
  check(etag: string | undefined, contentRange: string | undefined, start: number, end: number): void;
  /** Counts body bytes as they arrive (those of a failed attempt too). */
  onBytes(n: number): void;
}

/**
 * One S3 object read by ranged GETs on the lean path. Each `read` is one GET: it resolves once every byte of
 * the range is in `out`, and rejects with an S3HttpError for a non-2xx answer, Node's error for a reset, a
 * TimeoutError for the connection and socket timeouts, a StallError for a body silent for `stallMs`, a
 * BodyLengthError for a body of the wrong length, the check's error, or an AbortError. The connection
 * timeout covers getting a connected socket, the socket timeout any silence after it, as the SDK's handler
 * does. Per GET it costs one node:http request, a SigV4 signature when the client signs, and no timer,
 * AbortController, closure or promise beyond the one it returns.
 */
export class LeanObject {
  private target: Target | undefined;
  private resolving: Promise<Target> | undefined;

  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    readonly key: string,
    /** The object as messages name it (s3://bucket/key). */
    private readonly what: string,
  ) {
    if (!transports.has(client)) throw new Error('LeanObject: the client was not made by makeS3Client');
  }

  private resolve(): Promise<Target> {
    this.resolving ??= (async () => {
      const transport = transports.get(this.client)!;
      const ep = await bucketEndpoint(this.client, this.bucket);
      const https = ep.protocol === 'https:';
      const region = transport.signed ? (ep.signingRegion ?? (await this.client.config.region())) : '';
      this.target = {
        transport,
        request: https ? httpsRequest : httpRequest,
        agent: https ? transport.httpsAgent : transport.httpAgent,
        protocol: ep.protocol,
        hostname: ep.hostname,
        port: ep.port || undefined,
        host: ep.port ? `${ep.hostname}:${ep.port}` : ep.hostname,
        path: `${ep.basePath}/${encodeKeyPath(this.key)}`,
        signer: transport.signed ? new SigV4Signer(ep.signingName, region) : undefined,
      };
      return this.target;
    })();
    this.resolving.catch(() => (this.resolving = undefined)); // a failed resolution is tried again by the next read
    return this.resolving;
  }

  read(r: RangedRead): Promise<void> {
    if (r.signal?.aborted) return Promise.reject(abortError(r.signal.reason));
    const t = this.target;
    if (!t) return this.resolve().then((target) => this.readAt(target, r));
    return this.readAt(t, r);
  }

  private readAt(t: Target, r: RangedRead): Promise<void> {
    if (!t.signer) return send(t, r, this.what, undefined);
    const creds = credentialsOf(this.client);
    if (creds instanceof Promise) return creds.then((c) => send(t, r, this.what, c));
    return send(t, r, this.what, creds);
  }
}

const kRead = Symbol('desi-qad lean read');
interface Tagged {
  [kRead]?: InFlight;
}

/** The state of one GET, reached from its request and answer by kRead: the handlers below are shared, not per GET. */
class InFlight implements AbortWatcher {
  res: IncomingMessage | undefined;
  pos: number;
  readonly limit: number;
  settled = false;
  /** The answer is an error answer, read for its code by httpError. */
  errorAnswer = false;
  /** The socket timeout now watches the body for stallMs. */
  stallWatch = false;
  connectTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly req: ClientRequest,
    readonly t: Target,
    readonly r: RangedRead,
    readonly what: string,
    private readonly resolveRead: () => void,
    private readonly rejectRead: (err: unknown) => void,
  ) {
    this.pos = r.offset;
    this.limit = r.offset + (r.end - r.start);
  }

  aborted(reason: unknown): void {
    this.fail(abortError(reason));
  }

  private finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (this.r.signal) unwatchAbort(this.r.signal, this);
    return true;
  }

  fail(err: unknown): void {
    if (!this.finish()) return;
    this.rejectRead(err);
    // A request or body left behind would hold its socket: both go (their later events find the read settled).
    this.res?.destroy();
    this.req.destroy();
  }

  succeed(): void {
    if (this.finish()) this.resolveRead();
  }

  range(): string {
    return `bytes ${this.r.start}-${this.r.end - 1}`;
  }
}

function send(t: Target, r: RangedRead, what: string, creds: SigV4Credentials | undefined): Promise<void> {
  const headers: Record<string, string> = { host: t.host, range: `bytes=${r.start}-${r.end - 1}` };
  if (r.ifMatch !== undefined) headers['if-match'] = r.ifMatch;
  if (t.signer && creds) t.signer.sign('GET', t.path, headers, creds);
  return new Promise<void>((resolve, reject) => {
    const req = t.request({
      method: 'GET',
      protocol: t.protocol,
      hostname: t.hostname,
      port: t.port,
      path: t.path,
      headers,
      agent: t.agent,
    });
    const st = new InFlight(req, t, r, what, resolve, reject);
    (req as Tagged)[kRead] = st;
    req.on('error', onRequestError);
    req.on('socket', onSocket);
    req.on('response', onResponse);
    req.setTimeout(t.transport.socketTimeoutMs, onTimeout);
    if (r.signal && !watchAbort(r.signal, st)) st.aborted(r.signal.reason);
    else req.end();
  });
}

function stateOf(emitter: unknown): InFlight {
  return (emitter as Tagged)[kRead]!;
}

function onRequestError(this: ClientRequest, err: Error): void {
  stateOf(this).fail(err);
}

function onSocket(this: ClientRequest, socket: Socket): void {
  // A pooled socket is connected already; a new one must connect within the connection timeout.
  if (!socket.connecting) return;
  const st = stateOf(this);
  const ms = st.t.transport.connectionTimeoutMs;
  st.connectTimer = setTimeout(() => st.fail(timeoutError(`Socket timed out without establishing a connection within ${ms} ms`)), ms);
  socket.once('connect', () => clearTimeout(st.connectTimer));
}

function onTimeout(this: ClientRequest): void {
  const st = stateOf(this);
  if (st.stallWatch) st.fail(new StallError(`${st.what}: no bytes received for ${st.r.stallMs} ms reading ${st.range()}; aborted`));
  else st.fail(timeoutError(`Connection timed out after ${st.t.transport.socketTimeoutMs} ms`));
}

function onResponse(this: ClientRequest, res: IncomingMessage): void {
  const st = stateOf(this);
  if (st.connectTimer) clearTimeout(st.connectTimer);
  st.res = res;
  (res as Tagged)[kRead] = st;
  res.on('error', onBodyError);
  res.on('close', onBodyClose);
  if (st.settled) return void res.destroy();
  const status = res.statusCode ?? 0;
  if (status < 200 || status > 299) {
    st.errorAnswer = true;
    httpError(res).then(
      (e) => st.fail(e),
      (e: unknown) => st.fail(e),
    );
    return;
  }
  try {
    st.r.check(headerOf(res, 'etag'), headerOf(res, 'content-range'), st.r.start, st.r.end);
  } catch (err) {
    st.fail(err);
    return;
  }
  // From the headers on, the socket's own timeout watches the body: for stallMs when that is not longer
  // than the socket timeout (the agent puts the socket's timeout back when the socket is free again).
  const { stallMs } = st.r;
  if (stallMs <= st.t.transport.socketTimeoutMs) {
    st.stallWatch = true;
    if (stallMs !== st.t.transport.socketTimeoutMs) res.socket?.setTimeout(stallMs);
  }
  res.on('data', onData);
  res.on('end', onEnd);
}

function onData(this: IncomingMessage, chunk: Buffer): void {
  const st = stateOf(this);
  if (st.settled) return;
  st.r.onBytes(chunk.byteLength);
  if (st.pos + chunk.byteLength > st.limit) {
    st.fail(new BodyLengthError(`${st.what}: the body of ${st.range()} is longer than the ${st.r.end - st.r.start} bytes asked for`));
    return;
  }
  st.r.out.set(chunk, st.pos);
  st.pos += chunk.byteLength;
}

function onEnd(this: IncomingMessage): void {
  const st = stateOf(this);
  if (st.pos < st.limit)
    st.fail(new BodyLengthError(`${st.what}: the body of ${st.range()} ended after ${st.pos - st.r.offset} of ${st.r.end - st.r.start} bytes`));
  else st.succeed();
}

function onBodyError(this: IncomingMessage, err: Error): void {
  stateOf(this).fail(err);
}

function onBodyClose(this: IncomingMessage): void {
  const st = stateOf(this);
  if (st.settled || st.errorAnswer) return;
  const e = new Error(`${st.what}: the connection closed before the body of ${st.range()} was complete`) as Error & { code: string };
  e.code = 'ERR_STREAM_PREMATURE_CLOSE';
  st.fail(e);
}
