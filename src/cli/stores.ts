import { join, relative } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Layout, ObjectRef } from '../desi/tile.js';
import { LocalCumulativeStore } from '../storage/cumulative-local.js';
import { S3CumulativeStore } from '../storage/cumulative-s3.js';
import type { JournalStore } from '../storage/journal-store.js';
import { LocalJournalStore } from '../storage/journal-local.js';
import { LocalTileStore } from '../storage/local-tree.js';
import { LocalOutputStore } from '../storage/output-local.js';
import type { OutputStore } from '../storage/output-store.js';
import { newRetryCounters, type RetryCounters } from '../storage/retry.js';
import { newRunId } from '../storage/run-id.js';
import { makeS3Client, type S3ClientOptions } from '../storage/s3-client.js';
import { S3JournalStore, journalUrlFor } from '../storage/s3-journal.js';
import { S3OutputStore } from '../storage/s3-output.js';
import { S3TileStore } from '../storage/s3-tree.js';
import { isS3Url, parseS3Url } from '../storage/s3-url.js';
import type { TileStore } from '../storage/tile-store.js';
import type { IdentityStore } from '../storage/dataset-identity.js';
import { LocalIdentityStore } from '../storage/identity-local.js';
import { S3IdentityStore } from '../storage/identity-s3.js';
import { leaseMsFromEnv, type RunRegistry } from '../storage/run-registry.js';
import { LocalRegistry } from '../storage/registry-local.js';
import { S3Registry } from '../storage/registry-s3.js';
import { registerEnvSecrets, registerUrlSecrets } from '../util/secrets.js';
import { registerClientSecrets } from '../storage/s3-client.js';

/** DESI DR1's healpix tree in DESI's public bucket: the default --source. */
export const DR1_HEALPIX = 's3://desidata/dr1/spectro/redux/iron/healpix';

/**
 * The journal's folder inside a local --out (one JSONL file per run); names starting with '_' are skipped
 * by Spark and by `*.parquet` globs. Older versions kept one file, `_desi-qad/journal.jsonl`, still read.
 */
/** DESI DR1's tile-based cumulative coadds in DESI's public bucket: the default --source of --layout tiles. */
export const DR1_TILES = 's3://desidata/dr1/spectro/redux/iron/tiles/cumulative';

export const JOURNAL_REL = '_desi-qad/journal';

export interface StoreArgs {
  source: string;
  /** The source tree's layout (default 'healpix'). */
  layout?: Layout;
  out: string;
  region: string;
  endpoint?: string;
  /** false with --no-sign-request; undefined = anonymous for DESI's public bucket, signed otherwise. */
  signRequest?: boolean;
  profile?: string;
  downloads: number;
  /** --reads-in-flight: the run's cap on source reads in flight; the socket pool is at least as large. */
  readsInFlight?: number;
  /** --cli-read-timeout: seconds without a byte before a read is abandoned and retried. */
  readTimeoutSec: number;
  /** --cli-connect-timeout: seconds to open a connection. */
  connectTimeoutSec: number;
  /** --max-attempts: tries per S3 request before its tile fails. */
  maxAttempts: number;
  /** The run's id (storage/run-id.ts): names the run's own journal file in a local --out (default: a new id). */
  run?: string;
}

/** The stores of one run, and the counters they share. */
export interface Stores {
  store: TileStore;
  out: OutputStore;
  journal: JournalStore;
  /** The dataset's manifest (one selection and source per --out). */
  identity: IdentityStore;
  /** Heartbeats and tile claims of the runs sharing --out. */
  registry: RunRegistry;
  relativeOf: (ref: ObjectRef) => string;
  /**
   * Every S3 retry of the run: discovery's listings, every object's reads, the journal's and the output's
   * requests (all zero for local folders). The run's total; a tile's share is the sum of `retries` over
   * the objects it opened, which are already counted here.
   */
  retries: RetryCounters;
  /**
   * The S3 clients behind the stores, for commands that read more than the stores offer (verify's source
   * lookups, ranged reads of the dataset's files): `source` anonymous or signed by the rule above, `out` signed.
   */
  clients: { source?: S3Client; out?: S3Client };
}

/** The S3 connection options as yargs parses them (s3ConnectionOptions and --sign-request, convert-command.ts). */
export interface ConnectionArgv {
  region: string;
  endpoint?: string;
  'sign-request'?: boolean;
  profile?: string;
  'cli-read-timeout': number;
  'cli-connect-timeout': number;
  'max-attempts': number;
}

