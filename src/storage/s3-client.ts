/**
 * The S3 client every S3 store shares, configured once: region, custom endpoint (path-style, no default
 * checksums), anonymous access, timeouts and a keep-alive agent; and the errors the S3 stores throw, which
 * name bucket, key, HTTP status and cause, never credentials or signed URLs.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { attemptsOf, httpStatusOf } from './retry.js';
import { formatS3Url } from './s3-url.js';
import { registerLeanTransport } from './ranged-get.js';
import { redactSecrets, registerSecret } from '../util/secrets.js';

export const DEFAULT_REGION = 'us-west-2';

export interface S3ClientOptions {
  /** AWS region (default us-west-2, where DESI's public bucket lives). */
  region?: string;
  /** A non-AWS endpoint (s3rver, MinIO, Ceph): path-style addressing, checksums only when required. */
  endpoint?: string;
  /** Anonymous requests: no credentials are looked up and no Authorization header is sent. */
  noSignRequest?: boolean;
  /** A profile of ~/.aws/config and ~/.aws/credentials; otherwise the SDK's default chain (env first). */
  profile?: string;
  /** Explicit credentials (a local test server); they win over profile and the default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Sockets per host in the keep-alive pool; size it for the reads in flight (default 64). */
  maxSockets?: number;
  /** Time allowed to open a TCP/TLS connection (default 5 s). */
  connectionTimeoutMs?: number;
  /** Time a socket may stay silent, response body included, before the request fails (default 30 s). */
  socketTimeoutMs?: number;
}

const labels = new WeakMap<S3Client, string>();
/** Clients that sign their requests, and so hold credentials worth registering (registerClientSecrets). */
const signed = new WeakSet<S3Client>();

/**
 * An S3Client for the stores. The SDK's own retries are off (maxAttempts 1): retry.ts is the one place that
 * retries and counts. With `endpoint`, path-style addressing and `WHEN_REQUIRED` checksums (current SDKs
 * otherwise send aws-chunked bodies that S3-compatible servers such as s3rver store framing and all).
 * With `noSignRequest`, the smithy noAuth scheme: no credential lookup, no Authorization header.
 */
export function makeS3Client(o: S3ClientOptions = {}): S3Client {
  const region = o.region ?? DEFAULT_REGION;
  const maxSockets = o.maxSockets ?? 64;
  const agentOptions = { keepAlive: true, maxSockets, keepAliveMsecs: 1000 };
  const httpAgent = new HttpAgent(agentOptions);
  const httpsAgent = new HttpsAgent(agentOptions);
  const connectionTimeoutMs = o.connectionTimeoutMs ?? 5_000;
  const socketTimeoutMs = o.socketTimeoutMs ?? 30_000;
  const config: S3ClientConfig = {
    region,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: connectionTimeoutMs, socketTimeout: socketTimeoutMs, httpAgent, httpsAgent },
  };
  if (o.endpoint) {
    config.endpoint = o.endpoint;
    config.forcePathStyle = true;
    config.requestChecksumCalculation = 'WHEN_REQUIRED';
    config.responseChecksumValidation = 'WHEN_REQUIRED';
  }
  if (o.noSignRequest) {
    config.httpAuthSchemeProvider = () => [{ schemeId: 'smithy.api#noAuth' }];
    config.httpAuthSchemes = [
      { schemeId: 'smithy.api#noAuth', identityProvider: () => () => Promise.resolve({}), signer: { sign: (request) => Promise.resolve(request) } },
    ];
  } else if (o.credentials) {
    config.credentials = o.credentials;
  } else if (o.profile) {
    config.profile = o.profile;
  }
  const client = new S3Client(config);
  labels.set(client, o.endpoint ? `endpoint ${withoutUserinfo(o.endpoint)}` : `AWS S3 in ${region}`);
  if (!o.noSignRequest) signed.add(client);
  // Ranged reads of source objects may skip the SDK's per-request machinery (ranged-get.ts), on the same sockets.
  registerLeanTransport(client, { httpAgent, httpsAgent, connectionTimeoutMs, socketTimeoutMs, signed: !o.noSignRequest });
  return client;
}

/**
 * "endpoint http://127.0.0.1:4568" or "AWS S3 in us-west-2": where requests went, for messages. An endpoint
 * given as `http://user:pass@host` is shown without its `user:pass@`.
 */
export function clientLabel(client: S3Client): string {
  return labels.get(client) ?? 'S3';
}

