/**
 * The dataset under an S3 prefix (--out s3://bucket/prefix). An S3 object becomes visible only once its
 * upload completes, so every write is atomic without a temporary name.
 */
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { OutputStore } from './output-store.js';
import { httpStatusOf, withRetry, type RetryOptions } from './retry.js';
import { s3Error } from './s3-client.js';
import { folderPrefix, formatS3Url, joinKey, relativeKeySegments, s3UrlText, toS3Url, type S3Url } from './s3-url.js';

export interface S3OutputOptions {
  /** Multipart part size for large files (default 8 MiB; S3's minimum is 5 MiB). */
  partSize?: number;
  /** Parts uploaded at once for one file (default 4). */
  queueSize?: number;
  /**
   * sweepTemporaries() aborts only multipart uploads started at least this long ago (default 1 hour), so
   * a run never aborts the upload in flight of another machine writing the same --out.
   */
  sweepMinAgeMs?: number;
  retry?: RetryOptions;
}

const MiB = 1024 * 1024;

export class S3OutputStore implements OutputStore {
  readonly root: string;
  readonly bucket: string;
  readonly prefix: string;

  constructor(
    private readonly client: S3Client,
    url: string | S3Url,
    private readonly opts: S3OutputOptions = {},
  ) {
    const u = toS3Url(url);
    this.bucket = u.bucket;
    this.prefix = u.prefix;
    this.root = s3UrlText(u);
  }

  /**
   * The object key of a relative path under the prefix. Absolute paths, empty segments, '.', '..' and NULs
   * throw, so no key can land outside the prefix.
   */
  keyOf(relPath: string): string {
    return joinKey(this.prefix, ...relativeKeySegments(relPath));
  }

  /** `s3://bucket/prefix/relPath`. */
  location(relPath: string): string {
    return formatS3Url(this.bucket, this.keyOf(relPath));
  }

  /**
   * Uploads `bytes` to the key of `relPath` with lib-storage's Upload (one PutObject, or a multipart upload
   * for files over the part size, aborted if it fails); retried as a whole on throttling, 5xx and network
   * errors. When the promise resolves the object is complete and visible.
   */
  async writeAtomic(relPath: string, bytes: Uint8Array): Promise<void> {
    const key = this.keyOf(relPath);
    try {
      await withRetry(
        `upload ${formatS3Url(this.bucket, key)}`,
        async () => {
          const upload = new Upload({
            client: this.client,
            params: { Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.byteLength, ContentType: contentTypeOf(key) },
            partSize: Math.max(5 * MiB, this.opts.partSize ?? 8 * MiB),
            queueSize: this.opts.queueSize ?? 4,
            leavePartsOnError: false,
          });
          await upload.done();
        },
        this.opts.retry,
      );
    } catch (err) {
      throw s3Error(err, { client: this.client, bucket: this.bucket, key, operation: 'Upload' });
    }
  }

  /**
   * Aborts incomplete multipart uploads under the prefix older than sweepMinAgeMs (a killed run's parts,
   * which cost storage but are never visible as objects) and returns how many. A server without
   * ListMultipartUploads (s3rver answers 501) or a user without the permission to list them gets 0.
   */
  async sweepTemporaries(): Promise<number> {
    const prefix = folderPrefix(this.prefix);
    const minAge = this.opts.sweepMinAgeMs ?? 3_600_000;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    let aborted = 0;
    for (;;) {
      let page;
      try {
        page = await withRetry(
          `list uploads ${formatS3Url(this.bucket, prefix)}`,
          () =>
            this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker })),
          this.opts.retry,
        );
      } catch (err) {
        const status = httpStatusOf(err);
        if (status === 501 || status === 403 || (err as { name?: string }).name === 'NotImplemented') return aborted;
        throw s3Error(err, { client: this.client, bucket: this.bucket, key: prefix, operation: 'ListMultipartUploads' });
      }
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId || !u.Key.startsWith(prefix)) continue;
        if (u.Initiated && Date.now() - u.Initiated.getTime() < minAge) continue;
        try {
          await withRetry(
            `abort upload ${formatS3Url(this.bucket, u.Key)}`,
            () => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId })),
            this.opts.retry,
          );
          aborted += 1;
        } catch (err) {
          if (httpStatusOf(err) === 404) continue; // already completed or aborted by its own run
          throw s3Error(err, { client: this.client, bucket: this.bucket, key: u.Key, operation: 'AbortMultipartUpload' });
        }
      }
      if (!page.IsTruncated) return aborted;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
      if (!keyMarker && !uploadIdMarker) return aborted;
    }
  }
}

function contentTypeOf(key: string): string {
  if (key.endsWith('.parquet')) return 'application/vnd.apache.parquet';
  if (key.endsWith('.json') || key.endsWith('.jsonl')) return 'application/json';
  return 'application/octet-stream';
}
