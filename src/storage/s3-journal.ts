/**
 * The journal as S3 objects. S3 has no append, so each record is its own small object (PutObject is atomic:
 * a record exists whole or not at all), and any number of runs can write one output at once. A tile
 * record's name carries what resuming and `desi-qad status` need (time, run, a per-writer nonce and sequence
 * number, then the tile, its status, its source fingerprint, the Parquet size, rows, FITS and fetched bytes
 * and the error class), so load() rebuilds the journal from LIST pages: about 13
 * requests for 12,000 tiles. Run records are few and are read from their bodies with a GET (their name holds
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
 */
import { createHash, randomBytes } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { isJournalRecord, TILE_STATUSES, type JournalRecord, type JournalStore, type RunRecord, type TileRecord, type TileStatus } from './journal-store.js';
import { mapLimit } from '../util/concurrency.js';
import { withRetry, type RetryOptions } from './retry.js';
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
}

/** Requests the journal made, so tests and logs can see that loading is LIST-only. */
export interface S3JournalStats {
  listRequests: number;
  getRequests: number;
  putRequests: number;
}

/** The longest record name: under 200 bytes, well inside the 255-byte path segment of filesystem-backed servers. */
export const MAX_NAME_BYTES = 199;
/** An encoded run id longer than this is replaced in names by a hash (the record is then read from its body). */
const MAX_RUN_FIELD_BYTES = 64;
const STATUSES: ReadonlySet<string> = new Set<string>(TILE_STATUSES);

export class S3JournalStore implements JournalStore {
  readonly location: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly stats: S3JournalStats = { listRequests: 0, getRequests: 0, putRequests: 0 };
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
   * Every record, in name order (oldest first, so the latest of a tile wins), from LIST pages; run records
   * and the rare records whose name could not hold them are read with a GET. Objects whose name or body does
   * not parse are counted as damaged. A 200 answer that is not an S3 listing is an error, not an empty
   * journal.
   */
  async load(): Promise<{ records: JournalRecord[]; damaged: number }> {
    const folder = folderPrefix(this.prefix);
    const names: string[] = [];
    let token: string | undefined;
    let first = true;
    do {
      // The first page is often a run's first contact with the output: two attempts at most, so a wrong or
      // silent endpoint is reported within a minute.
      const retry = first ? { ...this.opts.retry, maxAttempts: Math.min(2, this.opts.retry?.maxAttempts ?? 2) } : this.opts.retry;
      first = false;
      const page = await this.call(
        'ListObjectsV2',
        folder,
        async () => {
          this.stats.listRequests += 1;
          const answer = await this.client.send(
            new ListObjectsV2Command({ Bucket: this.bucket, Prefix: folder, MaxKeys: this.opts.maxKeys, ContinuationToken: token }),
          );
          checkListing(answer, `journal ListObjectsV2 ${formatS3Url(this.bucket, folder)}`);
          return answer;
        },
        retry,
      );
      for (const o of page.Contents ?? []) if (o.Key?.startsWith(folder)) names.push(o.Key.slice(folder.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    names.sort(compareNames);

    let damaged = 0;
    const slots: (JournalRecord | undefined)[] = names.map(() => undefined);
    const needBody: number[] = [];
    names.forEach((name, i) => {
      const parsed = parseRecordName(name);
      if (parsed === 'body') needBody.push(i);
      else if (parsed === undefined) damaged += 1;
      else slots[i] = parsed;
    });
    await mapLimit(needBody, this.opts.getConcurrency ?? 8, async (i) => {
      const rec = await this.readBody(folder + names[i]);
      if (rec) slots[i] = rec;
      else damaged += 1;
    });
    return { records: slots.filter((r): r is JournalRecord => r !== undefined), damaged };
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
    await this.call('PutObject', key, async () => {
      this.stats.putRequests += 1;
      const answer = await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json' }));
      // A 200 without an ETag is not S3's answer: the record was not stored.
      checkWriteAnswer(answer, `journal PutObject ${formatS3Url(this.bucket, key)}`);
    });
  }

  async close(): Promise<void> {
    // Nothing is buffered: every append is a finished PutObject.
  }

  private async readBody(key: string): Promise<JournalRecord | undefined> {
    const text = await this.call('GetObject', key, async () => {
      this.stats.getRequests += 1;
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return r.Body ? await r.Body.transformToString('utf8') : '';
    });
    try {
      const rec: unknown = JSON.parse(text);
      return isJournalRecord(rec) ? rec : undefined;
    } catch {
      return undefined;
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
