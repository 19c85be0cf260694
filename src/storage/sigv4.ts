/**
 * AWS Signature Version 4 for the lean path's ranged GETs (ranged-get.ts): a header-signed request with an
 * UNSIGNED-PAYLOAD body hash, as @smithy/signature-v4 signs it for the SDK (tests compare the two for a fixed
 * date). What makes it cheap per request: the signing key (four HMACs) is derived once per day, region,
 * service and secret and kept; the date strings are made once per second; a request then costs one SHA-256
 * of its canonical request and one HMAC of the string to sign, all synchronous.
 */
import { createHash, createHmac } from 'node:crypto';

export interface SigV4Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

/** "20261203T202501Z" for `ms` since the epoch (whole seconds, UTC). */
export function amzDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/[-:]|\.\d{3}/g, '');
}

/** A header value as SigV4 canonicalizes it: outer whitespace trimmed, inner runs of it collapsed to one space. */
function canonicalValue(v: string): string {
  return /^\S(?:.*\S)?$/.test(v) && !/\s\s/.test(v) ? v : v.trim().replace(/\s+/g, ' ');
}

/** Signs requests of one service in one region; keeps the derived key of the last day and secret used. */
export class SigV4Signer {
  private key: { secret: string; day: string; bytes: Buffer } | undefined;
  private second = NaN;
  private date = '';

  constructor(
    readonly service: string,
    readonly region: string,
  ) {}

  private signingKey(secret: string, day: string): Buffer {
    const k = this.key;
    if (k?.day === day && k.secret === secret) return k.bytes;
    let bytes = createHmac('sha256', `AWS4${secret}`).update(day).digest();
    for (const part of [this.region, this.service, 'aws4_request']) bytes = createHmac('sha256', bytes).update(part).digest();
    this.key = { secret, day, bytes };
    return bytes;
  }

  /**
   * Adds x-amz-date, x-amz-content-sha256 (UNSIGNED-PAYLOAD), x-amz-security-token (with a session token) and
   * authorization to `headers` (lower-case names, `host` among them) for a request with no query string;
   * every header given is signed. `path` is sent as is (already URI-encoded, as S3 wants it: not normalized).
   */
  sign(method: string, path: string, headers: Record<string, string>, creds: SigV4Credentials, nowMs = Date.now()): void {
    const second = Math.floor(nowMs / 1000);
    if (second !== this.second) {
      this.second = second;
      this.date = amzDate(nowMs);
    }
    const date = this.date;
    const day = date.slice(0, 8);
    headers['x-amz-content-sha256'] = UNSIGNED_PAYLOAD;
    headers['x-amz-date'] = date;
    if (creds.sessionToken) headers['x-amz-security-token'] = creds.sessionToken;
    const names = Object.keys(headers).sort();
    let canonicalHeaders = '';
    for (const n of names) canonicalHeaders += `${n}:${canonicalValue(headers[n])}\n`;
    const signedHeaders = names.join(';');
    const canonical = `${method}\n${path}\n\n${canonicalHeaders}\n${signedHeaders}\n${UNSIGNED_PAYLOAD}`;
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const toSign = `${ALGORITHM}\n${date}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
    const signature = createHmac('sha256', this.signingKey(creds.secretAccessKey, day)).update(toSign).digest('hex');
    headers.authorization = `${ALGORITHM} Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  }
}
