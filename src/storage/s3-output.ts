/**
 * The dataset under an S3 prefix (--out s3://bucket/prefix). An S3 object becomes visible only once its
 * upload completes, so every write is atomic without a temporary name; a write resolves only once a HEAD
 * of the key confirms the size and ETag the upload reported. Incomplete multipart uploads of killed runs
 * are swept, but only the tool's own (dataset files and `_desi-qad/`), only old ones, and only for tiles
 * that no live run holds.
 */
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type HeadObjectCommandOutput,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { parseOutputPath } from '../desi/output-path.js';
import { tileKey } from '../desi/layout.js';
import type { OutputStore, TemporaryOwners, WrittenFile } from './output-store.js';
import { httpStatusOf, withRetry, type RetryOptions } from './retry.js';
import { TEMP_MARK } from './output-local.js';
import { newRunId } from './run-id.js';
import { mapLimit } from '../util/concurrency.js';
import { checkListing, checkWriteAnswer, NotS3AnswerError } from './s3-answer.js';
import { S3Error, s3Error } from './s3-client.js';
import { folderPrefix, formatS3Url, joinKey, relativeKeySegments, s3UrlText, toS3Url, type S3Url } from './s3-url.js';

export interface S3OutputOptions {
  /** Multipart part size for large files (default 8 MiB; S3's minimum is 5 MiB). */
  partSize?: number;
  /** Parts uploaded at once for one file (default 4). */
  queueSize?: number;
  /**
   * sweepTemporaries() aborts only multipart uploads started at least this long ago (default 10 minutes),
   * so a run never aborts an upload that was started a moment ago, before its claim could be seen.
   */
  sweepMinAgeMs?: number;
  /** The run that writes through this store, stored as the objects' `x-amz-meta-desi-qad-run` (default: a fresh run id). */
  run?: string;
  /** MaxKeys of each LIST page of listFiles() (default: the server's, 1000 on S3). */
  maxKeys?: number;
  /** Listings of listFiles() in flight (default LIST_CONCURRENCY). */
  listConcurrency?: number;
  retry?: RetryOptions;
}

const MiB = 1024 * 1024;

/** Multipart uploads younger than this are never aborted by the sweep. */
export const SWEEP_MIN_AGE_MS = 600_000;

/** Listings of listFiles() in flight by default. */
export const LIST_CONCURRENCY = 8;
/** listFiles() reads folders with Delimiter '/' this many levels down (`{survey}/{program}/`), then lists each flat. */
export const LIST_SPLIT_DEPTH = 2;
/** A folder with more subfolders than this is listed flat as a whole, not one LIST per subfolder. */
export const LIST_FANOUT = 64;

/** The folder of the tool's own records under the prefix (journal, heartbeats, claims). */
const TOOL_DIR = '_desi-qad/';

export class S3OutputStore implements OutputStore {
  readonly root: string;
  readonly bucket: string;
  readonly prefix: string;
  /** The run named in the metadata of what this store uploads. */
  readonly run: string;
  /** LIST requests made by listFiles() and listFilesFlat(). */
  readonly stats = { listRequests: 0 };

