/**
 * The run registry in a local (or shared) folder: `{out}/_desi-qad/runs/{run}.json` heartbeats, written to a
 * temporary name and renamed so a reader sees a whole record, and `{out}/_desi-qad/claims/{tile}/{run}`
 * claims, one small file each. A local filesystem lists what was written before the listing began, which
 * the claim protocol needs (run-registry.ts). On NFS, turn directory attribute caching off (`noac` or
 * `lookupcache=none`) for the same guarantee across machines.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TEMP_MARK } from './output-local.js';
import { BaseRegistry, CLAIMS_REL, isRunInfo, RUNS_REL, type HeartbeatRead, type RegistryBackend, type RegistryOptions, type RunInfo } from './run-registry.js';
import { isRunId } from './run-id.js';

/** The registry's files under `{outRoot}/_desi-qad/`. */
export class LocalRegistryBackend implements RegistryBackend {
  readonly location: string;
  private readonly runsDir: string;
  private readonly claimsDir: string;

  constructor(outRoot: string) {
    const root = resolve(outRoot);
    this.runsDir = join(root, RUNS_REL);
    this.claimsDir = join(root, CLAIMS_REL);
    this.location = join(root, '_desi-qad');
  }

  async putHeartbeat(info: RunInfo): Promise<void> {
    await mkdir(this.runsDir, { recursive: true });
    const tmp = join(this.runsDir, `${TEMP_MARK}${info.run}.${randomBytes(6).toString('hex')}`);
    try {
      await writeFile(tmp, JSON.stringify(info) + '\n', { flag: 'wx' });
      await rename(tmp, this.heartbeatPath(info.run));
    } catch (err) {
      await rm(tmp, { force: true });
      throw withPath(err, `heartbeat ${this.heartbeatPath(info.run)}`);
    }
  }

  async getHeartbeat(run: string): Promise<HeartbeatRead | undefined> {
    const path = this.heartbeatPath(run);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw withPath(err, `heartbeat ${path}`);
    }
    try {
      const v: unknown = JSON.parse(text);
      if (isRunInfo(v)) return { info: v };
    } catch {
      // falls through: a file that is not a record
    }
    try {
      return { modified: (await stat(path)).mtime };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw withPath(err, `heartbeat ${path}`);
    }
  }

  async listHeartbeats(): Promise<RunInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.runsDir);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw withPath(err, `heartbeats ${this.runsDir}`);
    }
    const runs: RunInfo[] = [];
    for (const name of names.sort()) {
      if (!name.endsWith('.json') || !isRunId(name.slice(0, -'.json'.length))) continue;
      const read = await this.getHeartbeat(name.slice(0, -'.json'.length));
      if (read?.info) runs.push(read.info);
    }
    return runs;
  }

  async removeHeartbeat(run: string): Promise<void> {
    await rm(this.heartbeatPath(run), { force: true });
  }

  async putClaim(tileName: string, run: string, body: string): Promise<void> {
    const dir = join(this.claimsDir, tileName);
    // Another run may remove the tile's folder when it empties (removeClaim) between our mkdir and write.
    for (let attempt = 1; ; attempt++) {
      try {
        // Inside the retry: a recursive mkdir racing another run's rmdir of the same folder fails with ENOENT too.
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, run), body);
        return;
      } catch (err) {
        if (!isNotFound(err) || attempt >= 5) throw withPath(err, `claim ${join(dir, run)}`);
      }
    }
  }

  async listClaims(tileName: string): Promise<string[]> {
    const dir = join(this.claimsDir, tileName);
    try {
      return (await readdir(dir)).filter(isRunId);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw withPath(err, `claims ${dir}`);
    }
  }

  async removeClaim(tileName: string, run: string): Promise<void> {
    const dir = join(this.claimsDir, tileName);
    await rm(join(dir, run), { force: true });
    // Leave no empty folder per tile behind; another claim may be in it (ENOTEMPTY) or it may be gone.
    await rmdir(dir).catch(() => undefined);
  }

  private heartbeatPath(run: string): string {
    return join(this.runsDir, `${run}.json`);
  }
}

/** The registry of a local --out (see run-registry.ts for the protocol). */
export class LocalRegistry extends BaseRegistry {
  constructor(outRoot: string, run: string, opts?: RegistryOptions) {
    super(new LocalRegistryBackend(outRoot), run, opts);
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** The error with what it was about in front of its message (Node's fs errors name the path already, often). */
function withPath(err: unknown, what: string): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  if (!e.message.startsWith(what)) e.message = `${what}: ${e.message}`;
  return e;
}
