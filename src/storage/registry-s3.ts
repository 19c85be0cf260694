/**
 * The run registry under an S3 prefix: `{prefix}/_desi-qad/runs/{run}.json` heartbeats and
 * `{prefix}/_desi-qad/claims/{tile}/{run}` claims, each a small object. PutObject replaces an object whole,
 * and S3 has been strongly consistent for writes, deletes and listings since December 2020, which the claim
 * protocol needs (run-registry.ts). Every request goes through withRetry; a LIST page or PUT answer that is
 * not S3's (a proxy's 200 page) is refused by checkListing/checkWriteAnswer.
 */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { httpStatusOf, withRetry, type RetryOptions } from './retry.js';
import { checkListing, checkWriteAnswer } from './s3-answer.js';
import { s3Error } from './s3-client.js';
import { folderPrefix, formatS3Url, joinKey, toS3Url, type S3Url } from './s3-url.js';
import { BaseRegistry, CLAIMS_REL, isRunInfo, RUNS_REL, type HeartbeatRead, type RegistryBackend, type RegistryOptions, type RunInfo } from './run-registry.js';
import { isRunId } from './run-id.js';

export interface S3RegistryOptions extends RegistryOptions {
  retry?: RetryOptions;
}

/** The registry's objects under `{prefix}/_desi-qad/`. */
export class S3RegistryBackend implements RegistryBackend {
  readonly location: string;
  readonly bucket: string;
  private readonly runsKey: string;
  private readonly claimsKey: string;

  constructor(
    private readonly client: S3Client,
    out: string | S3Url,
    private readonly retry?: RetryOptions,
  ) {
    const u = toS3Url(out);
    this.bucket = u.bucket;
    this.runsKey = joinKey(u.prefix, RUNS_REL);
    this.claimsKey = joinKey(u.prefix, CLAIMS_REL);
    this.location = formatS3Url(u.bucket, folderPrefix(joinKey(u.prefix, '_desi-qad')));
  }

  async putHeartbeat(info: RunInfo): Promise<void> {
    await this.put(this.heartbeatKey(info.run), JSON.stringify(info) + '\n', 'heartbeat PutObject');
  }

  async getHeartbeat(run: string): Promise<HeartbeatRead | undefined> {
    const key = this.heartbeatKey(run);
    let got: { text: string; modified?: Date } | undefined;
    try {
      got = await withRetry(
        `GetObject ${formatS3Url(this.bucket, key)}`,
        async () => {
          const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
          return { text: r.Body ? await r.Body.transformToString('utf8') : '', modified: r.LastModified };
        },
        this.retry,
      );
    } catch (err) {
      if (isNoSuchKey(err)) return undefined;
      throw s3Error(err, { client: this.client, bucket: this.bucket, key, operation: 'heartbeat GetObject' });
    }
    try {
      const v: unknown = JSON.parse(got.text);
      if (isRunInfo(v)) return { info: v };
    } catch {
      // falls through: an object that is not a record
    }
    return { modified: got.modified };
  }

  async listHeartbeats(): Promise<RunInfo[]> {
    const folder = folderPrefix(this.runsKey);
    const runs: string[] = [];
    for (const name of await this.listNames(folder, 'heartbeats ListObjectsV2')) {
      if (name.endsWith('.json') && isRunId(name.slice(0, -'.json'.length))) runs.push(name.slice(0, -'.json'.length));
    }
    const infos: RunInfo[] = [];
    for (const run of runs) {
      const read = await this.getHeartbeat(run);
      if (read?.info) infos.push(read.info);
    }
    return infos;
  }

  async removeHeartbeat(run: string): Promise<void> {
    await this.remove(this.heartbeatKey(run), 'heartbeat DeleteObject');
  }

  async putClaim(tileName: string, run: string, body: string): Promise<void> {
    await this.put(joinKey(this.claimsKey, tileName, run), body, 'claim PutObject');
  }

  async listClaims(tileName: string): Promise<string[]> {
    const folder = folderPrefix(joinKey(this.claimsKey, tileName));
    return (await this.listNames(folder, 'claims ListObjectsV2')).filter(isRunId);
  }

  /** The names directly under `folder` (every page of the listing). */
  private async listNames(folder: string, operation: string): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await withRetry(
          `ListObjectsV2 ${formatS3Url(this.bucket, folder)}`,
          async () => {
            const p = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: folder, ContinuationToken: token }));
            checkListing(p, `${operation} ${formatS3Url(this.bucket, folder)}`);
            return p;
          },
          this.retry,
        );
      } catch (err) {
        throw s3Error(err, { client: this.client, bucket: this.bucket, key: folder, operation });
      }
      for (const o of page.Contents ?? []) {
        const name = o.Key?.startsWith(folder) ? o.Key.slice(folder.length) : undefined;
        if (name !== undefined && name !== '' && !name.includes('/')) names.push(name);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return names;
  }

  async removeClaim(tileName: string, run: string): Promise<void> {
    await this.remove(joinKey(this.claimsKey, tileName, run), 'claim DeleteObject');
  }

  private heartbeatKey(run: string): string {
    return joinKey(this.runsKey, `${run}.json`);
  }

  private async put(key: string, body: string, operation: string): Promise<void> {
    try {
      await withRetry(
        `${operation} ${formatS3Url(this.bucket, key)}`,
        async () => {
          const answer = await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json' }));
          checkWriteAnswer(answer, `${operation} ${formatS3Url(this.bucket, key)}`);
        },
        this.retry,
      );
    } catch (err) {
      throw s3Error(err, { client: this.client, bucket: this.bucket, key, operation });
    }
  }

  private async remove(key: string, operation: string): Promise<void> {
    try {
      await withRetry(
        `${operation} ${formatS3Url(this.bucket, key)}`,
        () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })),
        this.retry,
      );
    } catch (err) {
      if (isNoSuchKey(err)) return;
      throw s3Error(err, { client: this.client, bucket: this.bucket, key, operation });
    }
  }
}

/** The registry of an S3 --out (see run-registry.ts for the protocol). */
export class S3Registry extends BaseRegistry {
  constructor(client: S3Client, out: string | S3Url, run: string, opts: S3RegistryOptions = {}) {
    super(new S3RegistryBackend(client, out, opts.retry), run, opts);
  }
}

/** A 404 about the object (NoSuchKey, or a HEAD-like 404 without a code), not about the bucket. */
function isNoSuchKey(err: unknown): boolean {
  const e = err as { name?: string; Code?: string } | undefined;
  if (e?.name === 'NoSuchBucket' || e?.Code === 'NoSuchBucket') return false;
  return httpStatusOf(err) === 404 || e?.name === 'NoSuchKey' || e?.Code === 'NoSuchKey';
}
