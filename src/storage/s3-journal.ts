/**
 * The journal as S3 objects. S3 has no append, so each record is its own small object (PutObject is atomic:
 * a record exists whole or not at all), and any number of runs can write one output at once. A tile
 * record's name carries what resuming and `desi-qad status` need (time, run, a per-writer nonce and sequence
 * number, then the tile, its status, its source fingerprint, the Parquet size, rows, FITS and fetched bytes
 * and the error class), so load() rebuilds the journal from LIST pages: about 13
 * requests for 12,000 loose tiles (or one LIST and a GET once compacted, below). Run records are few and are read from their bodies with a GET (their name holds
 * a hash of the body only). The body is always the full JSON record, for humans and tools.
 *
 *   {prefix}/20260102T030405123Z_20260102T030000-4242-9f3a61c2_5d0e11aa_0000000041_t_ok_main.2Fdark.2F23040_3f9c2a7e1b0d4c55_4096_12_7340032_81920_-.json
 *   {prefix}/20260102T030000000Z_20260102T030000-4242-9f3a61c2_5d0e11aa_0000000000_r_8a1f0c3d5e7b9a21.json
 *
 * Every name stays under 200 bytes whatever the run's details (S3 allows 1,024-byte keys, but s3rver and
 * filesystem-backed servers such as MinIO refuse a path segment over 255 bytes): a record that would not
 * fit is named `{head}_T.json` / `{head}_R.json` and read from its body. Older names (a tile record without
 * its fingerprint or without the counts, a run record with its details in base64) are still read.
 *
 * Names sort in time order (then run, writer, sequence), which makes "latest wins" a total order even when
 * several machines write to the same output.
 *
 * Compaction: a writer's close() folds a journal of 1,000 objects or more into one segment object,
 * `{stamp}_S_{nonce}_{seq}.jsonl` (a line `{"name", "record"}` per record, the whole record), so that the next
 * load is one LIST and one GET per segment instead of a LIST page per 1,000 records. The segment's stamp is
 * one millisecond after every name it holds, so it sorts after all of them; it is written before any of them
 * is deleted. A record is thus always listed, loose or in a segment after it: a reader paging through the
 * listing while a compaction runs finds it one way or the other, and a reader that finds a listed object
 * gone lists again from its name. Any number of compactions may run at once (records are unioned by name).
 * Readers older than segments count a segment as one damaged object and redo the tiles it holds.
 */
import { createHash, randomBytes } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isJournalRecord, TILE_STATUSES, type JournalRecord, type JournalStore, type RunRecord, type TileRecord, type TileStatus } from './journal-store.js';
import { mapLimit } from '../util/concurrency.js';
import { httpStatusOf, withRetry, type RetryOptions } from './retry.js';
import { checkListing, checkWriteAnswer } from './s3-answer.js';
import { s3Error } from './s3-client.js';
import { folderPrefix, formatS3Url, joinKey, toS3Url, type S3Url } from './s3-url.js';

/** Where the journal lives inside --out (names starting with '_' are skipped by dataset readers). */
export const S3_JOURNAL_REL = '_desi-qad/journal';

/** The journal folder of an output prefix: `{out}/_desi-qad/journal`. */
export function journalUrlFor(out: string | S3Url): S3Url {
  const u = toS3Url(out);
  return { bucket: u.bucket, prefix: joinKey(u.prefix, S3_JOURNAL_REL) };
}

export interface S3JournalOptions {
  retry?: RetryOptions;
  /** MaxKeys of each LIST page of load() (default: the server's, 1000 on S3). */
  maxKeys?: number;
  /** GETs in flight when some records must be read from their bodies (default 8). */
  getConcurrency?: number;
  /** DeleteObjects in flight when compacting (default 16). */
  deleteConcurrency?: number;
  /** close() of a store that appended compacts when the journal holds this many objects (default 1000; 0: never). */
  compactAt?: number;
}

/** Requests the journal made, so tests and logs can see that loading is LIST-only. */
export interface S3JournalStats {
  listRequests: number;
  getRequests: number;
  putRequests: number;
  deleteRequests: number;
}

