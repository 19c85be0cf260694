/**
 * DESI's tile-based cumulative coadds under an S3 prefix (a production's `tiles/cumulative`):
 * `{prefix}/{TILEID}/{LASTNIGHT}/coadd-{PETAL}-{TILEID}-thru{LASTNIGHT}.fits`. Discovery is one plain paged
 * listing of the whole prefix (no delimiter), its keys grouped by TILEID folder; cumulative-units.ts picks
 * each tile's latest LASTNIGHT. `ObjectRef.path` is the key.
 *
 * Why no delimited listing of the TILEID folders: it costs more requests, not fewer (every key is listed
 * either way, and one listing per TILEID folder is at least one request per tile, ~5,000 in DR1, where the
 * plain listing takes one request per 1,000 keys), and s3rver, which the tests run against, answers a
 * delimited listing of a prefix whose objects lie two folders deeper with nothing (its file store does not
 * walk below the first folder level when a delimiter is given).
 */
import { isTileidText } from '../desi/cumulative.js';
import type { TileRef } from '../desi/tile.js';
import { allowManyListeners } from './abort.js';
import { unitsOfTile, type CumulativeEntry } from './cumulative-units.js';
import { objectRefOf, S3TileStore } from './s3-tree.js';
import { folderPrefix, formatS3Url } from './s3-url.js';
import type { Discovery } from './tile-store.js';

/** The tile layout on S3: S3TileStore's objects, reads and listing, with a discovery of TILEID and LASTNIGHT folders. */
export class S3CumulativeStore extends S3TileStore {
  readonly layout = 'tiles' as const;

  /**
   * Lists every key under the prefix, page after page, and groups them by TILEID folder. A listing that still
   * fails after retries throws (a hole in discovery would look like a finished run); keys that do not fit the
   * layout are problems (a folder that is not a TILEID is named once). An empty prefix is a problem too (the
   * run then stops for want of tiles).
   */
  override async discover(_filter?: unknown, signal?: AbortSignal): Promise<Discovery> {
    allowManyListeners(signal);
    const problems: string[] = [];
    let extra = 0;
    const maxProblems = this.opts.maxProblems ?? 100;
    const problem = (text: string) => {
      if (problems.length < maxProblems) problems.push(text);
      else extra += 1;
    };
    const root = folderPrefix(this.prefix);
    const byTile = new Map<number, CumulativeEntry[]>();
    const badFolders = new Set<string>();
    let token: string | undefined;
    do {
      const page = await this.list(root, this.opts.maxKeys, token, { ...this.opts.retry, signal });
      for (const obj of page.Contents ?? []) {
        const key = obj.Key;
        if (!key?.startsWith(root)) continue;
        const rest = key.slice(root.length);
        const slash = rest.indexOf('/');
        if (slash < 0) {
          if (!/^tiles-.*\.(csv|fits)$/.test(rest)) problem(`${formatS3Url(this.bucket, key)}: not inside a TILEID folder, skipped`);
          continue;
        }
        const folder = rest.slice(0, slash);
        if (!isTileidText(folder)) {
          if (!badFolders.has(folder)) problem(`${formatS3Url(this.bucket, `${root}${folder}/`)}: not a TILEID folder, skipped`);
          badFolders.add(folder);
          continue;
        }
        const inTile = rest.slice(slash + 1);
        const nightSlash = inTile.indexOf('/');
        if (nightSlash < 0) {
          problem(`${formatS3Url(this.bucket, key)}: not inside a LASTNIGHT folder, skipped`);
          continue;
        }
        const tileid = Number(folder);
        let entries = byTile.get(tileid);
        if (!entries) byTile.set(tileid, (entries = []));
        entries.push({ night: inTile.slice(0, nightSlash), file: inTile.slice(nightSlash + 1), ref: objectRefOf(key, obj) });
      }
      token = this.nextToken(page, root);
    } while (token);
    if (byTile.size === 0) problems.push(`${formatS3Url(this.bucket, root)}: no TILEID folders under this prefix`);
    const tiles: TileRef[] = [];
    for (const tileid of [...byTile.keys()].sort((a, b) => a - b)) {
      const folder = `${root}${tileid}/`;
      tiles.push(...unitsOfTile(tileid, byTile.get(tileid)!, (night, file) => formatS3Url(this.bucket, `${folder}${night}/${file ?? ''}`), problem));
    }
    if (extra > 0) problems.push(`… and ${extra} more keys that do not fit the layout`);
    return { tiles, problems, unreadable: [] };
  }

  /**
   * The units of one TILEID folder (`{prefix}/{tileid}/`, listed without a delimiter), as discover finds them;
   * none when the folder is empty. Verify looks up a dataset's units with it (one LIST per TILEID it holds).
   */
  async unitsOf(tileid: number, problem: (text: string) => void, signal?: AbortSignal): Promise<TileRef[]> {
    const folder = `${folderPrefix(this.prefix)}${tileid}/`;
    const entries: CumulativeEntry[] = [];
    let token: string | undefined;
    do {
      const page = await this.list(folder, this.opts.maxKeys, token, { ...this.opts.retry, signal });
      for (const obj of page.Contents ?? []) {
        const key = obj.Key;
        if (!key?.startsWith(folder)) continue;
        const rest = key.slice(folder.length);
        const slash = rest.indexOf('/');
        if (slash < 0) continue;
        entries.push({ night: rest.slice(0, slash), file: rest.slice(slash + 1), ref: objectRefOf(key, obj) });
      }
      token = this.nextToken(page, folder);
    } while (token);
    return unitsOfTile(tileid, entries, (night, file) => formatS3Url(this.bucket, `${folder}${night}/${file ?? ''}`), problem);
  }
}
