import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { OutputStore } from './output-store.js';

/** The marker in temporary file names; no dataset reader globbing `*.parquet` ever matches it. */
export const TEMP_MARK = '.desi-qad-tmp-';

/** A local output folder with temp-file + fsync + rename + fsync(dir) writes. */
export class LocalOutputStore implements OutputStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  location(relPath: string): string {
    return this.resolveInside(relPath);
  }

  async writeAtomic(relPath: string, bytes: Uint8Array): Promise<void> {
    const final = this.resolveInside(relPath);
    const dir = dirname(final);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `${TEMP_MARK}${randomBytes(6).toString('hex')}`);
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
  }

  async sweepTemporaries(): Promise<number> {
    let removed = 0;
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.name.startsWith(TEMP_MARK)) {
          await rm(p, { force: true });
          removed += 1;
        }
      }
    };
    await walk(this.root);
    return removed;
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

/** fsync of a directory, so a rename inside it survives a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
