/**
 * Which runs are alive on one --out, and which run converts which tile. Many `desi-qad convert` processes may
 * share an output (on one machine, on a shared filesystem, on S3); each one
 *
 * - keeps a heartbeat record `_desi-qad/runs/{run}.json` (host, pid, lease), renewed every lease / 4, so
 *   the others can tell that it is alive, and that the temporaries and uploads named for it are in use;
 * - claims a tile before converting it, with a claim `_desi-qad/claims/{tile}/{run}`, so two runs do not
 *   convert the same tile at once.
 *
 * A heartbeat's time is its writer's clock and is compared with the reader's, so machines sharing an output
 * need clocks that agree to well within the lease (NTP does; the default lease is 2 minutes).
 *
 * The protocol lives here, once (BaseRegistry); registry-local.ts and registry-s3.ts only store, list and
 * remove the small records (RegistryBackend).
 */
import { createHash } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { isRunId } from './run-id.js';
import { safeEncode } from './s3-journal.js';

/** How long a heartbeat stays valid without renewal (2 minutes); a run renews it every quarter of that. */
export const DEFAULT_LEASE_MS = 120_000;

/** Where heartbeats and claims live inside --out. */
export const REGISTRY_REL = '_desi-qad';
export const RUNS_REL = `${REGISTRY_REL}/runs`;
export const CLAIMS_REL = `${REGISTRY_REL}/claims`;

/**
 * The lease of this process: DESI_QAD_LEASE_MS when it is a positive integer (tests use ~2000 so that an
 * abandoned run expires quickly), DEFAULT_LEASE_MS otherwise.
 */
export function leaseMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.DESI_QAD_LEASE_MS;
  if (text === undefined || !/^\d+$/.test(text.trim())) return DEFAULT_LEASE_MS;
  const n = Number(text.trim());
  return Number.isSafeInteger(n) && n > 0 ? n : DEFAULT_LEASE_MS;
}

/** A run's heartbeat record: who it is, where it runs, and until when it counts as alive. */
export interface RunInfo {
  run: string;
  host: string;
  pid: number;
  /** ISO time the run started. */
  started: string;
  /** ISO time of the last renewal (the writer's clock). */
  heartbeat: string;
  /** The run's lease: it is gone once now > heartbeat + leaseMs. */
  leaseMs: number;
  /**
   * The pid namespace of the process (Linux: the link of /proc/self/ns/pid). Containers that share the
   * host's name (network mode host) have pids of their own: a pid is not tested across two namespaces.
   */
  pidNamespace?: string;
}

/** The answer to a claim: the tile is this run's, or `holder` (another live run) has it. */
export type ClaimResult = { ok: true } | { ok: false; holder: string };

/** The registry of runs and tile claims of one --out (see the module comment). */
export interface RunRegistry {
  /** This run's id. */
  readonly run: string;
  /** Writes this run's heartbeat record `_desi-qad/runs/{run}.json` and renews it every leaseMs/4 (an unref'd timer) until stop(). */
  start(): Promise<void>;
  /**
   * Provably gone: no heartbeat record; or heartbeat older than its lease (now > heartbeat + leaseMs); or it
   * ran on this host (os.hostname()) and its pid is not alive (process.kill(pid, 0) throws ESRCH).
   */
  isGone(run: string): Promise<boolean>;
  /** Claims a tile ("main/dark/23040") for this run, see the protocol at BaseRegistry.claim. */
  claim(tile: string): Promise<ClaimResult>;
  /** Drops this run's claim on the tile (after its journal record is written). */
  release(tile: string): Promise<void>;
  /** Whether some live run other than this one holds a claim on the tile (used by the S3 sweep). */
  heldByOther(tile: string): Promise<boolean>;
  /** Stops renewing, removes this run's remaining claims, then its heartbeat. */
  stop(): Promise<void>;
  /** Every heartbeat record under `_desi-qad/runs/` (live or expired; ones that do not parse left out), for `desi-qad status`. */
  listRuns(): Promise<RunInfo[]>;
}

/** What a backend read of a heartbeat found: the record, or only the time of an object that does not parse. */
export interface HeartbeatRead {
  info?: RunInfo;
  modified?: Date;
}

/** Storage of the registry's records: small whole-object writes, listings and removals. */
export interface RegistryBackend {
  /** Where the registry lives, for messages. */
  readonly location: string;
  /** Writes (replaces) the heartbeat record of `info.run`, atomically: readers see the old or the new one whole. */
  putHeartbeat(info: RunInfo): Promise<void>;
  /** The heartbeat record of `run`; undefined when there is none. */
  getHeartbeat(run: string): Promise<HeartbeatRead | undefined>;
  /** Removes the heartbeat record of `run` (no error if it is already gone). */
  removeHeartbeat(run: string): Promise<void>;
  /** Every heartbeat record that parses (one listing, then one read each). */
  listHeartbeats(): Promise<RunInfo[]>;
  /** Writes the claim of `run` on the tile whose encoded name is `tileName`. */
  putClaim(tileName: string, run: string, body: string): Promise<void>;
  /** The runs with a claim on the tile (every page of the listing; names that are not run ids left out). */
  listClaims(tileName: string): Promise<string[]>;
  /** Removes the claim of `run` on the tile (no error if it is already gone). */
  removeClaim(tileName: string, run: string): Promise<void>;
}