  constructor(
    private readonly client: S3Client,
    url: string | S3Url,
    private readonly opts: S3OutputOptions = {},
  ) {
    const u = toS3Url(url);
    this.bucket = u.bucket;
    this.prefix = u.prefix;
    this.root = s3UrlText(u);
    this.run = opts.run ?? newRunId();
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
   * errors. Then confirms it: the upload's answer must carry an ETag, and a HEAD of the key must report the
   * same ETag and `bytes.byteLength`; otherwise a fatal S3Error (an endpoint that answers 200 to anything,
   * a proxy page, has stored nothing). When the promise resolves the object is complete and visible.
   */
  async writeAtomic(relPath: string, bytes: Uint8Array): Promise<WrittenFile> {
    const key = this.keyOf(relPath);
    const url = formatS3Url(this.bucket, key);
    let etag: string;
    try {
      etag = await withRetry(
        `upload ${url}`,
        async () => {
          const upload = new Upload({
            client: this.client,
            params: {
              Bucket: this.bucket,
              Key: key,
              Body: bytes,
              ContentLength: bytes.byteLength,
              ContentType: contentTypeOf(key),
              Metadata: { 'desi-qad-run': this.run },
            },
            partSize: Math.max(5 * MiB, this.opts.partSize ?? 8 * MiB),
            queueSize: this.opts.queueSize ?? 4,
            leavePartsOnError: false,
          });
          return checkWriteAnswer(await upload.done(), `upload ${url}`);
        },
        this.opts.retry,
      );
    } catch (err) {
      if (err instanceof NotS3AnswerError) throw this.notConfirmed(key, 'the upload was answered without an ETag (not an S3 answer: a proxy or portal page?)');
      throw s3Error(err, { client: this.client, bucket: this.bucket, key, operation: 'Upload' });
    }
    let head: HeadObjectCommandOutput;
    try {
      head = await withRetry(`confirm ${url}`, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })), this.opts.retry);
    } catch (err) {
      if (httpStatusOf(err) === 404) throw this.notConfirmed(key, `HEAD found no object at the key after the upload answered ETag ${etag}`);
      throw s3Error(err, { client: this.client, bucket: this.bucket, key, operation: 'HeadObject (confirming the upload)' });
    }
    if (head.ContentLength !== bytes.byteLength || head.ETag === undefined || bareEtag(head.ETag) !== bareEtag(etag)) {
      throw this.notConfirmed(
        key,
        `HEAD said ContentLength ${String(head.ContentLength)}, ETag ${String(head.ETag)}; the upload sent ${bytes.byteLength} bytes and was answered ETag ${etag}`,
      );
    }
    return { size: bytes.byteLength, etag };
  }

  /**
   * One PutObject with If-None-Match: * (a small file: no multipart upload); 412 means an object is there.
   * A server that ignores the condition (s3rver, older S3-compatible stores) overwrites instead and answers
   * created, which is why callers read the object back. A created object is confirmed as writeAtomic does.
   */
  async writeOnce(relPath: string, bytes: Uint8Array): Promise<{ created: boolean }> {
    const key = this.keyOf(relPath);
    const url = formatS3Url(this.bucket, key);
    let etag: string;
    try {
      etag = await withRetry(
        `put ${url}`,
        async () => {
          for (let attempt = 1; ; attempt++) {
            try {
              const answer = await this.client.send(
                new PutObjectCommand({
                  Bucket: this.bucket,
                  Key: key,
                  Body: bytes,
                  ContentLength: bytes.byteLength,
                  ContentType: contentTypeOf(key),
                  Metadata: { 'desi-qad-run': this.run },
                  IfNoneMatch: '*',
                }),
              );
              return checkWriteAnswer(answer, `put ${url}`);
            } catch (err) {
              // 409: a conditional write raced another; S3 asks to retry it.
              if (httpStatusOf(err) === 409 && attempt < 5) continue;
              throw err;
            }
          }
        },
        this.opts.retry,
      );
    } catch (err) {
      if (httpStatusOf(err) === 412) return { created: false };
      if (err instanceof NotS3AnswerError) throw this.notConfirmed(key, 'the upload was answered without an ETag (not an S3 answer: a proxy or portal page?)');
      throw s3Error(err, { client: this.client, bucket: this.bucket, key, operation: 'PutObject' });
    }
    let head: HeadObjectCommandOutput;
    try {
      head = await withRetry(`confirm ${url}`, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })), this.opts.retry);
    } catch (err) {
      if (httpStatusOf(err) === 404) throw this.notConfirmed(key, `HEAD found no object at the key after the upload answered ETag ${etag}`);
      throw s3Error(err, { client: this.client, bucket: this.bucket, key, operation: 'HeadObject (confirming the upload)' });
    }
    if (head.ContentLength !== bytes.byteLength || head.ETag === undefined || bareEtag(head.ETag) !== bareEtag(etag)) {
      // Another writer's object (a server without conditional writes): it is there, whoever made it.
      return { created: false };
    }
    return { created: true };
  }

  async remove(relPath: string): Promise<void> {
    const key = this.keyOf(relPath);
    try {
      // DeleteObject of a key that is not there answers 204 as well.
      await withRetry(
        `delete ${formatS3Url(this.bucket, key)}`,
        () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })),
        this.opts.retry,
      );
    } catch (err) {
      if (httpStatusOf(err) === 404) return;
      throw s3Error(err, { client: this.client, bucket: this.bucket, key, operation: 'DeleteObject' });
    }
  }

  /** The whole object at `relPath` (a small file of the dataset's own, e.g. the plan); undefined on 404. */
  async readFile(relPath: string): Promise<Uint8Array | undefined> {
    const key = this.keyOf(relPath);
    try {
      return await withRetry(
        `get ${formatS3Url(this.bucket, key)}`,
        async () => {
          const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
          return r.Body ? await r.Body.transformToByteArray() : new Uint8Array(0);
        },
        this.opts.retry,
      );
    } catch (err) {
      if (httpStatusOf(err) === 404) return undefined;
      throw s3Error(err, { client: this.client, bucket: this.bucket, key, operation: 'GetObject' });
    }
  }

  /**
   * Every dataset `.parquet` file under the prefix (relative path → size), from LIST pages, several listings
   * in flight once the dataset is longer than a page or two. The prefix's folders are found (listLevel: one one-key LIST per folder) down to
   * LIST_SPLIT_DEPTH levels (the dataset's `{survey}/{program}/`), then each folder found there is listed
   * flat, up to `listConcurrency` at a time, instead of one sequential walk of every page under the prefix.
   * Every dataset key is still listed by some listing: the files found beside the subfolders are kept, and
   * every subfolder is either listed itself or split again. A folder with more
   * than LIST_FANOUT subfolders (the tile layout's `cumulative/{TILEID}/`) is listed flat as a whole rather
   * than one LIST per subfolder. The tool's own `_desi-qad/` is never listed: a journal holds a record per
   * tile and run, so listing it too would make resume's LIST at least twice as long as the dataset.
   */
  async listFiles(): Promise<Map<string, number>> {
    const folder = folderPrefix(this.prefix);
    const files = new Map<string, number>();
    // First one page of the flat walk on each side of the tool's folder: a dataset that fits is listed in
    // one or two LISTs, as before; a longer one is split (those pages' files are listed again, the same).
    const first = await this.listDataset(folder, undefined, folder + TOOL_DIR, files, 1);
    if (first === false) return files;
    if (first === true && (await this.listDataset(folder, folder + TOOL_DIR.slice(0, -1) + '0', undefined, files, 1)) === false) return files;
    const root = await this.listLevel(folder, files);
    if (root === undefined) return this.listFilesFlat();
    let level = root;
    const leaves: string[] = [];
    const limit = this.opts.listConcurrency ?? LIST_CONCURRENCY;
    for (let depth = 1; depth < LIST_SPLIT_DEPTH && level.length > 0; depth++) {
      const next: string[][] = await mapLimit(level, limit, async (p) => {
        const children = await this.listLevel(p, files);
        if (children !== undefined) return children;
        leaves.push(p);
        return [];
      });
      level = next.flat();
    }
    leaves.push(...level);
    await mapLimit(leaves, limit, async (p) => {
      await this.listDataset(p, undefined, undefined, files);
    });
    return files;
  }

  /**
   * The same set from one sequential walk of every page under the prefix (what listFiles did before it
   * split the listing; kept for prefixes too wide to split, and as the tests' reference). The keys of the
   * tool's own folder are not listed: one listing runs up to `_desi-qad/`, a second starts after it (keys
   * sort by their bytes, and every key under `_desi-qad/` sorts before `_desi-qad0`).
   */
  async listFilesFlat(): Promise<Map<string, number>> {
    const folder = folderPrefix(this.prefix);
    const toolStart = folder + TOOL_DIR;
    const files = new Map<string, number>();
    const reachedTool = await this.listDataset(folder, undefined, toolStart, files);
    if (reachedTool) await this.listDataset(folder, folder + TOOL_DIR.slice(0, -1) + '0', undefined, files);
    return files;
  }

  /**
   * The subfolders of folder `prefix`, found without Delimiter (s3rver answers Delimiter '/' without the
   * folders that hold only folders): a one-key LIST names the first key; if it is in a subfolder F/, the
   * next LIST starts after `F0` ('/' + 1, so past every key under F/; the one key `F0` itself, which ends in
   * '0' and so is no dataset file, is passed over), else it is a file directly in `prefix`, added to `files`.
   * Undefined once more than LIST_FANOUT entries are found (the caller lists the folder flat instead; the
   * files added so far are listed again then, to the same entries).
   */
  private async listLevel(prefix: string, files: Map<string, number>): Promise<string[] | undefined> {
    const folders: string[] = [];
    let after: string | undefined;
    for (let n = 0; n <= LIST_FANOUT; n++) {
      const page = await this.listPage(prefix, { startAfter: after, maxKeys: 1 });
      const o = page.Contents?.[0];
      // No key: the folder ends here (unless the page says it is truncated: then it is listed flat).
      if (o?.Key === undefined) return page.IsTruncated ? undefined : folders;
      // A key outside the prefix or not after StartAfter: a server that does not honour them; listed flat.
      if (!o.Key.startsWith(prefix) || (after !== undefined && o.Key <= after)) return undefined;
      const slash = o.Key.indexOf('/', prefix.length);
      if (slash < 0) {
        this.addListed(o, files);
        after = o.Key;
        continue;
      }
      const folder = o.Key.slice(0, slash + 1);
      if (folder !== folderPrefix(this.prefix) + TOOL_DIR) folders.push(folder);
      after = folder.slice(0, -1) + '0';
    }
    return undefined;
  }

  /** Adds a listed object to `files` when it is a dataset file: under the prefix, not the tool's, a `.parquet`, not a temporary. */
  private addListed(o: { Key?: string; Size?: number }, files: Map<string, number>): void {
    const folder = folderPrefix(this.prefix);
    if (!o.Key?.startsWith(folder)) return;
    const rel = o.Key.slice(folder.length);
    if (rel.startsWith(TOOL_DIR) || !rel.endsWith('.parquet') || (rel.split('/').pop() ?? '').startsWith(TEMP_MARK)) return;
    files.set(rel, o.Size ?? 0);
  }

  /** One ListObjectsV2 page of `prefix`, with retries; counted in `stats.listRequests`. */
  private async listPage(prefix: string, o: { token?: string; startAfter?: string; maxKeys?: number }): Promise<ListObjectsV2CommandOutput> {
    try {
      return await withRetry(
        `list ${formatS3Url(this.bucket, prefix)}`,
        async () => {
          this.stats.listRequests += 1;
          const p = await this.client.send(
            new ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: prefix,
              MaxKeys: o.maxKeys ?? this.opts.maxKeys,
              ContinuationToken: o.token,
              StartAfter: o.token === undefined ? o.startAfter : undefined,
            }),
          );
          checkListing(p, `ListObjectsV2 ${formatS3Url(this.bucket, prefix)}`);
          return p;
        },
        this.opts.retry,
      );
    } catch (err) {
      throw s3Error(err, { client: this.client, bucket: this.bucket, key: prefix, operation: 'ListObjectsV2' });
    }
  }

  /** The continuation token of a page; a truncated page without one is an error (resume would miss files and redo them silently). */
  private nextToken(page: ListObjectsV2CommandOutput, prefix: string): string | undefined {
    if (!page.IsTruncated) return undefined;
    if (!page.NextContinuationToken)
      throw new S3Error(
        `${formatS3Url(this.bucket, prefix)}: ListObjectsV2 said the listing is truncated but gave no continuation token`,
        this.bucket,
        prefix,
        'ListObjectsV2',
        undefined,
        undefined,
        false,
      );
    return page.NextContinuationToken;
  }

  /**
   * Lists `folder` (no delimiter) from after `startAfter`, adding dataset files to `files`, until the listing
   * ends or (with `stopAt`) a page reaches a key at or past `stopAt`; says whether it stopped there with keys
   * left to list.
   */
  private async listDataset(
    folder: string,
    startAfter: string | undefined,
    stopAt: string | undefined,
    files: Map<string, number>,
    maxPages = Infinity,
  ): Promise<boolean | 'more'> {
    let token: string | undefined;
    for (let pages = 0; ; pages++) {
      if (pages >= maxPages) return 'more';
      const page = await this.listPage(folder, { token, startAfter });
      let reached = false;
      for (const o of page.Contents ?? []) {
        if (!o.Key?.startsWith(folder)) continue;
        if (stopAt !== undefined && o.Key >= stopAt) reached = true;
        this.addListed(o, files);
      }
      // A page that ends the listing held every key after the tool's folder too.
      if (reached) return page.IsTruncated === true;
      token = this.nextToken(page, folder);
      if (!token) return false;
    }
  }

  /**
   * Aborts incomplete multipart uploads that a killed run left (their parts cost storage but are never
   * visible as objects) and returns how many. Only the tool's own keys under the prefix: a dataset file
   * (parseOutputPath) whose tile no live run holds (owners.heldByOther: a tile is uploaded only while its run
   * holds its claim), or a key under `_desi-qad/`; and only uploads initiated over sweepMinAgeMs (10 min)
   * ago. Other tools' uploads under the same prefix or bucket are never touched. A server without
   * ListMultipartUploads (s3rver answers 501) or a user without the permission to list them gets 0.
   */
  async sweepTemporaries(owners: TemporaryOwners): Promise<number> {
    const prefix = folderPrefix(this.prefix);
    const minAge = this.opts.sweepMinAgeMs ?? SWEEP_MIN_AGE_MS;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    let aborted = 0;
    for (;;) {
      let page;
      try {
        page = await withRetry(
          `list uploads ${formatS3Url(this.bucket, prefix)}`,
          async () => {
            const p = await this.client.send(
              new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
            );
            checkListing(p, `ListMultipartUploads ${formatS3Url(this.bucket, prefix)}`);
            return p;
          },
          this.opts.retry,
        );
      } catch (err) {
        const status = httpStatusOf(err);
        if (status === 501 || status === 403 || (err as { name?: string }).name === 'NotImplemented') return aborted;
        throw s3Error(err, { client: this.client, bucket: this.bucket, key: prefix, operation: 'ListMultipartUploads' });
      }
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId || !u.Key.startsWith(prefix)) continue;
        if (!u.Initiated || Date.now() - u.Initiated.getTime() < minAge) continue;
        const rel = u.Key.slice(prefix.length);
        if (!rel.startsWith(TOOL_DIR)) {
          const tile = parseOutputPath(rel);
          if (tile === undefined) continue; // not the tool's
          if (await owners.heldByOther(tileKey(tile))) continue; // a live run is writing it
        }
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

  /** The fatal error of an upload that cannot be confirmed. */
  private notConfirmed(key: string, what: string): S3Error {
    const url = formatS3Url(this.bucket, key);
    return new S3Error(`${url}: the upload was not confirmed: ${what}`, this.bucket, key, 'Upload', undefined, 'UploadNotConfirmed', true);
  }
}

/** An ETag without its quotes and weak marker, for comparing what two answers said. */
function bareEtag(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}

function contentTypeOf(key: string): string {
  if (key.endsWith('.parquet')) return 'application/vnd.apache.parquet';
  if (key.endsWith('.json') || key.endsWith('.jsonl')) return 'application/json';
  return 'application/octet-stream';
}
