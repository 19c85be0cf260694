import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { coaddName, HEALPIX_PIXELS, redrockName, tileDir, type TileId } from '../src/desi/layout.js';
import { mapLimit } from '../src/util/concurrency.js';
import { mulberry32 } from '../src/util/prng.js';

/**
 * How many tiles each survey/program of the DR1-sized listing holds: 12,207 tiles (the number the seed's
 * production run discovered), most in main/dark and main/bright, a few hundred in each of sv1..sv3. The
 * split is an approximation of DR1's, not its exact census: what `plan` costs depends on the number of
 * tiles, folders and listings, not on which pixels they are.
 */
export const DR1_LISTING_SPLIT: readonly { survey: string; program: string; tiles: number; lo: number; hi: number }[] = [
  // [lo, hi) is the range of nested pixel numbers the tiles are drawn from: nested numbering keeps a range
  // compact on the sky, so main's programs overlap as DR1's do and the SV fields are small patches.
  { survey: 'main', program: 'dark', tiles: 5300, lo: 0, hi: 36_000 },
  { survey: 'main', program: 'bright', tiles: 5400, lo: 0, hi: 36_000 },
  { survey: 'sv1', program: 'dark', tiles: 330, lo: 8_000, hi: 12_000 },
  { survey: 'sv1', program: 'bright', tiles: 320, lo: 8_000, hi: 12_000 },
  { survey: 'sv2', program: 'dark', tiles: 120, lo: 26_000, hi: 27_500 },
  { survey: 'sv2', program: 'bright', tiles: 117, lo: 26_000, hi: 27_500 },
  { survey: 'sv3', program: 'dark', tiles: 310, lo: 40_000, hi: 44_000 },
  { survey: 'sv3', program: 'bright', tiles: 310, lo: 40_000, hi: 44_000 },
];

export const DR1_LISTING_SURVEYS = [...new Set(DR1_LISTING_SPLIT.map((s) => s.survey))];
export const DR1_LISTING_PROGRAMS = [...new Set(DR1_LISTING_SPLIT.map((s) => s.program))];

/** The tiles of the DR1-sized listing, deterministic (seeded), each survey/program's pixels sorted. */
export function dr1ListingTiles(seed = 20250901): TileId[] {
  const out: TileId[] = [];
  for (const [i, s] of DR1_LISTING_SPLIT.entries()) {
    if (s.hi > HEALPIX_PIXELS || s.tiles > s.hi - s.lo)
      throw new Error(`dr1 listing: ${s.survey}/${s.program} cannot hold ${s.tiles} tiles in [${s.lo}, ${s.hi})`);
    const rand = mulberry32(seed + i);
    const pool = Array.from({ length: s.hi - s.lo }, (_, k) => s.lo + k);
    for (let k = 0; k < s.tiles; k++) {
      const j = k + Math.floor(rand() * (pool.length - k)); // a partial Fisher–Yates shuffle: the first `tiles` are the draw
      [pool[k], pool[j]] = [pool[j], pool[k]];
    }
    for (const healpix of pool.slice(0, s.tiles).sort((a, b) => a - b)) out.push({ survey: s.survey, program: s.program, healpix });
  }
  return out;
}

export interface Dr1Listing {
  /** The tree's root: `{root}/{survey}/{program}/{pixgroup}/{pixnum}/coadd-…fits`. */
  tree: string;
  tiles: number;
  files: number;
  /** Seconds it took to write the tree (0 when it came from the cache). */
  buildSec: number;
  cached: boolean;
}

/**
 * The DR1-sized listing as a local tree under `cacheRoot/dr1-listing/tree`, built once (a marker says it is
 * complete): 12,207 tile folders, each with a coadd and a redrock of a few bytes (their text names the tile,
 * so sizes differ a little and the plan's byte balance has something to weigh). `plan` only lists and stats
 * them; nothing opens them as FITS.
 */
export async function dr1Listing(cacheRoot: string): Promise<Dr1Listing> {
  const root = join(cacheRoot, 'dr1-listing');
  const tree = join(root, 'tree');
  const marker = join(root, 'listing.json');
  const tiles = dr1ListingTiles();
  if (existsSync(marker)) {
    const m = JSON.parse(await readFile(marker, 'utf8')) as { tiles: number; files: number };
    if (m.tiles === tiles.length) return { tree, tiles: m.tiles, files: m.files, buildSec: 0, cached: true };
  }
  process.stderr.write(`bench: writing the DR1-sized listing (${tiles.length} tiles of tiny files) under ${tree} (once)...\n`);
  await rm(root, { recursive: true, force: true });
  const t0 = performance.now();
  await mapLimit(tiles, 16, async (t) => {
    const dir = join(tree, ...tileDir(t).split('/'));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, coaddName(t)), `coadd ${t.survey}/${t.program}/${t.healpix}\n`);
    await writeFile(join(dir, redrockName(t)), `redrock ${t.survey}/${t.program}/${t.healpix}\n`);
  });
  const buildSec = (performance.now() - t0) / 1000;
  const files = 2 * tiles.length;
  await writeFile(marker, JSON.stringify({ tiles: tiles.length, files, built: new Date().toISOString(), buildSec }));
  return { tree, tiles: tiles.length, files, buildSec, cached: false };
}
