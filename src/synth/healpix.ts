/**
 * The little HEALPix the generator needs: the centre of a NESTED pixel, and DESI's directory layout.
 */
import { nestedPixelCenter } from '../util/healpix.js';

/** DESI's healpix grouping: nside 64, NESTED; 49152 pixels. */
export const HPX_NSIDE = 64;
export const HPX_NPIX = 12 * HPX_NSIDE * HPX_NSIDE; // 49152

/**
 * The centre (RA, Dec in degrees) of NESTED pixel `ipix` at `nside`: the one implementation, shared with the
 * report's sky map (util/healpix.ts, checked there against known centres and an independent ang2pix).
 */
export function pixelCenter(nside: number, ipix: number): { ra: number; dec: number } {
  return nestedPixelCenter(nside, ipix);
}

/*
 * DESI's directory rule below (and HPX_NPIX above, and the file names in tree.ts) is a deliberate copy of
 * src/desi/layout.ts, not an import of it: the generator is the independent oracle the tests compare
 * discovery and the output paths with, so a mistake in layout.ts must not be mirrored in the trees it writes.
 */

/** PIXGROUP of a healpix tile: PIXNUM // 100. */
export function pixGroup(healpix: number): number {
  return Math.floor(healpix / 100);
}

/** The tile's directory relative to a healpix root: {survey}/{program}/{pixgroup}/{pixnum}. */
export function tileDir(survey: string, program: string, healpix: number): string {
  return `${survey}/${program}/${pixGroup(healpix)}/${healpix}`;
}
