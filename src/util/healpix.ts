/**
 * The centre of a NESTED HEALPix pixel, for the report's sky map. DESI's healpix tiles are nside-64 NESTED
 * pixels (the tile's number is the pixel), so the map needs only pixel → (RA, Dec). Hand-written, because
 * there is no well-kept JavaScript HEALPix library to depend on, and the recipe is short: split the nested
 * index into its base face and the (x, y) position inside the face by de-interleaving bits, then turn the
 * face's ring and position into z = cos(theta) and phi (Górski et al. 2005, ApJ 622, 759; HEALPix's
 * nest2xyf and xyf2loc). Cross-checked by test/unit/report-sky.test.ts against known centres and
 * an independent ang2pix round trip over every nside-64 pixel.
 */

/** DESI's healpix grouping: nside 64, NESTED (49152 pixels). */
export const DESI_NSIDE = 64;

/** The ring of each base face's northernmost corner (in units of nside) and its longitude index. */
const FACE_RING = [2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4];
const FACE_PHI = [1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7];

/** Bits 0, 2, 4, … of `v` packed together: the x (or, shifted by one, y) coordinate of a nested index. */
function evenBits(v: number): number {
  let out = 0;
  for (let bit = 0; v > 0; bit++, v = Math.floor(v / 4)) out += (v % 2) * 2 ** bit;
  return out;
}

/**
 * The centre of NESTED pixel `ipix` at `nside` (a power of two), as RA in [0, 360) and Dec in [-90, 90],
 * degrees. Throws RangeError for a pixel outside 0..12·nside²−1.
 */
export function nestedPixelCenter(nside: number, ipix: number): { ra: number; dec: number } {
  const npface = nside * nside;
  if (!Number.isInteger(ipix) || ipix < 0 || ipix >= 12 * npface)
    throw new RangeError(`HEALPix pixel ${ipix} is outside 0..${12 * npface - 1} at nside ${nside}`);
  const face = Math.floor(ipix / npface);
  const inFace = ipix % npface;
  const ix = evenBits(inFace);
  const iy = evenBits(Math.floor(inFace / 2));
  // The pixel's ring, counted from the north pole (1 .. 4·nside − 1).
  const ring = FACE_RING[face] * nside - ix - iy - 1;
  let nr: number; // pixels in the ring's quarter
  let z: number;
  let shift: number; // rings of the equatorial belt alternate by half a pixel
  if (ring < nside) {
    nr = ring;
    z = 1 - (nr * nr) / (3 * npface);
    shift = 0;
  } else if (ring > 3 * nside) {
    nr = 4 * nside - ring;
    z = (nr * nr) / (3 * npface) - 1;
    shift = 0;
  } else {
    nr = nside;
    z = (2 * (2 * nside - ring)) / (3 * nside);
    shift = (ring - nside) % 2;
  }
  let jp = (FACE_PHI[face] * nr + ix - iy + 1 + shift) / 2;
  if (jp > 4 * nside) jp -= 4 * nside;
  if (jp < 1) jp += 4 * nside;
  const phi = (jp - (shift + 1) / 2) * (Math.PI / 2 / nr);
  const ra = ((((phi * 180) / Math.PI) % 360) + 360) % 360;
  return { ra, dec: (Math.asin(Math.max(-1, Math.min(1, z))) * 180) / Math.PI };
}
