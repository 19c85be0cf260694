import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { coaddName, healpixInPixgroup, isNumericName, notInPixgroup, redrockName } from '../desi/layout.js';
import type { ObjectRef, TileRef } from '../desi/tile.js';
import { LocalFileSource } from './local.js';
import type { Discovery, DiscoveryFilter, OpenedObject, TileStore } from './tile-store.js';

/** A DESI healpix tree on a local disk: `{root}/{survey}/{program}/{pixgroup}/{pixnum}/coadd-…fits`. */
export class LocalTileStore implements TileStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /**
   * Walks the tree for the surveys and programs asked for. A tile directory is listed even when its coadd or
   * redrock is missing (the runner journals it as "missing source"); unreadable directories are reported as
   * problems, never thrown, so one bad folder cannot stop a run.
   */
  async discover(filter: DiscoveryFilter): Promise<Discovery> {
    const tiles: TileRef[] = [];
    const problems: string[] = [];
    for (const survey of filter.surveys) {
      for (const program of filter.programs) {
        const progDir = join(this.root, survey, program);
        const groups = await listDir(progDir, problems, true);
        for (const g of groups.filter(isNumericName).sort(byNumber)) {
          const groupDir = join(progDir, g);
          const pixels = await listDir(groupDir, problems, false);
          for (const p of pixels.filter(isNumericName).sort(byNumber)) {
            const healpix = Number(p);
            if (!healpixInPixgroup(healpix, Number(g))) {
              problems.push(`${join(groupDir, p)}: ${notInPixgroup(g)}, skipped`);
              continue;
            }
            const tile: TileRef = { survey, program, healpix };
            const dir = join(groupDir, p);
            tile.coadd = await statRef(join(dir, coaddName(tile)), problems);
            tile.redrock = await statRef(join(dir, redrockName(tile)), problems);
            tiles.push(tile);
          }
        }
      }
    }
    return { tiles, problems };
  }

  async open(ref: ObjectRef, signal?: AbortSignal): Promise<OpenedObject> {
    return LocalFileSource.open(ref.path, signal);
  }

  displayName(ref: ObjectRef): string {
    return ref.path;
  }
}

function byNumber(a: string, b: string): number {
  return Number(a) - Number(b);
}

async function listDir(dir: string, problems: string[], missingIsQuiet: boolean): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && missingIsQuiet) return [];
    problems.push(`${dir}: cannot list directory (${code ?? (err as Error).message})`);
    return [];
  }
}

async function statRef(path: string, problems: string[]): Promise<ObjectRef | undefined> {
  try {
    const st = await stat(path);
    if (!st.isFile()) {
      problems.push(`${path}: not a regular file`);
      return undefined;
    }
    return { path, size: st.size, mtimeMs: st.mtimeMs };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') problems.push(`${path}: cannot stat (${code ?? (err as Error).message})`);
    return undefined;
  }
}