/** StoreArgs' connection fields from the parsed options: one mapping for every command that opens stores. */
export function connectionOf(a: ConnectionArgv, downloads = 1): Omit<StoreArgs, 'source' | 'out'> {
  return {
    region: a.region,
    endpoint: a.endpoint,
    signRequest: a['sign-request'],
    profile: a.profile,
    downloads,
    readTimeoutSec: a['cli-read-timeout'],
    connectTimeoutSec: a['cli-connect-timeout'],
    maxAttempts: a['max-attempts'],
  };
}

/**
 * Where the run reads and writes, from the command line: a local folder or an s3:// URL for each. Reading
 * DESI's public bucket is anonymous unless asked otherwise; writing to S3 always uses the credential chain.
 */
export function openStores(a: StoreArgs): Stores {
  // Before any client exists: the values every message of the run must blank (util/secrets.ts).
  registerEnvSecrets();
  for (const url of [a.endpoint, a.source, a.out]) registerUrlSecrets(url);
  const s3opts = (anonymous: boolean): S3ClientOptions => ({
    region: a.region,
    endpoint: a.endpoint,
    noSignRequest: anonymous,
    profile: a.profile,
    maxSockets: Math.max(64, a.downloads * 8, a.readsInFlight ?? 0),
    connectionTimeoutMs: a.connectTimeoutSec * 1000,
    socketTimeoutMs: a.readTimeoutSec * 1000,
  });
  const retries = newRetryCounters();
  const retry = { maxAttempts: a.maxAttempts, counters: retries };
  // One id names this run everywhere: journal, temporaries, uploads' metadata, claims and heartbeat.
  const run = a.run ?? newRunId();
  const leaseMs = leaseMsFromEnv();
  let store: TileStore;
  let relativeOf: (ref: ObjectRef) => string;
  let sourceClient: S3Client | undefined;
  if (isS3Url(a.source)) {
    const url = parseS3Url(a.source);
    const anonymous = a.signRequest === undefined ? url.bucket === 'desidata' : !a.signRequest;
    sourceClient = signing(makeS3Client(s3opts(anonymous)), !anonymous);
    const opts = { retry, source: { retry, stallMs: a.readTimeoutSec * 1000 } };
    store = a.layout === 'tiles' ? new S3CumulativeStore(sourceClient, url, opts) : new S3TileStore(sourceClient, url, opts);
    relativeOf = (ref) => (url.prefix ? ref.path.slice(url.prefix.length + 1) : ref.path);
  } else {
    const local = a.layout === 'tiles' ? new LocalCumulativeStore(a.source) : new LocalTileStore(a.source);
    store = local;
    relativeOf = (ref) => relative(local.root, ref.path);
  }
  if (isS3Url(a.out)) {
    const url = parseS3Url(a.out);
    const client = signing(makeS3Client(s3opts(false)), true);
    return {
      store,
      out: new S3OutputStore(client, url, { retry, run }),
      journal: new S3JournalStore(client, journalUrlFor(url), { retry }),
      identity: new S3IdentityStore(client, url, { retry }),
      registry: new S3Registry(client, url, run, { retry, leaseMs }),
      relativeOf,
      retries,
      clients: { source: sourceClient, out: client },
    };
  }
  const out = new LocalOutputStore(a.out, { run });
  return {
    store,
    out,
    journal: new LocalJournalStore(join(out.root, JOURNAL_REL), run),
    identity: new LocalIdentityStore(out.root),
    registry: new LocalRegistry(out.root, run, { leaseMs }),
    relativeOf,
    retries,
    clients: { source: sourceClient },
  };
}

/** The registrations of signed clients' credentials that openStores started (one process is one run). */
const pendingSecrets: Promise<void>[] = [];

/** Starts registering the credentials a signed client resolves (its signer resolves them anyway); returns the client. */
function signing(client: S3Client, signed: boolean): S3Client {
  if (signed) pendingSecrets.push(registerClientSecrets(client));
  return client;
}

/**
 * Waits until the credentials that the signed S3 clients made by openStores resolve (a profile's keys, SSO
 * or instance credentials: values the environment does not show) are registered with util/secrets.ts, so
 * that no line of the run can show them. openStores starts the registration; this is best effort: it never
 * rejects, and a client without credentials registers nothing. Await it once after openStores, before the
 * run's first request.
 */
export async function registerStoreSecrets(): Promise<void> {
  await Promise.all(pendingSecrets);
}