/** Key segments stay well below the 255 bytes of a file name (and S3's 1,024-byte keys). */
const MAX_SEGMENT_BYTES = 200;

/**
 * A tile key as one path segment: safeEncode's [A-Za-z0-9-] with '.XX' escapes ("main.2Fdark.2F23040").
 * A key that would encode to 200 bytes or more (none of DESI's) keeps a readable head and a hash.
 */
export function tileSegment(tile: string): string {
  if (tile === '') throw new Error('a tile claim needs a tile key, got ""');
  const enc = safeEncode(tile);
  if (enc.length < MAX_SEGMENT_BYTES) return enc;
  return `${enc.slice(0, 120)}-h${createHash('sha256').update(tile).digest('hex').slice(0, 40)}`;
}

/** Whether a process with this pid exists on this machine (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** This process's pid namespace (Linux), undefined where there is none to read. */
export function pidNamespace(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
}

/** Whether `v` has the shape of a heartbeat record. */
export function isRunInfo(v: unknown): v is RunInfo {
  if (!v || typeof v !== 'object') return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.run === 'string' &&
    typeof r.host === 'string' &&
    typeof r.pid === 'number' &&
    typeof r.started === 'string' &&
    typeof r.heartbeat === 'string' &&
    typeof r.leaseMs === 'number' &&
    Number.isFinite(Date.parse(r.heartbeat)) &&
    r.leaseMs > 0
  );
}

export interface RegistryOptions {
  /** This run's lease (default leaseMsFromEnv()). */
  leaseMs?: number;
  /** How long an isGone answer is reused (default min(5 s, lease / 4)). */
  goneCacheMs?: number;
  /** The clock, in ms (tests). */
  now?: () => number;
  /** This machine's name (default os.hostname()). */
  host?: string;
}

/**
 * The registry's protocol over a backend: heartbeats with renewal, the liveness test, claims. The local and
 * S3 registries are this class with their own backend.
 */
export class BaseRegistry implements RunRegistry {
  readonly run: string;
  readonly leaseMs: number;
  /** The last error of a background renewal or of a best-effort removal; the run decides whether to log it. */
  lastError?: Error;
  private readonly host: string;
  private readonly pidNs = pidNamespace();
  private readonly now: () => number;
  private readonly goneCacheMs: number;
  private readonly started: string;
  private readonly gone = new Map<string, { gone: boolean; at: number }>();
  /** Tiles this run has claimed and not released. */
  private readonly held = new Set<string>();
  private timer?: NodeJS.Timeout;
  private renewing?: Promise<void>;
  private running = false;
  private lastRenewedAt?: number;

  constructor(
    protected readonly backend: RegistryBackend,
    run: string,
    opts: RegistryOptions = {},
  ) {
    if (!isRunId(run)) throw new Error(`run registry ${backend.location}: ${JSON.stringify(run)} is not a run id`);
    this.run = run;
    this.leaseMs = opts.leaseMs ?? leaseMsFromEnv();
    if (!(this.leaseMs > 0)) throw new Error(`run registry ${backend.location}: lease ${this.leaseMs} ms is not positive`);
    this.host = opts.host ?? hostname();
    this.now = opts.now ?? Date.now;
    this.goneCacheMs = opts.goneCacheMs ?? Math.min(5_000, this.leaseMs / 4);
    this.started = new Date(this.now()).toISOString();
  }

  /** When this run's heartbeat was last written (ms), undefined before start(). */
  get renewedAt(): number | undefined {
    return this.lastRenewedAt;
  }

  async start(): Promise<void> {
    if (this.running) return;
    await this.writeHeartbeat();
    this.running = true;
    this.schedule();
  }

  async isGone(run: string): Promise<boolean> {
    if (run === this.run) return !this.running;
    const t = this.now();
    const cached = this.gone.get(run);
    if (cached && t - cached.at < this.goneCacheMs) return cached.gone;
    const gone = await this.readGone(run);
    this.gone.set(run, { gone, at: this.now() });
    return gone;
  }