/** The longest record name: under 200 bytes, well inside the 255-byte path segment of filesystem-backed servers. */
export const MAX_NAME_BYTES = 199;
/** An encoded run id longer than this is replaced in names by a hash (the record is then read from its body). */
const MAX_RUN_FIELD_BYTES = 64;
const STATUSES: ReadonlySet<string> = new Set<string>(TILE_STATUSES);
/** close() compacts a journal of this many objects or more: one LIST page's worth. */
const DEFAULT_COMPACT_AT = 1000;
/** A load lists again at most this many times after objects went missing under it (compactions meanwhile). */
const MAX_LOAD_PASSES = 8;
/** "20260102T030405123Z" */
const STAMP_LENGTH = 19;

interface JournalSnapshot {
  /** Every record by object name, in name order. */
  records: Map<string, JournalRecord>;
  /** Names that did not parse (or whose body did not). */
  damaged: Set<string>;
  /** Loose record objects and segment objects read. */
  loose: string[];
  segments: string[];
}

export class S3JournalStore implements JournalStore {
  readonly location: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly stats: S3JournalStats = { listRequests: 0, getRequests: 0, putRequests: 0, deleteRequests: 0 };
  /** Records this store appended, by name: compact() knows them whole without reading them back. */
  private readonly written = new Map<string, JournalRecord>();
  /** Test hooks: called after each LIST page of a load, and after compact() wrote its segment. */
  afterPage?: () => Promise<void>;
  afterSegment?: () => Promise<void>;
  private readonly nonce = randomBytes(4).toString('hex');
  private seq = 0;
  private lastStamp = '';

  constructor(
    private readonly client: S3Client,
    url: string | S3Url,
    private readonly opts: S3JournalOptions = {},
  ) {
    const u = toS3Url(url);
    this.bucket = u.bucket;
    this.prefix = u.prefix;
    this.location = formatS3Url(u.bucket, folderPrefix(u.prefix));
  }

  /**
   * Every record, in name order (oldest first, so the latest of a tile wins), from LIST pages and the
   * segments they name (one GET each); run records and the rare records whose name could not hold them are
   * read with a GET. Objects whose name or body does not parse are counted as damaged. A 200 answer that is
   * not an S3 listing is an error, not an empty journal.
   */
  async load(): Promise<{ records: JournalRecord[]; damaged: number }> {
    const snap = await this.snapshot();
    return { records: [...snap.records.values()], damaged: snap.damaged.size };
  }

  /**
   * What the journal holds now, by record name (sorted), with the loose records and segments it was read
   * from. A segment is read whole; a record or segment listed but gone when its body is fetched was compacted
   * meanwhile into a segment that sorts after it and was written before it was deleted: the listing is read
   * again from there (StartAfter) until nothing is missing.
   */
  private async snapshot(): Promise<JournalSnapshot> {
    const folder = folderPrefix(this.prefix);
    const found = new Map<string, JournalRecord>();
    const damaged = new Set<string>();
    const loose: string[] = [];
    const segments: string[] = [];
    const read = new Set<string>();
    let startAfter: string | undefined;
    for (let pass = 0; ; pass++) {
      const names = await this.listNames(folder, pass === 0, startAfter);
      const fresh = names.filter((n) => !read.has(n) && !damaged.has(n));
      const missing: string[] = [];
      const needBody: string[] = [];
      const segs: string[] = [];
      for (const name of fresh) {
        if (isSegmentName(name)) {
          segs.push(name);
          continue;
        }
        const parsed = parseRecordName(name);
        if (parsed === 'body') needBody.push(name);
        else if (parsed === undefined) damaged.add(name);
        else {
          found.set(name, parsed);
          read.add(name);
          loose.push(name);
        }
      }
      await mapLimit(segs, this.opts.getConcurrency ?? 8, async (name) => {
        const text = await this.getText(folder + name);
        if (text === undefined) return void missing.push(name);
        read.add(name);
        segments.push(name);
        const lines = parseSegment(text);
        if (!lines) return void damaged.add(name);
        // A segment's record is whole (a name may leave out a failed tile's message).
        for (const [n, rec] of lines) found.set(n, rec);
      });
      await mapLimit(needBody, this.opts.getConcurrency ?? 8, async (name) => {
        const text = await this.getText(folder + name);
        if (text === undefined) return void missing.push(name);
        read.add(name);
        const rec = parseBody(text);
        if (!rec) return void damaged.add(name);
        found.set(name, rec);
        loose.push(name);
      });
      const lost = missing.filter((n) => !found.has(n));
      // Nothing new listed after what went missing: it was deleted by hand, not compacted.
      if (lost.length === 0 || (pass > 0 && fresh.length === 0) || pass >= MAX_LOAD_PASSES) {
        for (const n of lost) damaged.add(n);
        break;
      }
      lost.sort(compareNames);
      startAfter = lost[0];
    }
    const sorted = [...found.keys()].sort(compareNames);
    return { records: new Map(sorted.map((n) => [n, found.get(n)!])), damaged, loose, segments };
  }

