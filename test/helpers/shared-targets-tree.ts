/**
 * A healpix tree whose targets are observed in several surveys and programs, for the primary-spectra
 * tests: the generator's tiles (src/synth), with some rows of later tiles given the TARGETIDs of rows of the
 * first one (in every table of both files: FIBERMAP, EXP_FIBERMAP, SCORES, TSNR2, REDSHIFTS), and their
 * ZWARN and TSNR2_LRG set to plant each case of the rule: ZWARN decides, TSNR2_LRG decides, exact ties,
 * NaN TSNR2_LRG, a target in main, sv1 and sv3 at once, one in another pixel, one in `special`.
 */
import { mkdir } from 'node:fs/promises';
import type { ColumnValues } from '../../src/fits/encode.js';
import { buildCatalog, tileSeed, type TileCatalog } from '../../src/synth/catalog.js';
import { writeCoadd, writeRedrock } from '../../src/synth/files.js';
import { armGrids } from '../../src/synth/grids.js';
import { tilePaths } from '../../src/synth/tree.js';
import type { SynthTileSpec } from '../../src/synth/types.js';

export const TILES: SynthTileSpec[] = [
  { survey: 'main', program: 'dark', healpix: 6026, targets: 12, goodQso: 4, seed: 5 },
  { survey: 'main', program: 'bright', healpix: 6026, targets: 8, goodQso: 3, seed: 5 },
  { survey: 'sv1', program: 'dark', healpix: 6027, targets: 8, goodQso: 3, seed: 5 },
  { survey: 'sv3', program: 'dark', healpix: 6026, targets: 8, goodQso: 3, seed: 5 },
  { survey: 'special', program: 'dark', healpix: 6026, targets: 6, goodQso: 2, seed: 5 },
];

/** A planted row: tile (index into TILES), its FIBERMAP row, the row of tile 0 whose TARGETID it takes, ZWARN, TSNR2_LRG. */
interface Plant {
  tile: number;
  row: number;
  /** tile 0's FIBERMAP row whose TARGETID this row gets; undefined for tile 0's own rows and for C2/D1. */
  sameAs?: number;
  zwarn: bigint;
  tsnr2: number;
}

/** Named cases: which (tile, row) pairs share a TARGETID and what decides among them. */
export const CASES = {
  /** main/dark row 0 and main/bright row 0: both ZWARN 0, TSNR2_LRG 10 vs 20 (bright wins by TSNR2). */
  tsnr2Decides: [
    [0, 0],
    [1, 0],
  ],
  /** main/dark row 1 (ZWARN 0, TSNR2 1) and main/bright row 1 (ZWARN 4, TSNR2 100): dark wins by ZWARN. */
  zwarnDecides: [
    [0, 1],
    [1, 1],
  ],
  /** main/dark row 2 and main/bright row 2: ZWARN 0 and TSNR2 5 both: the tie-break (bright < dark). */
  exactTie: [
    [0, 2],
    [1, 2],
  ],
  /** main/dark row 3 (TSNR2 NaN) and sv1/dark/6027 row 0 (TSNR2 3), both ZWARN 0: another pixel, NaN ranks last. */
  nanAndOtherPixel: [
    [0, 3],
    [2, 0],
  ],
  /** main/dark row 4, sv1/dark row 1, sv3/dark row 0: ZWARN 0 and TSNR2 7 all: ZCAT 3, MAIN 1, SV 2 spectra. */
  threeSurveys: [
    [0, 4],
    [2, 1],
    [3, 0],
  ],
  /** main/dark row 5 (TSNR2 2) and special/dark row 0 (TSNR2 50): special counts in ZCAT only. */
  special: [
    [0, 5],
    [4, 0],
  ],
} as const;

const PLANTS: Plant[] = [
  { tile: 0, row: 0, zwarn: 0n, tsnr2: 10 },
  { tile: 1, row: 0, sameAs: 0, zwarn: 0n, tsnr2: 20 },
  { tile: 0, row: 1, zwarn: 0n, tsnr2: 1 },
  { tile: 1, row: 1, sameAs: 1, zwarn: 4n, tsnr2: 100 },
  { tile: 0, row: 2, zwarn: 0n, tsnr2: 5 },
  { tile: 1, row: 2, sameAs: 2, zwarn: 0n, tsnr2: 5 },
  { tile: 0, row: 3, zwarn: 0n, tsnr2: NaN },
  { tile: 2, row: 0, sameAs: 3, zwarn: 0n, tsnr2: 3 },
  { tile: 0, row: 4, zwarn: 0n, tsnr2: 7 },
  { tile: 2, row: 1, sameAs: 4, zwarn: 0n, tsnr2: 7 },
  { tile: 3, row: 0, sameAs: 4, zwarn: 0n, tsnr2: 7 },
  { tile: 0, row: 5, zwarn: 0n, tsnr2: 2 },
  { tile: 4, row: 0, sameAs: 5, zwarn: 0n, tsnr2: 50 },
];

/** Writes the tree under `root` (short wavelength grids). */
export async function writeSharedTargetsTree(root: string): Promise<void> {
  const nwave = armGrids('short').reduce((s, g) => s + g.nwave, 0);
  const catalogs = TILES.map((spec) => buildCatalog(spec, nwave));
  const first = catalogs[0].fibermap.TARGETID as BigInt64Array;
  TILES.forEach((_spec, t) => {
    const cat = catalogs[t];
    const renames = new Map<bigint, bigint>();
    for (const p of PLANTS.filter((x) => x.tile === t && x.sameAs !== undefined))
      renames.set((cat.fibermap.TARGETID as BigInt64Array)[p.row], first[p.sameAs!]);
    // Rows keep their place in every table; only the ids (and the planted values) change.
    for (const table of [cat.fibermap, cat.expFibermap, cat.scores, cat.tsnr2, cat.redshifts]) renameTargets(table, renames);
    for (const p of PLANTS.filter((x) => x.tile === t)) plant(cat, p);
  });
  for (const [t, spec] of TILES.entries()) {
    const paths = tilePaths(root, spec);
    await mkdir(paths.dir, { recursive: true });
    await writeCoadd(paths.coadd, spec, 'short', catalogs[t], tileSeed(spec));
    await writeRedrock(paths.redrock, spec, catalogs[t]);
  }
}

function renameTargets(table: Record<string, ColumnValues>, renames: Map<bigint, bigint>): void {
  const ids = table.TARGETID as BigInt64Array;
  for (let i = 0; i < ids.length; i++) ids[i] = renames.get(ids[i]) ?? ids[i];
}

/** Sets a FIBERMAP row's ZWARN (in its REDSHIFTS row) and TSNR2_LRG (TSNR2 and SCORES, FIBERMAP order). */
function plant(cat: TileCatalog, p: Plant): void {
  const r = cat.redshiftsOrder.indexOf(p.row);
  (cat.redshifts.ZWARN as BigInt64Array)[r] = p.zwarn;
  (cat.tsnr2.TSNR2_LRG as Float32Array)[p.row] = p.tsnr2;
  (cat.scores.TSNR2_LRG as Float32Array)[p.row] = p.tsnr2;
}