  /**
   * Claims the tile: write my claim; list the tile's claims; a claim whose run isGone is ignored (and
   * removed, best effort); if a live claim of another run remains, remove mine and yield to it.
   *
   * Why at most one run proceeds: writes and listings are strongly consistent (a local filesystem; S3 since
   * December 2020), so a listing shows every claim written before it began. If runs A and B race, and A's
   * listing does not show B's claim, B wrote its claim after A's listing began, so after A's claim was in
   * place, and B's listing shows A's claim: B yields. So of two racing runs at most one sees only itself. If
   * both see both, both yield, and each retries later (the run retries deferred tiles after a random
   * delay), so one of them soon wins. A live claim is never ignored unless its run's lease lapsed (a run
   * that could not renew for a whole lease, e.g. a suspended machine): then two runs may convert the tile,
   * which writes the same file twice but corrupts nothing, as every write is atomic.
   */
  async claim(tile: string): Promise<ClaimResult> {
    if (!this.running) throw new Error(`run registry ${this.backend.location}: claim of ${tile} before start() (or after stop()) of run ${this.run}`);
    const seg = tileSegment(tile);
    const body = JSON.stringify({ run: this.run, tile, host: this.host, pid: process.pid, time: new Date(this.now()).toISOString() }) + '\n';
    this.held.add(tile);
    try {
      await this.backend.putClaim(seg, this.run, body);
    } catch (err) {
      // The write may or may not have landed: try to take it back, and let stop() try again.
      await this.removeMine(tile, seg);
      throw err;
    }
    let holder: string | undefined;
    try {
      holder = await this.liveOther(seg);
    } catch (err) {
      await this.removeMine(tile, seg);
      throw err;
    }
    if (holder === undefined && this.running) return { ok: true };
    await this.removeMine(tile, seg);
    if (holder === undefined) throw new Error(`run registry ${this.backend.location}: run ${this.run} was stopped while claiming ${tile}`);
    return { ok: false, holder };
  }

  /** Removes the claim; never rejects: a failure is kept in lastError and stop() tries again. */
  async release(tile: string): Promise<void> {
    await this.removeMine(tile, tileSegment(tile));
  }

  async heldByOther(tile: string): Promise<boolean> {
    return (await this.liveOther(tileSegment(tile))) !== undefined;
  }

  /** Never rejects: failures are kept in lastError (a heartbeat left behind expires with its lease). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.renewing;
    await Promise.all([...this.held].map((tile) => this.removeMine(tile, tileSegment(tile))));
    try {
      await this.backend.removeHeartbeat(this.run);
    } catch (err) {
      this.lastError = asError(err);
    }
  }

  async listRuns(): Promise<RunInfo[]> {
    return this.backend.listHeartbeats();
  }

  /** Whether a heartbeat's process is known gone on this machine: same host and pid namespace, pid not alive. */
  processGone(info: RunInfo): boolean {
    const sameNs = info.pidNamespace === undefined || this.pidNs === undefined || info.pidNamespace === this.pidNs;
    return info.host === this.host && sameNs && !pidAlive(info.pid);
  }

  /** The first run other than this one with a live claim on the tile; gone runs' claims are removed on the way. */
  private async liveOther(seg: string): Promise<string | undefined> {
    let holder: string | undefined;
    for (const run of await this.backend.listClaims(seg)) {
      if (run === this.run) continue;
      if (await this.isGone(run)) {
        await this.backend.removeClaim(seg, run).catch((err: unknown) => {
          this.lastError = asError(err);
        });
      } else holder ??= run;
    }
    return holder;
  }

  private async removeMine(tile: string, seg: string): Promise<void> {
    try {
      await this.backend.removeClaim(seg, this.run);
      this.held.delete(tile);
    } catch (err) {
      this.lastError = asError(err);
    }
  }

  private async readGone(run: string): Promise<boolean> {
    const read = await this.backend.getHeartbeat(run);
    if (read === undefined) return true;
    const t = this.now();
    const info = read.info;
    if (info === undefined) {
      // A record that does not parse (written by something else): alive until a lease past its write time.
      return read.modified === undefined || t > read.modified.getTime() + this.leaseMs;
    }
    if (t > Date.parse(info.heartbeat) + info.leaseMs) return true;
    return this.processGone(info);
  }

  private async writeHeartbeat(): Promise<void> {
    const t = this.now();
    const info: RunInfo = {
      run: this.run,
      host: this.host,
      pid: process.pid,
      started: this.started,
      heartbeat: new Date(t).toISOString(),
      leaseMs: this.leaseMs,
    };
    if (this.pidNs !== undefined) info.pidNamespace = this.pidNs;
    await this.backend.putHeartbeat(info);
    this.lastRenewedAt = t;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.renewing = this.writeHeartbeat()
        .catch((err: unknown) => {
          this.lastError = asError(err);
        })
        .finally(() => {
          this.renewing = undefined;
          this.schedule();
        });
    }, this.leaseMs / 4);
    this.timer.unref();
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
