/**
 * The lean path's SigV4 signer (src/storage/sigv4.ts) against @smithy/signature-v4, the SDK's signer, for a
 * fixed date: the same Authorization for the same request, with and without a session token, and a new
 * signing key the next day (the cached key of one day is not reused for another).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Checksum, SourceData } from '@smithy/types';
import { amzDate, SigV4Signer } from '../../src/storage/sigv4.js';

class Sha256 implements Checksum {
  private h: { update(d: Uint8Array | string): unknown; digest(): Buffer };
  constructor(private readonly secret?: SourceData) {
    this.h = this.fresh();
  }
  private fresh() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret as Uint8Array | string);
  }
  update(d: Uint8Array): void {
    this.h.update(d);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
  reset(): void {
    this.h = this.fresh();
  }
}

async function smithyAuth(
  creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  headers: Record<string, string>,
  path: string,
  date: Date,
) {
  const s = new SignatureV4({ service: 's3', region: 'us-west-2', credentials: creds, sha256: Sha256, uriEscapePath: false, applyChecksum: true });
  const signed = await s.sign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname: 'desi.s3.us-west-2.amazonaws.com',
      path,
      query: {},
      headers: { ...headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    },
    { signingDate: date },
  );
  return signed.headers;
}

test('amzDate is the basic ISO form SigV4 wants', () => {
  assert.equal(amzDate(Date.UTC(2026, 11, 3, 20, 5, 9, 999)), '20261203T200509Z');
});

test('the cached-key signer gives the Authorization of the SDK signer, with and without a session token, day after day', async () => {
  const path = '/dr1/spectro/coadd%20main%2Bdark%20%2823040%29.fits';
  const signer = new SigV4Signer('s3', 'us-west-2');
  for (const sessionToken of [undefined, 'TOKEN/with+odd=chars'])
    for (const date of [new Date(Date.UTC(2026, 11, 3, 20, 5, 9)), new Date(Date.UTC(2026, 11, 3, 23, 59, 59)), new Date(Date.UTC(2026, 11, 4, 0, 0, 1))]) {
      const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken };
      const base = { host: 'desi.s3.us-west-2.amazonaws.com', range: 'bytes=100-65635', 'if-match': '"0123456789abcdef0123456789abcdef"' };
      const ours: Record<string, string> = { ...base };
      signer.sign('GET', path, ours, creds, date.getTime());
      const theirs = await smithyAuth(creds, base, path, date);
      assert.equal(ours.authorization, theirs.authorization, `${date.toISOString()} token ${sessionToken ?? 'none'}`);
      assert.equal(ours['x-amz-date'], theirs['x-amz-date']);
      assert.equal(ours['x-amz-security-token'], theirs['x-amz-security-token']);
    }
});

test('another secret or another range signs differently', () => {
  const t = Date.UTC(2026, 11, 3, 20, 5, 9);
  const sign = (secret: string, range: string) => {
    const h: Record<string, string> = { host: 'h', range };
    new SigV4Signer('s3', 'us-west-2').sign('GET', '/b/k', h, { accessKeyId: 'A', secretAccessKey: secret }, t);
    return h.authorization;
  };
  assert.notEqual(sign('s1', 'bytes=0-9'), sign('s2', 'bytes=0-9'));
  assert.notEqual(sign('s1', 'bytes=0-9'), sign('s1', 'bytes=0-10'));
  // One signer, the secret changing between requests (rotated credentials): the key follows the secret.
  const signer = new SigV4Signer('s3', 'us-west-2');
  const a: Record<string, string> = { host: 'h', range: 'bytes=0-9' };
  const b: Record<string, string> = { host: 'h', range: 'bytes=0-9' };
  signer.sign('GET', '/b/k', a, { accessKeyId: 'A', secretAccessKey: 's1' }, t);
  signer.sign('GET', '/b/k', b, { accessKeyId: 'A', secretAccessKey: 's2' }, t);
  assert.equal(a.authorization, sign('s1', 'bytes=0-9'));
  assert.equal(b.authorization, sign('s2', 'bytes=0-9'));
});