/**
 * Registers (util/secrets.ts) the credentials a signed client resolves, so that no message, log line or
 * journal record can show them even when an endpoint echoes them back. Resolves them once, the way the
 * signer does; best effort: a client without credentials (the error surfaces on its first request, with
 * its own message) or an anonymous client registers nothing, and this never throws.
 */
export async function registerClientSecrets(client: S3Client): Promise<void> {
  if (!signed.has(client)) return;
  try {
    const c = await client.config.credentials();
    registerSecret(c.accessKeyId, 'access key id');
    registerSecret(c.secretAccessKey, 'secret access key');
    registerSecret(c.sessionToken, 'session token');
  } catch {
    // No credentials yet: nothing to hide; the request that needs them reports the problem.
  }
}

/** `http://user:pass@host:1/p` -> `http://host:1/p`; text that is not a URL loses anything up to an '@' after '//'. */
export function withoutUserinfo(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    const out = u.toString();
    return out.endsWith('/') && !url.endsWith('/') ? out.slice(0, -1) : out;
  } catch {
    return url.replace(/\/\/[^@/?#]*@/, '//');
  }
}

/**
 * An S3 request that failed for good. The message names the object (s3://bucket/key), the operation, the
 * HTTP status and S3 error code or the network cause, and where the request went.
 */
export class S3Error extends Error {
  override name = 'S3Error';
  constructor(
    message: string,
    readonly bucket: string,
    readonly key: string,
    readonly operation: string,
    /** The HTTP status, when an answer came. */
    readonly status: number | undefined,
    /** The S3 error code (NoSuchBucket, AccessDenied, SlowDown) or the errno (ECONNREFUSED). */
    readonly code: string | undefined,
    /** True when no later request can succeed either (no bucket, no access, no endpoint). */
    readonly fatal: boolean,
  ) {
    super(message);
  }
}

const FATAL_CODES = new Set([
  'NoSuchBucket',
  'AccessDenied',
  'AllAccessDisabled',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'AccountProblem',
  'PermanentRedirect',
  'AuthorizationHeaderMalformed',
  'ECONNREFUSED',
  'ENOTFOUND',
  'CredentialsProviderError',
]);

/**
 * Wraps an SDK or network error into an S3Error for `s3://bucket/key`. Signed query strings and access key
 * ids that could appear in a cause are blanked out.
 */
export function s3Error(err: unknown, where: { client: S3Client; bucket: string; key: string; operation: string }): S3Error {
  const e = err as { name?: string; code?: string; Code?: string; message?: string; cause?: { code?: string; message?: string } } | undefined;
  const status = httpStatusOf(err);
  const code = e?.Code ?? (status !== undefined ? e?.name : undefined) ?? e?.code ?? e?.cause?.code ?? e?.name;
  let cause: string;
  if (status !== undefined) cause = `HTTP ${status} ${code ?? ''}${e?.message && e.message !== code ? `: ${e.message}` : ''}`;
  else cause = `${e?.message ?? String(err)}${e?.cause?.message && !e.message?.includes(e.cause.message) ? ` (${e.cause.message})` : ''}`;
  const attempts = attemptsOf(err);
  const after = attempts ? ` after ${attempts} attempts` : '';
  let msg = `${formatS3Url(where.bucket, where.key)}: ${where.operation} failed${after}: ${redact(cause.trim())} (${clientLabel(where.client)})`;
  // Shapes first (signatures, key ids), then the values in use, whatever their shape (an endpoint may echo them).
  msg = redactSecrets(msg);
  const fatal = status === 403 || (code !== undefined && FATAL_CODES.has(code));
  return new S3Error(msg, where.bucket, where.key, where.operation, status, code, fatal);
}

/**
 * Blanks what has the shape of a secret in a URL or an SDK message: signed query parameters, Authorization
 * header parts, AWS access key ids, and the `user:pass@` of URLs. The values actually in use are blanked by
 * util/secrets.ts redactSecrets, whatever their shape; s3Error applies both.
 */
export function redact(text: string): string {
  return text
    .replace(/(X-Amz-(?:Signature|Credential|Security-Token)=)[^&\s"']+/gi, '$1<redacted>')
    .replace(/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, '<access key id>')
    .replace(/(Signature=|Credential=)[^,\s"']+/g, '$1<redacted>')
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^@/?#\s"']+@/gi, '$1<redacted userinfo>@');
}
