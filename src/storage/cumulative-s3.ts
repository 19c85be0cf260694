/**
 * DESI's tile-based cumulative coadds under an S3 prefix (a production's `tiles/cumulative`):
 * `{prefix}/{TILEID}/{LASTNIGHT}/coadd-{PETAL}-{TILEID}-thru{LASTNIGHT}.fits`. Discovery lists the prefix
 * with a delimiter for its TILEID folders, then each TILEID folder (all its nights) without one, up to
 * listConcurrency at a time; cumulative-units.ts picks the latest LASTNIGHT. `ObjectRef.path` is the key.
 */
import { isTileidText } from '../desi/cumulative.js';
import type { TileRef } from '../desi/tile.js';
import { mapLimit } from '../util/concurrency.js';
import { allowManyListeners } from './abort.js';
import { unitsOfTile, type CumulativeEntry } from './cumulative-units.js';
import { objectRefOf, S3TileStore } from './s3-tree.js';
import { folderPrefix, formatS3Url } from './s3-url.js';
import type { Discovery } from './tile-store.js';

/** The tile layout on S3: S3TileStore's objects, reads and listing, with a discovery of TILEID and LASTNIGHT folders. */
export class S3CumulativeStore extends S3TileStore {
  readonly layout = 'tiles' as const;

  /**
   * Lists the TILEID folders, then each one. A listing that still fails after retries throws (a hole in
   * discovery would look like a finished run); keys that do not fit the layout are problems. An empty prefix
   * is a problem too (the run then stops for want of tiles).
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
    const tileids: number[] = [];
    let token: string | undefined;
    do {
      const page = await this.list(root, this.opts.maxKeys, token, { ...this.opts.retry, signal }, '/');
      for (const p of page.CommonPrefixes ?? []) {
        const name = (p.Prefix ?? '').slice(root.length).replace(/\/$/, '');
        if (isTileidText(name)) tileids.push(Number(name));
        else problem(`${formatS3Url(this.bucket, p.Prefix ?? '')}: not a TILEID folder, skipped`);
      }
      for (const o of page.Contents ?? []) {
        const name = (o.Key ?? '').slice(root.length);
        if (!/^tiles-.*\.(csv|fits)$/.test(name)) problem(`${formatS3Url(this.bucket, o.Key ?? '')}: not inside a TILEID folder, skipped`);
      }
      token = this.nextToken(page, root);
    } while (token);
    if (tileids.length === 0) problems.push(`${formatS3Url(this.bucket, root)}: no TILEID folders under this prefix`);
    tileids.sort((a, b) => a - b);
    const perTile = await mapLimit(tileids, this.opts.listConcurrency ?? 32, (tileid) => this.listTile(root, tileid, problem, signal));
    if (extra > 0) problems.push(`… and ${extra} more keys that do not fit the layout`);
    return { tiles: perTile.flat(), problems, unreadable: [] };
  }

  private async listTile(root: string, tileid: number, problem: (text: string) => void, signal?: AbortSignal): Promise<TileRef[]> {
    const folder = `${root}${tileid}/`;
    const entries: CumulativeEntry[] = [];
    let token: string | undefined;
    do {
      const page = await this.list(folder, this.opts.maxKeys, token, { ...this.opts.retry, signal });
      for (const obj of page.Contents ?? []) {
        const key = obj.Key;
        if (!key?.startsWith(folder)) continue;
        const rest = key.slice(folder.length);
        const slash = rest.indexOf('/');
        if (slash < 0) {
          problem(`${formatS3Url(this.bucket, key)}: not inside a LASTNIGHT folder, skipped`);
          continue;
        }
        entries.push({ night: rest.slice(0, slash), file: rest.slice(slash + 1), ref: objectRefOf(key, obj) });
      }
      token = this.nextToken(page, folder);
    } while (token);
    return unitsOfTile(tileid, entries, (night, file) => formatS3Url(this.bucket, `${folder}${night}/${file ?? ''}`), problem);
  }
}
