import { link, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { OutputStore, TemporaryOwners, WrittenFile } from './output-store.js';
import { isRunId, newRunId } from './run-id.js';

/** The marker in temporary file names; no dataset reader globbing `*.parquet` ever matches it. */
export const TEMP_MARK = '.desi-qad-tmp-';

/** The folder of the tool's own records inside --out (journal, heartbeats, claims): not dataset files. */
const TOOL_DIR = '_desi-qad';

/** Temporaries of older versions carry no run id; the sweep removes them only once they are this old. */
export const OLD_TEMP_MIN_AGE_MS = 3_600_000;

/** The run that owns a temporary file, from its name `{TEMP_MARK}{run}.{hex}`; undefined for other names. */
export function temporaryOwner(name: string): string | undefined {
  if (!name.startsWith(TEMP_MARK)) return undefined;
  const m = /^(.+)\.[0-9a-f]+$/.exec(name.slice(TEMP_MARK.length));
  return m && isRunId(m[1]) ? m[1] : undefined;
}

export interface LocalOutputOptions {
  /** The run whose temporaries this store writes (default: a fresh run id). */
  run?: string;
}

/** A local output folder with temp-file + fsync + rename + fsync(dir) writes. */
export class LocalOutputStore implements OutputStore {
  readonly root: string;
  /** The run named in this store's temporary files. */
  readonly run: string;

  constructor(root: string, opts: LocalOutputOptions = {}) {
    this.root = resolve(root);
    this.run = opts.run ?? newRunId();
    if (!isRunId(this.run)) throw new Error(`output ${this.root}: ${JSON.stringify(this.run)} is not a run id`);
  }

  location(relPath: string): string {
    return this.resolveInside(relPath);
  }

  /** Writes through `{TEMP_MARK}{run}.{random hex}` in the file's folder, so the sweep knows whose it is. */
  async writeAtomic(relPath: string, bytes: Uint8Array): Promise<WrittenFile> {
    const final = this.resolveInside(relPath);
    const dir = dirname(final);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `${TEMP_MARK}${this.run}.${randomBytes(6).toString('hex')}`);
    try {
      const fh = await open(tmp, 'wx');
      try {
        let done = 0;
        while (done < bytes.byteLength) {
          const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done);
          done += bytesWritten;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, final);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    await fsyncDir(dir);
    return { size: bytes.byteLength };
  }

  /**
   * Writes `{TEMP_MARK}{run}.{hex}` whole and fsynced, then link(2)s it to the final name, which fails with
   * EEXIST when a file is there (on NFS too: see identity-local.ts for the lost-reply case, handled alike).
   */
  async writeOnce(relPath: string, bytes: Uint8Array): Promise<{ created: boolean }> {
    const final = this.resolveInside(relPath);
    const dir = dirname(final);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `${TEMP_MARK}${this.run}.${randomBytes(6).toString('hex')}`);
    let created = false;
    try {
      const fh = await open(tmp, 'wx');
      try {
        let done = 0;
        while (done < bytes.byteLength) {
          const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done);
          done += bytesWritten;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      try {
        await link(tmp, final);
        created = true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const [a, b] = await Promise.all([stat(tmp), stat(final)]);
        created = a.dev === b.dev && a.ino === b.ino;
      }
    } finally {
      await rm(tmp, { force: true });
    }
    await fsyncDir(dir);
    return { created };
  }

  /**
   * Removes temporary files whose run is gone (owners.isGone), never this run's own, and temporaries of
   * older versions (no run id in the name) once they are over an hour old; returns how many. Under
   * `_desi-qad/` (heartbeats), a temporary goes only once it is over an hour old: a run starting writes one
   * before its heartbeat exists, and would look gone.
   */
  async sweepTemporaries(owners: TemporaryOwners): Promise<number> {
    let removed = 0;
    const gone = new Map<string, Promise<boolean>>();
    const isGone = (run: string): Promise<boolean> => {
      let p = gone.get(run);
      if (!p) gone.set(run, (p = owners.isGone(run)));
      return p;
    };
    await walkFiles(this.root, '', async (path, name, rel) => {
      if (!name.startsWith(TEMP_MARK)) return;
      const run = temporaryOwner(name);
      if (run === this.run) return;
      // The registry writes a run's first heartbeat through a temporary before any record of that run exists,
      // so "no heartbeat" does not yet mean gone there: its temporaries go by age only.
      if (run !== undefined && !rel.startsWith(`${TOOL_DIR}/`)) {
        if (!(await isGone(run))) return;
      } else {
        let mtime: number;
        try {
          mtime = (await stat(path)).mtimeMs;
        } catch {
          return; // renamed into place or removed meanwhile
        }
        if (Date.now() - mtime <= OLD_TEMP_MIN_AGE_MS) return;
      }
      await rm(path, { force: true });
      removed += 1;
    });
    return removed;
  }

  async remove(relPath: string): Promise<void> {
    const path = this.resolveInside(relPath);
    try {
      await rm(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // not there: nothing to make durable
      throw err;
    }
    await fsyncDir(dirname(path));
  }

  /** Every `.parquet` file under the root but `_desi-qad/` and temporaries: relative path → size. */
  async listFiles(): Promise<Map<string, number>> {
    const files = new Map<string, number>();
    await walkFiles(
      this.root,
      '',
      async (path, name, rel) => {
        if (name.startsWith(TEMP_MARK) || !name.endsWith('.parquet')) return;
        try {
          files.set(rel, (await stat(path)).size);
        } catch {
          // removed meanwhile
        }
      },
      (rel) => rel !== TOOL_DIR,
      true,
    );
    return files;
  }

  /** The whole file; undefined when it does not exist. */
  async readFile(relPath: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.resolveInside(relPath)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** The last `n` bytes of the file (all of it when shorter); undefined when it does not exist. */
  async readTail(relPath: string, n: number): Promise<Uint8Array | undefined> {
    const path = this.resolveInside(relPath);
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const size = (await fh.stat()).size;
      const len = Math.max(0, Math.min(n, size));
      const buf = new Uint8Array(len);
      let done = 0;
      while (done < len) {
        const { bytesRead } = await fh.read(buf, done, len - done, size - len + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === len ? buf : buf.subarray(0, done);
    } finally {
      await fh.close();
    }
  }

  fileTailSync(relPath: string, n: number): { size: number; tail: Uint8Array } | undefined {
    const path = this.resolveInside(relPath);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const size = fstatSync(fd).size;
      const len = Math.max(0, Math.min(n, size));
      // Not zeroed: every byte returned is one read from the file (a short read returns only those).
      const tail = Buffer.allocUnsafe(len);
      let done = 0;
      while (done < len) {
        const got = readSync(fd, tail, done, len - done, size - len + done);
        if (got === 0) break;
        done += got;
      }
      return { size, tail: done === len ? tail : tail.subarray(0, done) };
    } finally {
      closeSync(fd);
    }
  }

  /** Resolves a relative path under the root; throws if it would land outside it. */
  private resolveInside(relPath: string): string {
    if (isAbsolute(relPath) || relPath.includes('\0')) throw new Error(`output path ${JSON.stringify(relPath)} is not a relative path`);
    const full = resolve(this.root, relPath);
    const rel = relative(this.root, full);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) {
      throw new Error(`output path ${JSON.stringify(relPath)} would land outside ${this.root}`);
    }
    return full;
  }
}

/**
 * Calls `visit` for every regular file below `dir` (path, name, path relative to the walk's root with '/'),
 * entering the folders `enter` accepts. Folders that vanish are skipped; folders that cannot be read are
 * skipped too unless `strict` (a listing must not silently miss files).
 */
async function walkFiles(
  dir: string,
  rel: string,
  visit: (path: string, name: string, rel: string) => Promise<void>,
  enter: (rel: string) => boolean = () => true,
  strict = false,
): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (!strict || (err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const e of entries) {
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) {
      if (enter(r)) await walkFiles(join(dir, e.name), r, visit, enter, strict);
    } else if (e.isFile()) await visit(join(dir, e.name), e.name, r);
  }
}

/** fsync of a directory, so a rename inside it survives a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
