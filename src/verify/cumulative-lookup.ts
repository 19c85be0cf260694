/**
 * The sources of a tile-layout dataset's units (journal keys `cumulative/{TILEID}/{PETAL}`), looked up in
 * --source the way discovery sees them: each TILEID folder the dataset holds is read as discovery reads it
 * (storage/cumulative-local.ts, cumulative-s3.ts: the latest LASTNIGHT, the afterburners beside the petal),
 * so a tile that gained a later night gives another fingerprint (LASTNIGHT is part of it) and is reported as
 * changed. Locally a readdir of each TILEID folder and its nights; on S3 one LIST (paged) per TILEID folder.
 */
import { resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { parseCumulativeKey } from '../desi/cumulative.js';
import { tileKey, type TileRef } from '../desi/tile.js';
import { LocalCumulativeStore } from '../storage/cumulative-local.js';
import { S3CumulativeStore } from '../storage/cumulative-s3.js';
import type { RetryOptions } from '../storage/retry.js';
import { mapLimit } from '../util/concurrency.js';
import { assertSourceFolder, type SourceLookup } from './source-lookup.js';

/** TILEID folders read at once. */
const CONCURRENCY = 32;

/** The TILEIDs of the keys that are tile-layout units, and the keys wanted. */
function wantedTiles(keys: readonly string[]): { tileids: number[]; wanted: Set<string> } {
  const units = keys.map(parseCumulativeKey).filter((u) => u !== undefined);
  return { tileids: [...new Set(units.map((u) => u.tileid))].sort((a, b) => a - b), wanted: new Set(keys) };
}

function keep(found: Map<string, TileRef>, units: readonly TileRef[], wanted: ReadonlySet<string>): void {
  for (const u of units) if (wanted.has(tileKey(u)) && (u.coadd || u.redrock)) found.set(tileKey(u), u);
}

/** A tiles/cumulative tree in a local folder. */
export class LocalCumulativeLookup implements SourceLookup {
  readonly root: string;
  private readonly store: LocalCumulativeStore;

  constructor(root: string) {
    this.root = resolve(root);
    this.store = new LocalCumulativeStore(this.root);
  }

  async lookup(keys: readonly string[], unreadable: string[]): Promise<Map<string, TileRef>> {
    await assertSourceFolder(this.root);
    const { tileids, wanted } = wantedTiles(keys);
    const found = new Map<string, TileRef>();
    const problems: string[] = [];
    await mapLimit(tileids, CONCURRENCY, async (tileid) => keep(found, await this.store.unitsOf(tileid, problems, unreadable), wanted));
    return found;
  }
}

/** A tiles/cumulative tree under an S3 prefix. */
export class S3CumulativeLookup implements SourceLookup {
  readonly root: string;
  private readonly store: S3CumulativeStore;

  constructor(client: S3Client, url: string, retry: RetryOptions = {}) {
    this.store = new S3CumulativeStore(client, url, { retry });
    this.root = this.store.root;
  }

  async lookup(keys: readonly string[]): Promise<Map<string, TileRef>> {
    const { tileids, wanted } = wantedTiles(keys);
    const found = new Map<string, TileRef>();
    // The first folder alone, so a wrong endpoint or bucket fails once, not 32 times at once.
    const [first, ...rest] = tileids;
    const ignore = () => undefined;
    if (first !== undefined) keep(found, await this.store.unitsOf(first, ignore), wanted);
    await mapLimit(rest, CONCURRENCY, async (tileid) => keep(found, await this.store.unitsOf(tileid, ignore), wanted));
    return found;
  }
}
