/**
 * DESI's tile-based cumulative coadds on a local disk: `{root}/{TILEID}/{LASTNIGHT}/coadd-{PETAL}-{TILEID}-thru{LASTNIGHT}.fits`,
 * root being a production's `tiles/cumulative` folder. The folder tree is the source of truth (see
 * cumulative-units.ts for the LASTNIGHT rule); `tiles-*.csv` is not read.
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isTileidText } from '../desi/cumulative.js';
import type { AfterburnerKind } from '../desi/selection.js';
import type { ObjectRef, TileRef } from '../desi/tile.js';
import { unitsOfTile, type CumulativeEntry } from './cumulative-units.js';
import { LocalTileStore } from './local-tree.js';
import type { Discovery } from './tile-store.js';

export class LocalCumulativeStore extends LocalTileStore {
  readonly layout = 'tiles' as const;

  /**
   * Walks `{root}/{TILEID}/{LASTNIGHT}/`. Names that are not a canonical TILEID or a LASTNIGHT go to
   * `problems`; folders that cannot be listed and files that cannot be stat'ed go to `unreadable`, as in the
   * healpix layout. Surveys and programs are not filtered (they are in each coadd's header, read at conversion).
   */
  override async discover(): Promise<Discovery> {
    await this.checkRoot();
    const tiles: TileRef[] = [];
    const problems: string[] = [];
    const unreadable: string[] = [];
    const tileDirs: { name: string; tileid: number }[] = [];
    for (const e of await listDir(this.root, unreadable)) {
      if (isTileidText(e.name) && (e.isDirectory() || e.isSymbolicLink())) tileDirs.push({ name: e.name, tileid: Number(e.name) });
      else if (!/^tiles-.*\.(csv|fits)$/.test(e.name)) problems.push(`${join(this.root, e.name)}: not a TILEID folder, skipped`);
    }
    tileDirs.sort((a, b) => a.tileid - b.tileid);
    for (const t of tileDirs) tiles.push(...(await this.unitsOf(t.tileid, problems, unreadable)));
    return { tiles, problems, unreadable };
  }

  /**
   * The units of one TILEID folder (`{root}/{tileid}/`), with the LASTNIGHT rule and the afterburners beside
   * them, as discover finds them; none when the folder is not there. Verify looks up a dataset's units with it.
   */
  async unitsOf(tileid: number, problems: string[], unreadable: string[]): Promise<TileRef[]> {
    const tileDir = join(this.root, String(tileid));
    const entries: CumulativeEntry[] = [];
    for (const night of await listDir(tileDir, unreadable, true)) {
      const nightDir = join(tileDir, night.name);
      if (!night.isDirectory() && !night.isSymbolicLink()) {
        problems.push(`${nightDir}: not inside a LASTNIGHT folder, skipped`);
        continue;
      }
      for (const f of await listDir(nightDir, unreadable)) {
        if (!f.isFile() && !f.isSymbolicLink()) continue;
        entries.push({ night: night.name, file: f.name, ref: { path: join(nightDir, f.name), size: -1 } });
      }
    }
    const units = unitsOfTile(
      tileid,
      entries,
      (night, file) => join(tileDir, night, file ?? ''),
      (p) => problems.push(p),
    );
    for (const u of units) {
      if (u.coadd) u.coadd = await statRef(u.coadd.path, problems, unreadable);
      if (u.redrock) u.redrock = await statRef(u.redrock.path, problems, unreadable);
      if (u.afterburners) {
        const found: Partial<Record<AfterburnerKind, ObjectRef>> = {};
        for (const [kind, ref] of Object.entries(u.afterburners) as [AfterburnerKind, ObjectRef][]) {
          const now = await statRef(ref.path, problems, unreadable);
          if (now) found[kind] = now;
        }
        u.afterburners = Object.keys(found).length > 0 ? found : undefined;
      }
    }
    return units;
  }
}

async function listDir(dir: string, unreadable: string[], missingIsQuiet = false): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (missingIsQuiet && (err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    unreadable.push(`${dir}: cannot list the folder (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    return [];
  }
}

async function statRef(path: string, problems: string[], unreadable: string[]): Promise<ObjectRef | undefined> {
  try {
    const st = await stat(path);
    if (!st.isFile()) {
      problems.push(`${path}: not a regular file`);
      return undefined;
    }
    return { path, size: st.size, mtimeMs: st.mtimeMs };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') unreadable.push(`${path}: cannot stat the file (${code ?? (err as Error).message})`);
    return undefined;
  }
}
