/**
 * The dataset identity of an S3 --out (`s3://bucket/prefix`), decided race-safely by any number of runs on
 * any number of machines, also on servers that ignore conditional writes (If-None-Match; s3rver and older
 * S3-compatible stores do). A conditional PUT alone would be enough on AWS S3 today, but a server that
 * ignores it lets two runs both "create" the manifest, one overwriting the other after files were written.
 *
 * Protocol: register-only consensus, single-disk Disk Paxos (Gafni & Lamport, "Disk Paxos", 2003). S3's
 * strong read-after-write and list-after-write consistency is the disk; each proposer (a run, named by its
 * run id) owns one block object, which only it writes:
 *
 *   {out}/_desi-qad/dataset.json               the decided identity (written only with a decided value)
 *   {out}/_desi-qad/identity/{createdBy}.json   a proposer's block: { mbal, bal, value }
 *
 * A ballot is `[counter, createdBy]`, ordered by counter, then by run id, so no two proposers share one.
 * `mbal` is the highest ballot the proposer started, `bal` the ballot with which it last accepted `value`
 * (null before its first phase 2).
 *
 *  0. GET dataset.json; if it exists it is the identity.
 *  1. Phase 1: mbal := a ballot above every one seen. PUT own block {mbal, bal, value} (bal and value as
 *     they were: a proposer never forgets what it accepted). LIST the blocks, GET each. If one has a higher
 *     mbal, back off and restart. Else choose the value of the block with the highest bal, or, if no block
 *     has accepted anything, our own proposal.
 *  2. Phase 2: PUT own block {mbal, bal: mbal, value: chosen}; LIST and GET the blocks again. If one has a
 *     higher mbal, back off and restart. Else `chosen` is decided.
 *  3. PUT dataset.json = chosen (If-None-Match: *; a 412 means another decider was first), GET it back.
 *
 * Why two deciders cannot decide different values. Reads are of S3's current state: a LIST or GET started
 * after a PUT was answered sees that PUT or a later one; a block that a LIST does not show had not been
 * written when the LIST started and reads as the empty block. In every block bal <= mbal, and a block's mbal
 * and bal only grow. Suppose p decides v with ballot b. Claim: every proposer q that finishes phase 1 with a
 * ballot c > b chooses v. In phase 2, p wrote {bal: b, value: v} and then read q's block with mbal <= b < c
 * (else it would not have decided), so that read started before q's phase-1 PUT of mbal c was answered; q's
 * phase-1 read of p's block started after that answer, hence after p's phase-2 PUT was answered, so q sees
 * p's block with bal >= b. The highest bal q sees is some d with b <= d < c (q saw no mbal above c, and
 * bal <= mbal). The value accepted with ballot b is v, and by induction on the ballots between b and c, the
 * value accepted with any such d was chosen in a phase 1 with ballot d > b and is v too. So q chooses v,
 * and a second decider (whose ballot is above b, or p's is above its) decides v. dataset.json is therefore
 * only ever written with one value, so a server that ignores If-None-Match rewrites the same identity, and
 * step 0 only ever returns that one value.
 * Blocks are never deleted: a deleted block holding bal b would read as empty and let a later proposer choose
 * another value. A retried PUT rewrites the same block (harmless); a block GET while its owner overwrites it
 * on a server without atomic PUTs (s3rver) can return a torn body, which does not parse and is retried.
 * Liveness comes from random, growing backoff; after maxRounds rounds establish() gives up with an error.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { formatIdentity, identityFromJson, MANIFEST_REL, sameIdentity, type DatasetIdentity, type IdentityStore } from './dataset-identity.js';
import { mapLimit } from '../util/concurrency.js';
import { httpStatusOf, withRetry, type RetryOptions } from './retry.js';
import { checkListing, checkWriteAnswer, NotS3AnswerError } from './s3-answer.js';
import { s3Error } from './s3-client.js';
import { folderPrefix, formatS3Url, joinKey, toS3Url, type S3Url } from './s3-url.js';

/** Where the proposers' blocks live inside --out. */
export const IDENTITY_BLOCKS_REL = '_desi-qad/identity';