  private async listNames(folder: string, first: boolean, startAfter: string | undefined): Promise<string[]> {
    const names: string[] = [];
    let token: string | undefined;
    let firstPage = first;
    do {
      // The first page is often a run's first contact with the output: two attempts at most, so a wrong or
      // silent endpoint is reported within a minute.
      const retry = firstPage ? { ...this.opts.retry, maxAttempts: Math.min(2, this.opts.retry?.maxAttempts ?? 2) } : this.opts.retry;
      firstPage = false;
      const page = await this.call(
        'ListObjectsV2',
        folder,
        async () => {
          this.stats.listRequests += 1;
          const answer = await this.client.send(
            new ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: folder,
              MaxKeys: this.opts.maxKeys,
              ContinuationToken: token,
              StartAfter: token === undefined && startAfter !== undefined ? folder + startAfter : undefined,
            }),
          );
          checkListing(answer, `journal ListObjectsV2 ${formatS3Url(this.bucket, folder)}`);
          return answer;
        },
        retry,
      );
      for (const o of page.Contents ?? []) if (o.Key?.startsWith(folder)) names.push(o.Key.slice(folder.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (this.afterPage) await this.afterPage();
    } while (token);
    return names.sort(compareNames);
  }

  /**
   * Folds every record and segment listed into one segment object, then deletes them: the journal then
   * loads in one LIST and one GET, whatever its length. Safe beside any number of writers, readers and
   * other compactions: the segment is named to sort after every name it holds and is written (PutObject,
   * atomic) before anything it holds is deleted, so a record is always in the listing, loose or in a
   * segment after it; a reader that finds a listed object gone lists again from its name (see snapshot).
   * Records that the name holds only in part (a failed tile's error message) are read from their bodies
   * first, so nothing of a record is lost. Returns the records and objects folded, or undefined when fewer
   * than `min` objects were there to fold.
   */
  async compact(min = 2): Promise<{ records: number; folded: number; segment: string } | undefined> {
    const snap = await this.snapshot();
    const folded = [...snap.loose, ...snap.segments];
    if (folded.length < min || snap.records.size === 0) return undefined;
    const folder = folderPrefix(this.prefix);
    // Loose records whose name leaves out part of the body: read it (this run's own are known whole).
    const partial = snap.loose.filter((n) => {
      const r = snap.records.get(n);
      return r?.type === 'tile' && r.status === 'failed' && !this.written.has(n) && parseRecordName(n) !== 'body';
    });
    await mapLimit(partial, this.opts.getConcurrency ?? 8, async (name) => {
      const text = await this.getText(folder + name);
      const rec = text === undefined ? undefined : parseBody(text);
      if (rec) snap.records.set(name, rec);
    });
    for (const [n, rec] of this.written) if (snap.records.has(n)) snap.records.set(n, rec);
    const { name: segment, body } = segmentOf(snap.records, snap.segments, this.nonce, this.seq++);
    const key = folder + segment;
    await this.call('PutObject', key, async () => {
      this.stats.putRequests += 1;
      const answer = await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/x-ndjson' }));
      checkWriteAnswer(answer, `journal PutObject ${formatS3Url(this.bucket, key)}`);
    });
    if (this.afterSegment) await this.afterSegment();
    await mapLimit(folded, this.opts.deleteConcurrency ?? 16, async (name) => {
      const k = folder + name;
      await this.call('DeleteObject', k, async () => {
        this.stats.deleteRequests += 1;
        // DeleteObject of a key that is gone (another compaction took it) answers 204 as well.
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: k }));
      });
    });
    return { records: snap.records.size, folded: folded.length, segment };
  }

  /**
   * Writes the record as one object (PutObject); it is stored durably when the promise resolves. A 200
   * answer without an ETag (not S3's) is an error, retried, not a record taken as stored.
   */
  async append(rec: JournalRecord): Promise<void> {
    const stamp = maxStamp(this.lastStamp, timeStamp(rec.time));
    this.lastStamp = stamp;
    const name = recordName(rec, stamp, this.nonce, this.seq++);
    const key = folderPrefix(this.prefix) + name;
    const body = recordBody(rec);
    this.written.set(name, rec);
    await this.call('PutObject', key, async () => {
      this.stats.putRequests += 1;
      const answer = await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json' }));
      // A 200 without an ETag is not S3's answer: the record was not stored.
      checkWriteAnswer(answer, `journal PutObject ${formatS3Url(this.bucket, key)}`);
    });
  }

  /**
   * Nothing is buffered (every append is a finished PutObject). A store that appended records folds the
   * journal into one segment (compact) when it holds at least `compactAt` objects, so the next load is a
   * few requests; a compaction that fails leaves the journal as it was (every record still listed) and is
   * not the run's failure.
   */
  async close(): Promise<void> {
    if (this.written.size === 0 || this.opts.compactAt === 0) return;
    try {
      await this.compact(this.opts.compactAt ?? DEFAULT_COMPACT_AT);
    } catch {
      // The records are all there, loose: the next run compacts.
    }
  }

  /** The text of an object; undefined when it is gone (compacted since it was listed). */
  private async getText(key: string): Promise<string | undefined> {
    try {
      return await withRetry(
        `GetObject ${formatS3Url(this.bucket, key)}`,
        async () => {
          this.stats.getRequests += 1;
          const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
          return r.Body ? await r.Body.transformToString('utf8') : '';
        },
        this.opts.retry,
      );
    } catch (err) {
      if (isNoSuchKey(err)) return undefined;
      throw s3Error(err, { client: this.client, bucket: this.bucket, key, operation: 'journal GetObject' });
    }
  }

  private async call<T>(operation: string, key: string, fn: () => Promise<T>, retry = this.opts.retry): Promise<T> {
    try {
      return await withRetry(`${operation} ${formatS3Url(this.bucket, key)}`, fn, retry);
    } catch (err) {
      throw s3Error(err, { client: this.client, bucket: this.bucket, key, operation: `journal ${operation}` });
    }
  }
}

