/**
 * A DESI healpix tree under an S3 prefix: `{prefix}/{survey}/{program}/{pixgroup}/{pixnum}/coadd-….fits`.
 */
import { AFTERBURNER_KINDS, afterburnerFileName } from '../desi/afterburners.js';
import { ListObjectsV2Command, type ListObjectsV2CommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { isCanonicalNumber, parseTileObjectKey, pixgroupDir, PIXGROUPS, tileKey } from '../desi/layout.js';
import type { ObjectRef, TileRef } from '../desi/tile.js';
import type { Discovery, DiscoveryFilter, OpenedObject, TileStore } from './tile-store.js';
import { mapLimit } from '../util/concurrency.js';
import { allowManyListeners, isAbort } from './abort.js';
import { withRetry, type RetryOptions } from './retry.js';
import { S3Error, s3Error } from './s3-client.js';
import { checkListing } from './s3-answer.js';
import { normalizeEtag, S3ObjectSource, type S3SourceOptions } from './s3-source.js';
import { folderPrefix, formatS3Url, joinKey, s3UrlText, toS3Url, type S3Url } from './s3-url.js';

/** Pixgroups of nside 64 (0..491): discovery lists each one's folder. */
export { PIXGROUPS };

export interface S3TileStoreOptions {
  /** Listings in flight during discovery (default 32). */
  listConcurrency?: number;
  /** MaxKeys of each ListObjectsV2 page (default: the server's, 1000 on S3); tests set it small. */
  maxKeys?: number;
  /** Problems reported in full before the rest are only counted (default 100). */
  maxProblems?: number;
  /** Retries of listings; `retry.counters` (the run's) also counts the reads of opened objects unless `source.retry` names its own. */
  retry?: RetryOptions;
  /** Options of the objects open() returns (part size, stall timeout, retries). */
  source?: S3SourceOptions;
}

/** Requests made by discovery, for the run log. */
export interface S3ListStats {
  listRequests: number;
  keys: number;
}

/**
 * Tiles stored in S3 the way DESI lays out its healpix tree. Discovery lists each `{prefix}/{survey}/{program}/`
 * in one page when it fits, else each `{prefix}/{survey}/{program}/{pixgroup}/`, without a delimiter (s3rver
 * answers a delimited listing without the folders that hold only folders), up to listConcurrency at a time, and
 * pairs each tile's coadd and redrock with their size and ETag (unquoted); `ObjectRef.path` is the object key.
 */
export class S3TileStore implements TileStore {
  readonly root: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly stats: S3ListStats = { listRequests: 0, keys: 0 };

  constructor(
    protected readonly client: S3Client,
    url: string | S3Url,
    protected readonly opts: S3TileStoreOptions = {},
  ) {
    const u = toS3Url(url);
    this.bucket = u.bucket;
    this.prefix = u.prefix;
    this.root = s3UrlText(u);
  }

  /**
   * Lists the surveys and programs asked for. A first one-key listing of the prefix checks that the bucket
   * exists, is readable and the endpoint answers, so those fail at once with a thrown S3Error naming the
   * bucket, prefix and endpoint. A pixgroup whose listing still fails after retries also throws: a silent
   * hole in discovery would look like a finished run. Keys that do not fit the layout are problems.
   * `signal` (the run's) aborts every listing in flight and starts no more: discover rejects with an AbortedError.
   */
  async discover(filter: DiscoveryFilter, signal?: AbortSignal): Promise<Discovery> {
    allowManyListeners(signal);
    const problems: string[] = [];
    let extraProblems = 0;
    const maxProblems = this.opts.maxProblems ?? 100;
    const problem = (key: string, why: string) => {
      if (problems.length < maxProblems) problems.push(`${formatS3Url(this.bucket, key)}: ${why}`);
      else extraProblems += 1;
    };
    // The first contact: two attempts at most, so a wrong or silent endpoint is reported within a minute.
    const probe = await this.list(folderPrefix(this.prefix), 1, undefined, {
      ...this.opts.retry,
      maxAttempts: Math.min(2, this.opts.retry?.maxAttempts ?? 2),
      signal,
    });
    if ((probe.KeyCount ?? probe.Contents?.length ?? 0) === 0)
      problems.push(`${formatS3Url(this.bucket, folderPrefix(this.prefix))}: no objects under this prefix`);

    const found = new Map<string, TileRef>();
    // A survey and program whose keys fit in one page are listed in one request (a sample, a test tree, a
    // production's small programs); a longer one by pixgroup, up to listConcurrency at a time (DR1's main
    // dark: about 110,000 keys, where a flat listing would be 110 pages one after the other).
    const programs: { survey: string; program: string }[] = [];
    for (const survey of filter.surveys) for (const program of filter.programs) programs.push({ survey, program });
    const jobs: { survey: string; program: string; group: number }[] = [];
    await mapLimit(programs, this.opts.listConcurrency ?? 32, async ({ survey, program }) => {
      if (await this.listProgramAtOnce(survey, program, found, problem, signal)) return;
      for (let group = 0; group < PIXGROUPS; group++) jobs.push({ survey, program, group });
    });
    // The first failed pixgroup stops new listings; it is thrown once the listings in flight have settled.
    await mapLimit(jobs, this.opts.listConcurrency ?? 32, (job) => this.listGroup(job.survey, job.program, job.group, found, problem, signal));
    if (extraProblems > 0) problems.push(`… and ${extraProblems} more keys that do not fit the layout`);

    const order = (t: TileRef) => [filter.surveys.indexOf(t.survey), filter.programs.indexOf(t.program), t.healpix];
    const tiles = [...found.values()].sort((a, b) => {
      const x = order(a);
      const y = order(b);
      return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
    });
    return { tiles, problems, unreadable: [] };
  }

  /**
   * An S3ObjectSource over the object `ref.path` (a key), pinned to the ETag discovery saw. Its retries are
   * counted in its own `retries` and in the store's counters.
   */
  async open(ref: ObjectRef, signal?: AbortSignal): Promise<OpenedObject> {
    return new S3ObjectSource(this.client, this.bucket, ref.path, ref.size, ref.etag, { ...this.sourceOptions, signal });
  }

  /** The objects' options, counting their retries in the store's counters when they name none of their own. */
  private get sourceOptions(): S3SourceOptions | undefined {
    const source = this.opts.source;
    const counters = this.opts.retry?.counters;
    if (counters === undefined || source?.retry?.counters !== undefined) return source;
    return { ...source, retry: { ...source?.retry, counters } };
  }

  /** `s3://bucket/key`. */
  displayName(ref: ObjectRef): string {
    return formatS3Url(this.bucket, ref.path);
  }

  /**
   * Lists `{survey}/{program}/` flat in one page. When that page holds every key (not truncated), its keys
   * under the pixgroup folders are taken as listGroup would and true is returned; otherwise nothing is taken
   * and the caller lists the program by pixgroup. Keys outside the pixgroup folders are passed over, as the
   * pixgroup listings never see them.
   */
  private async listProgramAtOnce(
    survey: string,
    program: string,
    found: Map<string, TileRef>,
    problem: (key: string, why: string) => void,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const folder = folderPrefix(joinKey(this.prefix, `${survey}/${program}`));
    const page = await this.list(folder, this.opts.maxKeys, undefined, { ...this.opts.retry, signal });
    if (page.IsTruncated !== false) return false; // truncated, or a server that does not say: by pixgroup
    for (const obj of page.Contents ?? []) {
      const key = obj.Key;
      if (!key?.startsWith(folder)) continue;
      const rest = key.slice(folder.length);
      const slash = rest.indexOf('/');
      const dir = slash > 0 ? rest.slice(0, slash) : '';
      if (!isCanonicalNumber(dir) || Number(dir) >= PIXGROUPS) continue;
      const group = Number(dir);
      this.take(survey, program, group, folderPrefix(joinKey(this.prefix, pixgroupDir(survey, program, group))), obj, found, problem);
    }
    return true;
  }

  private async listGroup(
    survey: string,
    program: string,
    group: number,
    found: Map<string, TileRef>,
    problem: (key: string, why: string) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    const folder = folderPrefix(joinKey(this.prefix, pixgroupDir(survey, program, group)));
    let token: string | undefined;
    do {
      const page = await this.list(folder, this.opts.maxKeys, token, { ...this.opts.retry, signal });
      for (const obj of page.Contents ?? []) this.take(survey, program, group, folder, obj, found, problem);
      token = this.nextToken(page, folder);
    } while (token);
  }

  /** Adds a listed object of pixgroup folder `folder` to its tile in `found`, or reports it as a problem. */
  private take(
    survey: string,
    program: string,
    group: number,
    folder: string,
    obj: NonNullable<ListObjectsV2CommandOutput['Contents']>[number],
    found: Map<string, TileRef>,
    problem: (key: string, why: string) => void,
  ): void {
    const key = obj.Key;
    if (!key?.startsWith(folder)) return;
    const parsed = parseTileObjectKey(survey, program, group, key.slice(folder.length));
    if (parsed.kind === 'problem') {
      problem(key, parsed.problem);
      return;
    }
    const tileId = tileKey({ survey, program, healpix: parsed.healpix });
    let tile = found.get(tileId);
    if (!tile) {
      tile = { survey, program, healpix: parsed.healpix };
      found.set(tileId, tile);
    }
    const afterburner = parsed.kind === 'other' ? AFTERBURNER_KINDS.find((k) => parsed.file === afterburnerFileName(k, tile)) : undefined;
    if (parsed.kind === 'other' && afterburner === undefined) return;
    const ref = objectRefOf(key, obj);
    if (afterburner !== undefined) (tile.afterburners ??= {})[afterburner] = ref;
    else if (parsed.kind !== 'other') tile[parsed.kind] = ref;
  }

  /** The continuation token of a listing page; a truncated page without one is an error (a hole in discovery). */
  protected nextToken(page: ListObjectsV2CommandOutput, folder: string): string | undefined {
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

  /** One page of a listing (no delimiter: every key under `prefix`), with retries. */
  protected async list(prefix: string, maxKeys: number | undefined, token: string | undefined, retry = this.opts.retry): Promise<ListObjectsV2CommandOutput> {
    try {
      return await withRetry(
        `list ${formatS3Url(this.bucket, prefix)}`,
        async () => {
          this.stats.listRequests += 1;
          const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: maxKeys, ContinuationToken: token }), {
            abortSignal: retry?.signal,
          });
          // A 200 that is not S3's (an HTML page) parses as an empty listing: retried as a bad body, then thrown.
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

/** A listed object as discovery keeps it: its key, size, ETag (unquoted) and time. */
export function objectRefOf(key: string, obj: { Size?: number; ETag?: string; LastModified?: Date }): ObjectRef {
  const ref: ObjectRef = { path: key, size: obj.Size ?? 0 };
  const etag = normalizeEtag(obj.ETag);
  if (etag) ref.etag = etag;
  if (obj.LastModified) ref.mtimeMs = obj.LastModified.getTime();
  return ref;
}
