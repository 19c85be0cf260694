/**
 * The coadd and redrock (and QSO afterburners) of given tiles, looked up in --source the way discovery sees them (size and mtime
 * of a local file; size and ETag of an S3 object, from a LIST), but only where those tiles live: a stat of
 * each file locally, one LIST per pixgroup folder that holds a tile on S3. Verify compares the fingerprint
 * of what it finds with the journal's, so the references must be built exactly as discovery builds them
 * (storage/local-tree.ts, storage/s3-tree.ts).
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { AFTERBURNER_KINDS, afterburnerFileName } from '../desi/afterburners.js';
import { parseTileObjectKey, pixgroupDir } from '../desi/layout.js';
import { coaddName, pixgroup, redrockName, tileDir, tileKey, type ObjectRef, type TileId, type TileRef } from '../desi/tile.js';
import { mapLimit } from '../util/concurrency.js';
import { withRetry, type RetryOptions } from '../storage/retry.js';
import { checkListing } from '../storage/s3-answer.js';
import { s3Error } from '../storage/s3-client.js';
import { normalizeEtag } from '../storage/s3-source.js';
import { folderPrefix, formatS3Url, joinKey, parseS3Url, s3UrlText } from '../storage/s3-url.js';
import { tileOfKey } from './checks.js';
import { DatasetUnreadableError } from './dataset-files.js';

export interface SourceLookup {
  /** --source as messages show it (an absolute folder or s3://bucket/prefix). */
  readonly root: string;
  /**
   * The tiles as found now, by key; a tile with neither file is absent. Throws when the source cannot be
   * read at all (no such folder or bucket, no endpoint); `unreadable` collects files that exist but cannot be stat'ed.
   */
  lookup(keys: readonly string[], unreadable: string[]): Promise<Map<string, TileRef>>;
}

/** The healpix tiles among journal keys (a key of another layout is not looked up, so its tile is not found). */
function healpixTiles(keys: readonly string[]): TileId[] {
  return keys.map(tileOfKey).filter((t): t is TileId => t !== undefined);
}

/** Lookups in flight at once. */
const CONCURRENCY = 32;

/** Throws a DatasetUnreadableError unless `root` (a local --source) is a folder that can be read. */
export async function assertSourceFolder(root: string): Promise<void> {
  let isDir = false;
  try {
    isDir = (await stat(root)).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DatasetUnreadableError(`--source ${root}: ${code === 'ENOENT' ? 'the folder does not exist' : `cannot be read (${code ?? String(err)})`}`);
  }
  if (!isDir) throw new DatasetUnreadableError(`--source ${root}: not a folder`);
}

/** A healpix tree in a local folder. */
export class LocalSourceLookup implements SourceLookup {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async lookup(keys: readonly string[], unreadable: string[]): Promise<Map<string, TileRef>> {
    const tiles = healpixTiles(keys);
    await assertSourceFolder(this.root);
    const found = new Map<string, TileRef>();
    await mapLimit(tiles, CONCURRENCY, async (t) => {
      const dir = join(this.root, ...tileDir(t).split('/'));
      const ref: TileRef = { survey: t.survey, program: t.program, healpix: t.healpix };
      const coadd = await statRef(join(dir, coaddName(t)), unreadable);
      const redrock = await statRef(join(dir, redrockName(t)), unreadable);
      if (coadd) ref.coadd = coadd;
      if (redrock) ref.redrock = redrock;
      // The afterburners beside them, as discovery finds them (checkSources keeps those the selection reads).
      for (const kind of AFTERBURNER_KINDS) {
        const ab = await statRef(join(dir, afterburnerFileName(kind, t)), unreadable);
        if (ab) (ref.afterburners ??= {})[kind] = ab;
      }
      if (coadd || redrock) found.set(tileKey(t), ref);
    });
    return found;
  }
}

/** As discovery's statRef: a regular file's path, size and mtimeMs; undefined when it is not there. */
async function statRef(path: string, unreadable: string[]): Promise<ObjectRef | undefined> {
  try {
    const st = await stat(path);
    return st.isFile() ? { path, size: st.size, mtimeMs: st.mtimeMs } : undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') unreadable.push(`${path}: cannot stat the file (${code ?? String(err)})`);
    return undefined;
  }
}

/** A healpix tree under an S3 prefix: one LIST (paged) per pixgroup folder that holds one of the tiles. */
export class S3SourceLookup implements SourceLookup {
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

  async lookup(keys: readonly string[]): Promise<Map<string, TileRef>> {
    const tiles = healpixTiles(keys);
    const wanted = new Set(tiles.map(tileKey));
    const groups = new Map<string, { survey: string; program: string; group: number }>();
    for (const t of tiles)
      groups.set(pixgroupDir(t.survey, t.program, pixgroup(t.healpix)), { survey: t.survey, program: t.program, group: pixgroup(t.healpix) });
    // The first request: two attempts at most, so a wrong endpoint or bucket is said at once.
    if (groups.size > 0) await this.list(folderPrefix(this.prefix), undefined, { ...this.retry, maxAttempts: Math.min(2, this.retry.maxAttempts ?? 2) }, 1);
    const found = new Map<string, TileRef>();
    await mapLimit([...groups.values()], CONCURRENCY, async ({ survey, program, group }) => {
      const folder = folderPrefix(joinKey(this.prefix, pixgroupDir(survey, program, group)));
      let token: string | undefined;
      do {
        const page = await this.list(folder, token, this.retry);
        for (const obj of page.Contents ?? []) {
          if (!obj.Key?.startsWith(folder)) continue;
          const parsed = parseTileObjectKey(survey, program, group, obj.Key.slice(folder.length));
          if (parsed.kind === 'problem') continue;
          const id = { survey, program, healpix: parsed.healpix };
          const afterburner = parsed.kind === 'other' ? AFTERBURNER_KINDS.find((k) => parsed.file === afterburnerFileName(k, id)) : undefined;
          if (parsed.kind === 'other' && afterburner === undefined) continue;
          const key = tileKey(id);
          if (!wanted.has(key)) continue;
          let tile = found.get(key);
          if (!tile) found.set(key, (tile = { survey, program, healpix: parsed.healpix }));
          const ref: ObjectRef = { path: obj.Key, size: obj.Size ?? 0 };
          const etag = normalizeEtag(obj.ETag);
          if (etag) ref.etag = etag;
          if (obj.LastModified) ref.mtimeMs = obj.LastModified.getTime();
          if (afterburner !== undefined) (tile.afterburners ??= {})[afterburner] = ref;
          else if (parsed.kind !== 'other') tile[parsed.kind] = ref;
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    });
    return found;
  }

  private async list(prefix: string, token: string | undefined, retry: RetryOptions, maxKeys?: number) {
    try {
      return await withRetry(
        `list ${formatS3Url(this.bucket, prefix)}`,
        async () => {
          const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: maxKeys }));
          checkListing(page, `ListObjectsV2 ${formatS3Url(this.bucket, prefix)}`);
          return page;
        },
        retry,
      );
    } catch (err) {
      throw s3Error(err, { client: this.client, bucket: this.bucket, key: prefix, operation: 'ListObjectsV2' });
    }
  }
}