/** A Paxos ballot: a counter, then the proposer's run id as the tie-break. */
export type Ballot = readonly [number, string];

/** A proposer's block (its "disk block" in Disk Paxos). */
export interface IdentityBlock {
  mbal: Ballot;
  bal: Ballot | null;
  value: DatasetIdentity;
}

/** Orders ballots by counter, then by run id (byte order); null (nothing accepted) is below every ballot. */
export function compareBallots(a: Ballot | null, b: Ballot | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? -1 : 1;
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

/** A block's text: one line of JSON. */
export function formatBlock(b: IdentityBlock): string {
  return JSON.stringify({ mbal: b.mbal, bal: b.bal, value: JSON.parse(formatIdentity(b.value)) as unknown }) + '\n';
}

/**
 * Parses and validates a block's text; `owner` is the run id its key names, which its ballots must carry.
 * Throws an Error naming `where`.
 */
export function parseBlock(text: string, where: string, owner: string): IdentityBlock {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where}: the identity block is not valid JSON: ${(err as Error).message}`);
  }
  const bad = (what: string): Error => new Error(`${where}: not a valid identity block: ${what}`);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad('expected a JSON object');
  const o = v as Record<string, unknown>;
  const ballot = (k: string): Ballot => {
    const b = o[k];
    if (!Array.isArray(b) || b.length !== 2 || typeof b[0] !== 'number' || !Number.isSafeInteger(b[0]) || b[0] < 1 || b[1] !== owner) {
      throw bad(`"${k}" is ${JSON.stringify(b)}, expected [counter >= 1, ${JSON.stringify(owner)}]`);
    }
    return [b[0], owner];
  };
  const mbal = ballot('mbal');
  const bal = o.bal === null ? null : ballot('bal');
  if (compareBallots(bal, mbal) > 0) throw bad(`"bal" ${JSON.stringify(bal)} is above "mbal" ${JSON.stringify(mbal)}`);
  const value = identityFromJson(o.value, `${where} (its value)`);
  return { mbal, bal, value };
}

export interface S3IdentityOptions {
  retry?: RetryOptions;
  /** Paxos rounds before establish() gives up (default 30). */
  maxRounds?: number;
  /** GETs of blocks in flight at once (default 8). */
  getConcurrency?: number;
}

/**
 * What establish() did, for logs and tests: rounds started, backoffs after a higher ballot, phase 1s that
 * took over another proposer's accepted value instead of our own, requests sent.
 */
export interface S3IdentityStats {
  rounds: number;
  backoffs: number;
  adopted: number;
  requests: number;
}

const DEFAULT_MAX_ROUNDS = 30;
const MAX_BACKOFF_MS = 10_000;

export class S3IdentityStore implements IdentityStore {
  /** s3://bucket/prefix/_desi-qad/dataset.json */
  readonly location: string;
  readonly bucket: string;
  readonly manifestKey: string;
  readonly blocksFolder: string;
  readonly stats: S3IdentityStats = { rounds: 0, backoffs: 0, adopted: 0, requests: 0 };

  constructor(
    private readonly client: S3Client,
    out: string | S3Url,
    private readonly opts: S3IdentityOptions = {},
  ) {
    const u = toS3Url(out);
    this.bucket = u.bucket;
    this.manifestKey = joinKey(u.prefix, MANIFEST_REL);
    this.blocksFolder = folderPrefix(joinKey(u.prefix, IDENTITY_BLOCKS_REL));
    this.location = formatS3Url(this.bucket, this.manifestKey);
  }

  async read(signal?: AbortSignal): Promise<DatasetIdentity | undefined> {
    const text = await this.getText(this.manifestKey, signal, (t, where) => identityFromJson(parseJsonAnswer(t, where), where));
    return text?.parsed;
  }

  async establish(proposed: DatasetIdentity, signal?: AbortSignal): Promise<{ identity: DatasetIdentity; created: boolean }> {
    const value = identityFromJson(proposed, 'the proposed dataset identity');
    const me = value.createdBy;
    if (!/^[0-9A-Za-z][0-9A-Za-z._-]*$/.test(me) || me.length > 200) {
      throw new Error(`the proposed dataset identity: createdBy ${JSON.stringify(me)} cannot name an S3 block (a run id is expected)`);
    }
    const myKey = `${this.blocksFolder}${me}.json`;
    const maxRounds = this.opts.maxRounds ?? DEFAULT_MAX_ROUNDS;
    let mine: IdentityBlock = { mbal: [1, me], bal: null, value };
    let highest = 0; // the highest counter of any ballot seen
    let others = 0;
    let phaseMs = 0; // how long our last phase 1 took: half a round, the time a rival needs to finish
    for (let round = 1; round <= maxRounds; round++) {
      signal?.throwIfAborted();
      const existing = await this.read(signal);
      if (existing) return { identity: existing, created: existing.createdBy === me };
      this.stats.rounds += 1;
      const started = Date.now();

      // Phase 1: announce a ballot above all seen, learn what may already have been chosen.
      const mbal: Ballot = [highest + 1, me];
      mine = { ...mine, mbal };
      await this.putBlock(myKey, mine, signal);
      let blocks = await this.readBlocks(me, signal);
      others = blocks.length;
      highest = Math.max(highest, ...blocks.map((b) => b.mbal[0]));
      phaseMs = Date.now() - started;
      if (blocks.some((b) => compareBallots(b.mbal, mbal) > 0)) {
        await this.backoff(phaseMs, signal);
        continue;
      }
      let top: IdentityBlock | undefined = mine.bal !== null ? mine : undefined;
      for (const b of blocks) if (b.bal !== null && compareBallots(b.bal, top?.bal ?? null) > 0) top = b;
      const chosen = top?.value ?? value;
      if (chosen.createdBy !== me) this.stats.adopted += 1;

      // Phase 2: accept it with our ballot; decided if no one started a higher ballot meanwhile.
      mine = { mbal, bal: mbal, value: chosen };
      await this.putBlock(myKey, mine, signal);
      blocks = await this.readBlocks(me, signal);
      others = blocks.length;
      highest = Math.max(highest, ...blocks.map((b) => b.mbal[0]));
      if (blocks.some((b) => compareBallots(b.mbal, mbal) > 0)) {
        await this.backoff(phaseMs, signal);
        continue;
      }
      const identity = await this.publish(chosen, signal);
      return { identity, created: identity.createdBy === me };
    }
    throw new Error(
      `${this.location}: gave up agreeing on the dataset identity after ${maxRounds} rounds against ${others} other run(s) proposing under ${formatS3Url(this.bucket, this.blocksFolder)} (each round was overtaken by a higher ballot); run again`,
    );
  }

  /** Writes the decided identity as dataset.json (first writer wins where If-None-Match is honoured) and reads it back. */
  private async publish(chosen: DatasetIdentity, signal: AbortSignal | undefined): Promise<DatasetIdentity> {
    const key = this.manifestKey;
    const body = formatIdentity(chosen);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.call('PutObject', key, signal, async () => {
          const answer = await this.client.send(
            new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json', IfNoneMatch: '*' }),
            { abortSignal: signal },
          );
          checkWriteAnswer(answer, `PutObject ${formatS3Url(this.bucket, key)}`);
        });
      } catch (err) {
        // 412: another decider wrote it first. 409: a conditional write raced ours; S3 asks to retry it.
        const status = (err as { status?: number }).status;
        if (status !== 412 && !(status === 409 && attempt < 5)) throw err;
      }
      const got = await this.read(signal);
      if (got) {
        if (!sameIdentity(got, chosen)) {
          throw new Error(
            `${this.location}: holds the identity made by ${got.createdBy} (selection ${JSON.stringify(got.selection)}), but the runs agreed on the one of ${chosen.createdBy} (selection ${JSON.stringify(chosen.selection)}): something outside desi-qad's protocol wrote it`,
          );
        }
        return got;
      }
      if (attempt >= 5) throw new Error(`${this.location}: the dataset manifest is missing right after it was written`);
    }
  }

  /**
   * The pause before the next round, after a rival showed a higher ballot. It lasts at least about a round
   * (two phases), so that the rival can finish phase 2 and publish before we overtake it with a higher
   * ballot again (dueling proposers), plus a random part that doubles with each backoff, which spreads the
   * proposers that back off together. Abortable.
   */
  private async backoff(phaseMs: number, signal: AbortSignal | undefined): Promise<void> {
    this.stats.backoffs += 1;
    const round = 2 * Math.min(1_000, Math.max(5, phaseMs));
    const jitter = Math.min(MAX_BACKOFF_MS, round * 2 ** Math.min(this.stats.backoffs - 1, 4));
    await sleep(round + Math.floor(Math.random() * jitter), undefined, { signal });
  }

  private async putBlock(key: string, block: IdentityBlock, signal: AbortSignal | undefined): Promise<void> {
    const body = formatBlock(block);
    await this.call('PutObject', key, signal, async () => {
      const answer = await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json' }), {
        abortSignal: signal,
      });
      checkWriteAnswer(answer, `PutObject ${formatS3Url(this.bucket, key)}`);
    });
  }

  /** Every other proposer's block (LIST of the blocks' folder, then a GET of each). */
  private async readBlocks(me: string, signal: AbortSignal | undefined): Promise<IdentityBlock[]> {
    const folder = this.blocksFolder;
    const owners: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.call('ListObjectsV2', folder, signal, async () => {
        const p = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: folder, ContinuationToken: token }), { abortSignal: signal });
        checkListing(p, `ListObjectsV2 ${formatS3Url(this.bucket, folder)}`);
        return p;
      });
      for (const o of page.Contents ?? []) {
        const name = o.Key?.startsWith(folder) ? o.Key.slice(folder.length) : '';
        if (!name.endsWith('.json') || name.includes('/')) continue;
        const owner = name.slice(0, -'.json'.length);
        if (owner !== me && owner !== '') owners.push(owner);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const read = await mapLimit(
      owners,
      this.opts.getConcurrency ?? 8,
      async (owner) => (await this.getText(`${folder}${owner}.json`, signal, (t, where) => parseBlock(parseJsonText(t, where), where, owner)))?.parsed,
      { signal },
    );
    // A listed block that is gone was deleted by hand; it reads as the empty block it was before it was written.
    return read.filter((b): b is IdentityBlock => b !== undefined);
  }

  /**
   * GETs a key and parses its body with `parse`; undefined on 404. A body that is not JSON (a torn read, a
   * proxy's HTML page) is retried like a bad body, then reported naming the key.
   */
  private async getText<T>(key: string, signal: AbortSignal | undefined, parse: (text: string, where: string) => T): Promise<{ parsed: T } | undefined> {
    const where = formatS3Url(this.bucket, key);
    return this.call('GetObject', key, signal, async () => {
      let text: string;
      try {
        const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
        text = r.Body ? await r.Body.transformToString('utf8') : '';
      } catch (err) {
        if (httpStatusOf(err) === 404 || (err as { name?: string }).name === 'NoSuchKey') return undefined;
        throw err;
      }
      return { parsed: parse(text, where) };
    });
  }

  /** One request through withRetry, counted; failures become S3Errors naming the key (an abort stays an abort). */
  private async call<T>(operation: string, key: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await withRetry(
        `${operation} ${formatS3Url(this.bucket, key)}`,
        () => {
          signal?.throwIfAborted();
          this.stats.requests += 1;
          return fn();
        },
        this.opts.retry,
      );
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw s3Error(err, { client: this.client, bucket: this.bucket, key, operation: `identity ${operation}` });
    }
  }
}

/** JSON.parse of an answer's body; a body that is not JSON is retried as a bad body (a torn read or a proxy page). */
function parseJsonText(text: string, where: string): string {
  parseJsonAnswer(text, where);
  return text;
}

function parseJsonAnswer(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const head = text.trimStart().slice(0, 40);
    const page = head.startsWith('<') ? `it starts with ${JSON.stringify(head)}, a proxy or portal page?` : (err as Error).message;
    throw new NotS3AnswerError(`${where}: the answer is not JSON (${page})`);
  }
}