/** "2026-01-02T03:04:05.123Z" → "20260102T030405123Z" (fixed width, so names sort by time). */
export function timeStamp(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new Error(`journal record time ${JSON.stringify(iso)} is not an ISO date`);
  const d = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return d.replace(/[-:]/g, '').replace('.', '');
}

function stampToIso(s: string): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/.exec(s);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z` : undefined;
}

function maxStamp(a: string, b: string): string {
  return a > b ? a : b;
}

/**
 * Encodes a string with [A-Za-z0-9-] only: other UTF-8 bytes become '.XX' (hex). Keeps '/' and '_' out of
 * names ('_' separates fields) and leaves only characters S3 calls safe in keys.
 */
export function safeEncode(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9-]/.test(c) ? c : `.${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The inverse of safeEncode; undefined for text safeEncode cannot have written. */
export function safeDecode(s: string): string | undefined {
  if (!/^(?:[A-Za-z0-9-]|\.[0-9A-F]{2})*$/.test(s)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '.') {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(s.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The body of a record's object: its JSON, one line. */
export function recordBody(rec: JournalRecord): string {
  return JSON.stringify(rec) + '\n';
}

/** 16 hex characters of sha256: short, fixed-width stand-ins for text too long or too free for a name. */
function sha16(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}

/** A fingerprint as the name can hold it: lowercase hex, as sourceFingerprint writes. */
const FINGERPRINT = /^[0-9a-f]{1,64}$/;

/**
 * The object name of a record, fields joined by '_' as in the file comment. Tile records:
 * `{head}_t_{status}_{tile}_{fingerprint or -}_{parquetBytes}_{rows}_{fitsBytes}_{fetchedBytes}_{errorClass}.json`
 * (each '-' when absent; the error message stays in the body); run records: `{head}_r_{sha16 of the body}.json`
 * (read from the body). A record whose name would pass MAX_NAME_BYTES (or hold a fingerprint that is not
 * hex, or a run id over 64 bytes, replaced by `h-{sha16}`) is named `{head}_T.json` / `{head}_R.json`.
 */
export function recordName(rec: JournalRecord, stamp: string, nonce: string, seq: number): string {
  const runEnc = safeEncode(rec.run);
  const runFits = Buffer.byteLength(runEnc) <= MAX_RUN_FIELD_BYTES;
  const head = `${stamp}_${runFits ? runEnc : `h-${sha16(rec.run)}`}_${nonce}_${String(seq).padStart(10, '0')}`;
  let name: string | undefined;
  if (rec.type === 'tile') {
    const fp = rec.sources === undefined ? '-' : FINGERPRINT.test(rec.sources) ? rec.sources : undefined;
    // The Parquet file's size rides along, so that resume can check the files against one LIST of the output.
    const size = rec.parquetBytes !== undefined && rec.status === 'ok' ? String(rec.parquetBytes) : '-';
    // And what `desi-qad status` sums and groups by, so that it too reads the journal from LIST pages only.
    const counts = [rec.rows, rec.fitsBytes, rec.fetchedBytes].map(countField);
    const cls = rec.errorClass === undefined ? '-' : safeEncode(rec.errorClass);
    const fits = fp !== undefined && !counts.includes(undefined) && cls !== '' && (cls !== '-' || rec.errorClass === undefined);
    if (fits) name = `${head}_t_${rec.status}_${safeEncode(rec.tile)}_${fp}_${size}_${counts.join('_')}_${cls}.json`;
  } else name = `${head}_r_${sha16(recordBody(rec))}.json`;
  if (runFits && name !== undefined && Buffer.byteLength(name) <= MAX_NAME_BYTES) return name;
  return `${head}_${rec.type === 'tile' ? 'T' : 'R'}.json`;
}

/** A count as a name field: decimal digits, '-' when absent; undefined when a name cannot hold it. */
function countField(n: number | undefined): string | undefined {
  if (n === undefined) return '-';
  return Number.isSafeInteger(n) && n >= 0 && n < 1e15 ? String(n) : undefined;
}

/** A name's count field back: the number, undefined for '-', null when it is not a count field. */
function parseCount(f: string): number | undefined | null {
  if (f === '-') return undefined;
  return /^\d{1,15}$/.test(f) ? Number(f) : null;
}

/**
 * The record a name holds; 'body' when it must be read from the object; undefined when the name is not a
 * journal record's.
 */
export function parseRecordName(name: string): JournalRecord | 'body' | undefined {
  if (!name.endsWith('.json') || name.includes('/')) return undefined;
  const f = name.slice(0, -'.json'.length).split('_');
  if (f.length < 5) return undefined;
  const [stamp, runEnc, nonce, seq, kind] = f;
  const time = stampToIso(stamp);
  const run = safeDecode(runEnc);
  if (!time || run === undefined || !/^[0-9a-f]+$/.test(nonce) || !/^\d+$/.test(seq)) return undefined;
  if ((kind === 'T' || kind === 'R') && f.length === 5) return 'body';
  if (kind === 't' && ((f.length >= 7 && f.length <= 9) || f.length === 13)) {
    // 7 fields: the form before source fingerprints; 8: with the fingerprint, '-' for none; 9: and the
    // Parquet file's size ('-' for none); 13: and rows, FITS bytes, fetched bytes and the error class.
    const tile = safeDecode(f[6]);
    if (!STATUSES.has(f[5]) || tile === undefined || tile === '') return undefined;
    const rec: TileRecord = { type: 'tile', tile, status: f[5] as TileStatus, time, run };
    if (f.length >= 8) {
      if (f[7] !== '-' && !FINGERPRINT.test(f[7])) return undefined;
      if (f[7] !== '-') rec.sources = f[7];
    }
    if (f.length >= 9) {
      const size = parseCount(f[8]);
      if (size === null) return undefined;
      if (size !== undefined) rec.parquetBytes = size;
    }
    if (f.length === 13) {
      const [rows, fitsBytes, fetchedBytes] = [f[9], f[10], f[11]].map(parseCount);
      if (rows === null || fitsBytes === null || fetchedBytes === null) return undefined;
      if (rows !== undefined) rec.rows = rows;
      if (fitsBytes !== undefined) rec.fitsBytes = fitsBytes;
      if (fetchedBytes !== undefined) rec.fetchedBytes = fetchedBytes;
      if (f[12] !== '-') {
        const cls = safeDecode(f[12]);
        if (cls === undefined || cls === '') return undefined;
        rec.errorClass = cls;
      }
    }
    return rec;
  }
  if (kind === 'r' && f.length === 6 && /^[0-9a-f]{16}$/.test(f[5])) return 'body';
  if (kind === 'r' && f.length >= 6) {
    // The older form: version, selection and source in base64url JSON (which may itself hold '_').
    try {
      const p = JSON.parse(Buffer.from(f.slice(5).join('_'), 'base64url').toString('utf8')) as Partial<RunRecord>;
      if (typeof p.selection !== 'string' || typeof p.version !== 'string' || typeof p.source !== 'string') return undefined;
      const rec: RunRecord = { type: 'run', run, time, version: p.version, selection: p.selection, source: p.source };
      return rec;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Names compare by their bytes, the order S3 lists them in. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A 404 about the object (NoSuchKey), not about the bucket. */
function isNoSuchKey(err: unknown): boolean {
  const e = err as { name?: string; Code?: string } | undefined;
  if (e?.name === 'NoSuchBucket' || e?.Code === 'NoSuchBucket') return false;
  return httpStatusOf(err) === 404 || e?.name === 'NoSuchKey' || e?.Code === 'NoSuchKey';
}

function parseBody(text: string): JournalRecord | undefined {
  try {
    const rec: unknown = JSON.parse(text);
    return isJournalRecord(rec) ? rec : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A segment's name: `{stamp}_S_{nonce}_{seq}.jsonl`, its stamp one millisecond after the latest stamp of
 * every name it holds, so that it sorts after all of them (names compare stamp first, and stamps are fixed
 * width). Its body is one line per record: `{"name": …, "record": …}`, in name order.
 */
export function segmentName(stamp: string, nonce: string, seq: number): string {
  return `${stamp}_S_${nonce}_${String(seq).padStart(10, '0')}.jsonl`;
}

export function isSegmentName(name: string): boolean {
  return /^\d{8}T\d{9}Z_S_[0-9a-f]+_\d+\.jsonl$/.test(name);
}

/**
 * The segment object holding `records` (by name, in name order) that replaces them and the segments
 * `folded`: its name and its body.
 */
export function segmentOf(records: ReadonlyMap<string, JournalRecord>, folded: readonly string[], nonce: string, seq: number): { name: string; body: string } {
  let last = '';
  for (const n of records.keys()) last = maxStamp(last, n.slice(0, STAMP_LENGTH));
  for (const n of folded) last = maxStamp(last, n.slice(0, STAMP_LENGTH));
  const body = [...records].map(([n, rec]) => JSON.stringify({ name: n, record: rec }) + '\n').join('');
  return { name: segmentName(nextStamp(last), nonce, seq), body };
}

/** The stamp one millisecond after `stamp` (a stamp of timeStamp's form). */
function nextStamp(stamp: string): string {
  const iso = stampToIso(stamp);
  return timeStamp(new Date(Date.parse(iso ?? '1970-01-01T00:00:00.000Z') + 1).toISOString());
}

/** A segment's records by name; undefined when a line does not parse. */
function parseSegment(text: string): [string, JournalRecord][] | undefined {
  const out: [string, JournalRecord][] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const v = JSON.parse(line) as { name?: unknown; record?: unknown };
      if (typeof v.name !== 'string' || !isJournalRecord(v.record)) return undefined;
      out.push([v.name, v.record]);
    } catch {
      return undefined;
    }
  }
  return out;
}
