import { statSync, type Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { AFTERBURNER_KINDS, afterburnerFileName } from '../desi/afterburners.js';
import { coaddName, folderNumber, healpixInPixgroup, notInPixgroup, redrockName } from '../desi/layout.js';
import type { ObjectRef, TileRef } from '../desi/tile.js';
import { LocalFileSource } from './local.js';
import { SourceError, type Discovery, type DiscoveryFilter, type OpenedObject, type TileStore } from './tile-store.js';

/** A DESI healpix tree on a local disk: `{root}/{survey}/{program}/{pixgroup}/{pixnum}/coadd-…fits`. */
export class LocalTileStore implements TileStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /**
   * Walks the tree for the surveys and programs asked for. A root that does not exist or is not a folder
   * throws a SourceError (NO_SOURCE). A tile directory is listed even when its coadd or redrock is missing
   * (the runner journals it as "missing source"). Folders that exist but cannot be listed, and files that
   * cannot be read, go to `unreadable`; entries of a program or pixgroup folder whose name is not the
   * canonical decimal of a pixgroup or pixel (`abc`, `09766`, a stray file) go to `problems`, with the
   * same words as S3 discovery. Neither is thrown, so the run decides what a hole means. A missing
   * `{survey}/{program}` folder is quiet.
   */
  async discover(filter: DiscoveryFilter): Promise<Discovery> {
    await this.checkRoot();
    const tiles: TileRef[] = [];
    const problems: string[] = [];
    const unreadable: string[] = [];
    for (const survey of filter.surveys) {
      for (const program of filter.programs) {
        const progDir = join(this.root, survey, program);
        const groups = await listDir(progDir, unreadable, true);
        for (const { name: g, value: group } of numberedEntries(groups, 'pixgroup', progDir, problems)) {
          const groupDir = join(progDir, g);
          const pixels = await listDir(groupDir, unreadable, false);
          for (const { name: p, value: healpix } of numberedEntries(pixels, 'healpix', groupDir, problems)) {
            if (!healpixInPixgroup(healpix, group)) {
              problems.push(`${join(groupDir, p)}: ${notInPixgroup(g)}, skipped`);
              continue;
            }
            const tile: TileRef = { survey, program, healpix };
            const dir = join(groupDir, p);
            if (tiles.length % 256 === 255) await new Promise<void>((resolve) => setImmediate(resolve));
            tile.coadd = statRef(join(dir, coaddName(tile)), problems, unreadable);
            tile.redrock = statRef(join(dir, redrockName(tile)), problems, unreadable);
            for (const kind of AFTERBURNER_KINDS) {
              const ref = statRef(join(dir, afterburnerFileName(kind, tile)), problems, unreadable);
              if (ref) (tile.afterburners ??= {})[kind] = ref;
            }
            tiles.push(tile);
          }
        }
      }
    }
    return { tiles, problems, unreadable };
  }

  async open(ref: ObjectRef, signal?: AbortSignal): Promise<OpenedObject> {
    return LocalFileSource.open(ref.path, signal);
  }

  displayName(ref: ObjectRef): string {
    return ref.path;
  }

  /** Throws SourceError NO_SOURCE unless the root is a folder. */
  protected async checkRoot(): Promise<void> {
    let isDir: boolean;
    try {
      isDir = (await stat(this.root)).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${causeOf(err)})`;
      throw new SourceError('NO_SOURCE', `--source ${this.root}: the folder ${why}`);
    }
    if (!isDir) throw new SourceError('NO_SOURCE', `--source ${this.root}: not a folder (ENOTDIR)`);
  }
}

/**
 * The entries of a program or pixgroup folder that are canonical numbers, sorted by number; every other
 * entry is a problem: a file lying where only folders belong, or a name that is not the canonical decimal
 * of a pixgroup or pixel. (An entry with a canonical name that is a file is kept: listing it fails with
 * ENOTDIR and it is reported as unreadable, or its tile files are missing.)
 */
function numberedEntries(entries: Dirent[], what: 'pixgroup' | 'healpix', dir: string, problems: string[]): { name: string; value: number }[] {
  const out: { name: string; value: number }[] = [];
  for (const e of entries) {
    const n = folderNumber(e.name, what);
    if (typeof n === 'number') out.push({ name: e.name, value: n });
    else if (!e.isDirectory() && !e.isSymbolicLink())
      problems.push(
        `${join(dir, e.name)}: ${what === 'healpix' ? `not inside a healpix directory of pixgroup ${basename(dir)}` : 'not a pixgroup folder'}, skipped`,
      );
    else problems.push(`${join(dir, e.name)}: ${n.problem}, skipped`);
  }
  return out.sort((a, b) => a.value - b.value);
}

/** "ENOTDIR: not a directory" out of a Node error (its message without the syscall and path). */
function causeOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const message = e.message.split(', ')[0] ?? '';
  if (e.code === undefined) return message;
  return message.startsWith(e.code) ? message : `${e.code}: ${message}`;
}

async function listDir(dir: string, unreadable: string[], missingIsQuiet: boolean): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && missingIsQuiet) return [];
    unreadable.push(`${dir}: cannot list the folder (${causeOf(err)})`);
    return [];
  }
}

/**
 * Synchronous: each asynchronous stat is a round trip through libuv's thread pool (40,000 tiles are 80,000
 * and more stats, most of the afterburners' ENOENT), several times the CPU of statSync; a missing file is
 * an undefined answer, not a thrown error. discover() lets the event loop turn between tiles now and then.
 */
function statRef(path: string, problems: string[], unreadable: string[]): ObjectRef | undefined {
  try {
    const st = statSync(path, { throwIfNoEntry: false });
    if (st === undefined) return undefined;
    if (!st.isFile()) {
      problems.push(`${path}: not a regular file`);
      return undefined;
    }
    return { path, size: st.size, mtimeMs: st.mtimeMs };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') unreadable.push(`${path}: cannot stat the file (${causeOf(err)})`);
    return undefined;
  }
}
