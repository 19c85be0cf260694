/**
 * A DESI healpix tile: one HEALPix pixel (nside 64, nested) of one survey and program, stored as a coadd and
 * a redrock file in `{survey}/{program}/{pixgroup}/{pixnum}/`, pixgroup = floor(pixnum / 100). The path and
 * name rules live in layout.ts and are re-exported here; this module adds what discovery found.
 */
export {
  HEALPIX_NSIDE,
  HEALPIX_PIXELS,
  MAX_HEALPIX,
  PIXGROUPS,
  PROGRAMS,
  SURVEYS,
  coaddName,
  isHealpix,
  LAYOUTS,
  type Layout,
  tileLabel,
  tileSpecText,
  matchesTileSpec,
  outputPath,
  parseTileSpec,
  parseTileSpecs,
  pixgroup,
  redrockName,
  tileDir,
  tileKey,
  type TileFileKind,
  type TileId,
  type TileSpec,
} from './layout.js';

import type { AfterburnerKind } from './selection.js';
import type { CumulativeId } from './cumulative.js';

/** One stored file of a tile, as discovered: where it is and what the storage says about it. */
export interface ObjectRef {
  /** Path of a local file, or the key of an object relative to the source root. */
  path: string;
  size: number;
  mtimeMs?: number;
  etag?: string;
}

export interface TileRef {
  survey: string;
  program: string;
  healpix: number;
  /** Set for a unit of the tile layout (TILEID, PETAL, LASTNIGHT): see layout.ts TileId. */
  cumulative?: CumulativeId;
  coadd?: ObjectRef;
  redrock?: ObjectRef;
  /** The tile's QSO afterburner files (qso_qn-…, qso_mgii-…) found beside them, when discovery looked. */
  afterburners?: Partial<Record<AfterburnerKind, ObjectRef>>;
}

/** The sizes of the tile's coadd and redrock files: what the seed's log calls the tile's FITS size. */
export function tileFitsBytes(t: TileRef): number {
  return (t.coadd?.size ?? 0) + (t.redrock?.size ?? 0);
}
