import { S3Error } from '../storage/s3-client.js';
import { S3UrlError } from '../storage/s3-url.js';
import { LogDirError } from '../pipeline/log.js';
import { redactSecrets } from '../util/secrets.js';

/**
 * What the console says about an error that ends a run: its message, a hint naming the option that fixes
 * it, and whether it is an expected failure (no credentials, no bucket, no access, no server, an unwritable
 * folder) or a bug. Expected failures are printed without a stack trace; a bug is printed with "please
 * report" on the console and its stack in the log only.
 */
export interface Explained {
  message: string;
  hint?: string;
  expected: boolean;
}

const PUBLIC_OR_PROFILE = 'public data such as s3://desidata: add --no-sign-request; your own bucket: check --profile / AWS_PROFILE and the credentials';
const NO_CREDENTIALS = 'no AWS credentials found: --profile, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; or --no-sign-request for public buckets';
const FOLDER = "check the folder's permissions/space";

const DENIED = new Set(['AccessDenied', 'AllAccessDisabled', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccountProblem']);
const FOLDER_ERRNOS = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'ENOTDIR', 'EISDIR']);

/** Classifies `err` (or the first error of its `cause` chain that is known) for the console. */
export function explainError(err: unknown): Explained {
  const message = redactSecrets(messageOf(err));
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const found = classify(e);
    if (found) return { message, ...found };
  }
  return { message, expected: false };
}

/** `desi-qad: <message>`, and `hint: <hint>` on a second line when there is one. No stack trace. */
export function formatForConsole(e: Explained): string {
  return `desi-qad: ${e.message}${e.hint ? `\nhint: ${e.hint}` : ''}`;
}

function classify(e: unknown): Omit<Explained, 'message'> | undefined {
  if (e instanceof LogDirError) return { expected: true }; // its message already names --log-dir
  if (e instanceof S3UrlError) return { expected: true, hint: 'check --source and --out (s3://bucket/prefix or a folder)' };
  const name = (e as { name?: unknown }).name;
  const code = e instanceof S3Error ? e.code : stringProp(e, 'code');
  const status = e instanceof S3Error ? e.status : undefined;
  const text = messageOf(e);
  if (name === 'CredentialsProviderError' || code === 'CredentialsProviderError' || /Could not load credentials/i.test(text))
    return { expected: true, hint: NO_CREDENTIALS };
  if (code === 'NoSuchBucket')
    return {
      expected: true,
      hint: 'check the bucket name in --source/--out, and --region and --endpoint: the bucket is not on the server the request went to',
    };
  if (code === 'ExpiredToken' || code === 'InvalidToken' || code === 'TokenRefreshRequired')
    return { expected: true, hint: 'the session credentials have expired: renew them (e.g. aws sso login --profile ...) and run again' };
  if (code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed')
    return { expected: true, hint: 'the bucket is in another region: give its region with --region' };
  if ((code !== undefined && DENIED.has(code)) || status === 403) return { expected: true, hint: PUBLIC_OR_PROFILE };
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return { expected: true, hint: 'check --endpoint: nothing answered at that address (is the server running, is the host name right?)' };
  // The server or the network gave out after every retry: a run resumes where it stopped, no bug in desi-qad.
  if (e instanceof S3Error && ((code !== undefined && GAVE_OUT.has(code)) || (status !== undefined && status >= 500)))
    return {
      expected: true,
      hint: 'the endpoint did not answer in time or kept failing after every retry (the network, or the server busy): run the same command again to resume; --max-attempts and --cli-read-timeout set how long desi-qad waits',
    };
  if (code === 'NO_SOURCE') return { expected: true, hint: 'check --source: the folder or s3:// prefix must hold the healpix tree' };
  if (code !== undefined && FOLDER_ERRNOS.has(code) && (stringProp(e, 'path') !== undefined || stringProp(e, 'syscall') !== undefined))
    return { expected: true, hint: FOLDER };
  return undefined;
}

/** Codes of an S3Error that mean the connection or the server gave out (timeouts, resets, throttling, 5xx). */
const GAVE_OUT = new Set([
  'TimeoutError',
  'RequestTimeout',
  'ETIMEDOUT',
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'SlowDown',
  'InternalError',
  'ServiceUnavailable',
]);

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return typeof e === 'string' ? e : String(e);
}

function stringProp(e: unknown, key: string): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const v = (e as Record<string, unknown>)[key];
  return typeof v === 'string' ? v : undefined;
}
