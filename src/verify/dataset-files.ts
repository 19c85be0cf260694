/**
 * The files of a dataset as verify sees them: every file under --out (a folder or an S3 prefix) but the
 * tool's own `_desi-qad/`, with its size, and a ranged reader over one of them. Unlike the OutputStore's
 * listing, temporaries and other names are listed too, since telling them apart is verify's job; and a
 * file is read by ranges (its footer only) on both sides, never whole unless asked (--deep).
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { ByteSource } from '../fits/source.js';
import { LocalFileSource } from '../storage/local.js';
import { withRetry, type RetryOptions } from '../storage/retry.js';
import { checkListing } from '../storage/s3-answer.js';
import { s3Error } from '../storage/s3-client.js';
import { normalizeEtag, S3ObjectSource } from '../storage/s3-source.js';
import { folderPrefix, formatS3Url, joinKey, parseS3Url, relativeKeySegments, s3UrlText } from '../storage/s3-url.js';

/** The tool's own folder inside --out (manifest, journal, heartbeats, claims, plan): never a dataset file. */
export const TOOL_DIR = '_desi-qad';

/** One listed file: its size, and on S3 its ETag (reads are pinned to it). */
export interface ListedFile {
  size: number;
  etag?: string;
}

/** A file opened for ranged reads; close it when done. */
export interface OpenedFile extends ByteSource {
  close(): Promise<void>;
}

export interface DatasetFiles {
  /** --out as messages show it (an absolute folder or s3://bucket/prefix). */
  readonly root: string;
  /** Every file under the root but `_desi-qad/`: relative path with '/' → what the listing said. */
  list(): Promise<Map<string, ListedFile>>;
  /** A listed file, for ranged reads of at most its listed size. */
  open(rel: string, listed: ListedFile): Promise<OpenedFile>;
}

/** The folder does not exist or is not one: --out cannot be read (exit 4). */
export class DatasetUnreadableError extends Error {
  override name = 'DatasetUnreadableError';
}

/** A dataset in a local folder. */
export class LocalDatasetFiles implements DatasetFiles {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async list(): Promise<Map<string, ListedFile>> {
    let isDir: boolean;
    try {
      isDir = (await stat(this.root)).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new DatasetUnreadableError(`--out ${this.root}: ${code === 'ENOENT' ? 'the folder does not exist' : `cannot be read (${code ?? String(err)})`}`);
    }
    if (!isDir) throw new DatasetUnreadableError(`--out ${this.root}: not a folder`);
    const files = new Map<string, ListedFile>();
    const walk = async (dir: string, rel: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const r = rel === '' ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) {
          if (r !== TOOL_DIR) await walk(join(dir, e.name), r);
        } else if (e.isFile()) {
          try {
            files.set(r, { size: (await stat(join(dir, e.name))).size });
          } catch {
            // removed meanwhile (a live run renamed its temporary into place)
          }
        }
      }
    };
    await walk(this.root, '');
    return files;
  }

  async open(rel: string): Promise<OpenedFile> {
    return LocalFileSource.open(join(this.root, ...rel.split('/')));
  }
}

/** A dataset under an S3 prefix: one LIST (paged) for the listing, ranged GETs pinned to the listed ETag. */
export class S3DatasetFiles implements DatasetFiles {
  readonly root: string;
  readonly bucket: string;
  readonly prefix: string;

  constructor(
    private readonly client: S3Client,
    url: string,
    private readonly retry: RetryOptions = {},
  ) {
    const u = parseS3Url(url);
    this.bucket = u.bucket;
    this.prefix = u.prefix;
    this.root = s3UrlText(u);
  }

  async list(): Promise<Map<string, ListedFile>> {
    const folder = folderPrefix(this.prefix);
    const files = new Map<string, ListedFile>();
    let token: string | undefined;
    do {
      let page;
      try {
        page = await withRetry(
          `list ${formatS3Url(this.bucket, folder)}`,
          async () => {
            const p = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: folder, ContinuationToken: token }));
            checkListing(p, `ListObjectsV2 ${formatS3Url(this.bucket, folder)}`);
            return p;
          },
          this.retry,
        );
      } catch (err) {
        throw s3Error(err, { client: this.client, bucket: this.bucket, key: folder, operation: 'ListObjectsV2' });
      }
      for (const o of page.Contents ?? []) {
        if (!o.Key?.startsWith(folder)) continue;
        const rel = o.Key.slice(folder.length);
        if (rel === '' || rel.startsWith(`${TOOL_DIR}/`)) continue;
        const etag = normalizeEtag(o.ETag);
        files.set(rel, etag !== undefined ? { size: o.Size ?? 0, etag } : { size: o.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return files;
  }

  async open(rel: string, listed: ListedFile): Promise<OpenedFile> {
    const key = joinKey(this.prefix, ...relativeKeySegments(rel));
    return new S3ObjectSource(this.client, this.bucket, key, listed.size, listed.etag, { retry: this.retry });
  }
}
