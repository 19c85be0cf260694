/**
 * DESI's tile-based cumulative coadds under an S3 prefix (a production's `tiles/cumulative`):
 * `{prefix}/{TILEID}/{LASTNIGHT}/coadd-{PETAL}-{TILEID}-thru{LASTNIGHT}.fits`. Discovery lists the prefix
 * with a delimiter for its TILEID folders, then each TILEID folder (all its nights) without one, up to
 * listConcurrency at a time; cumulative-units.ts picks the latest LASTNIGHT. `ObjectRef.path` is the key.
 */
import { ListObjectsV2Command, type ListObjectsV2CommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { isTileidText } from '../desi/cumulative.js';
import type { ObjectRef, TileRef } from '../desi/tile.js';
import { mapLimit } from '../util/concurrency.js';
import { allowManyListeners, isAbort } from './abort.js';
import { unitsOfTile, type CumulativeEntry } from './cumulative-units.js';
import { withRetry } from './retry.js';
import { S3Error, s3Error } from './s3-client.js';
import { checkListing } from './s3-answer.js';
import { normalizeEtag, S3ObjectSource, type S3SourceOptions } from './s3-source.js';
import type { S3ListStats, S3TileStoreOptions } from './s3-tree.js';
import { folderPrefix, formatS3Url, s3UrlText, toS3Url, type S3Url } from './s3-url.js';
import type { Discovery, OpenedObject, TileStore } from './tile-store.js';

export class S3CumulativeStore implements TileStore {
  readonly layout = 'tiles' as const;
  readonly root: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly stats: S3ListStats = { listRequests: 0, keys: 0 };

  constructor(
    private readonly client: S3Client,
    url: string | S3Url,
    private readonly opts: S3TileStoreOptions = {},
  ) {
    const u = toS3Url(url);
    this.bucket = u.bucket;
    this.prefix = u.prefix;
    this.root = s3UrlText(u);
  }

  /**
   * Lists the TILEID folders, then each one. A listing that still fails after retries throws (a hole in
   * discovery would look like a finished run); keys that do not fit the layout are problems. An empty prefix
   * is a problem too (the run then stops for want of tiles).
   */
  async discover(_filter?: unknown, signal?: AbortSignal): Promise<Discovery> {
    allowManyListeners(signal);
    const problems: string[] = [];
    let extra = 0;
    const maxProblems = this.opts.maxProblems ?? 100;
    const problem = (text: string) => {
      if (problems.length < maxProblems) problems.push(text);
      else extra += 1;
    };
    const root = folderPrefix(this.prefix);
    const tileids: number[] = [];
    let token: string | undefined;
    do {
      const page = await this.list(root, '/', token, signal);
      for (const p of page.CommonPrefixes ?? []) {
        const name = (p.Prefix ?? '').slice(root.length).replace(/\/$/, '');
        if (isTileidText(name)) tileids.push(Number(name));
        else problem(`${formatS3Url(this.bucket, p.Prefix ?? '')}: not a TILEID folder, skipped`);
      }
      for (const o of page.Contents ?? []) {
        const name = (o.Key ?? '').slice(root.length);
        if (!/^tiles-.*\.(csv|fits)$/.test(name)) problem(`${formatS3Url(this.bucket, o.Key ?? '')}: not inside a TILEID folder, skipped`);
      }
      token = this.next(page, root);
    } while (token);
    if (tileids.length === 0) problems.push(`${formatS3Url(this.bucket, root)}: no TILEID folders under this prefix`);
    tileids.sort((a, b) => a - b);
    const perTile = await mapLimit(tileids, this.opts.listConcurrency ?? 32, (tileid) => this.listTile(root, tileid, problem, signal));
    if (extra > 0) problems.push(`… and ${extra} more keys that do not fit the layout`);
    return { tiles: perTile.flat(), problems, unreadable: [] };
  }

  async open(ref: ObjectRef, signal?: AbortSignal): Promise<OpenedObject> {
    const source = this.opts.source;
    const counters = this.opts.retry?.counters;
    const opts: S3SourceOptions | undefined =
      counters === undefined || source?.retry?.counters !== undefined ? source : { ...source, retry: { ...source?.retry, counters } };
    return new S3ObjectSource(this.client, this.bucket, ref.path, ref.size, ref.etag, { ...opts, signal });
  }

  displayName(ref: ObjectRef): string {
    return formatS3Url(this.bucket, ref.path);
  }

  private async listTile(root: string, tileid: number, problem: (text: string) => void, signal?: AbortSignal): Promise<TileRef[]> {
    const folder = `${root}${tileid}/`;
    const entries: CumulativeEntry[] = [];
    let token: string | undefined;
    do {
      const page = await this.list(folder, undefined, token, signal);
      for (const obj of page.Contents ?? []) {
        const key = obj.Key;
        if (!key?.startsWith(folder)) continue;
        const rest = key.slice(folder.length);
        const slash = rest.indexOf('/');
        if (slash < 0) {
          problem(`${formatS3Url(this.bucket, key)}: not inside a LASTNIGHT folder, skipped`);
          continue;
        }
        const ref: ObjectRef = { path: key, size: obj.Size ?? 0 };
        const etag = normalizeEtag(obj.ETag);
        if (etag) ref.etag = etag;
        if (obj.LastModified) ref.mtimeMs = obj.LastModified.getTime();
        entries.push({ night: rest.slice(0, slash), file: rest.slice(slash + 1), ref });
      }
      token = this.next(page, folder);
    } while (token);
    return unitsOfTile(tileid, entries, (night, file) => formatS3Url(this.bucket, `${folder}${night}/${file ?? ''}`), problem);
  }

  private next(page: ListObjectsV2CommandOutput, folder: string): string | undefined {
    const token = page.IsTruncated ? page.NextContinuationToken : undefined;
    if (page.IsTruncated && !token)
      throw new S3Error(
        `${formatS3Url(this.bucket, folder)}: ListObjectsV2 said the listing is truncated but gave no continuation token`,
        this.bucket,
        folder,
        'ListObjectsV2',
        undefined,
        undefined,
        false,
      );
    return token;
  }

  private async list(prefix: string, delimiter: string | undefined, token: string | undefined, signal?: AbortSignal): Promise<ListObjectsV2CommandOutput> {
    const retry = { ...this.opts.retry, signal };
    try {
      return await withRetry(
        `list ${formatS3Url(this.bucket, prefix)}`,
        async () => {
          this.stats.listRequests += 1;
          const page = await this.client.send(
            new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, Delimiter: delimiter, MaxKeys: this.opts.maxKeys, ContinuationToken: token }),
            { abortSignal: signal },
          );
          checkListing(page, `ListObjectsV2 ${formatS3Url(this.bucket, prefix)}`);
          this.stats.keys += page.Contents?.length ?? 0;
          return page;
        },
        retry,
      );
    } catch (err) {
      if (isAbort(err)) throw err;
      throw s3Error(err, { client: this.client, bucket: this.bucket, key: prefix, operation: 'ListObjectsV2' });
    }
  }
}
