/**
 * The little HEALPix the generator needs: the centre of a NESTED pixel, and DESI's directory layout.
 */

/** DESI's healpix grouping: nside 64, NESTED; 49152 pixels. */
export const HPX_NSIDE = 64;
export const HPX_NPIX = 12 * HPX_NSIDE * HPX_NSIDE; // 49152

const JRLL = [2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4];
const JPLL = [1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7];

/** Every other bit of `v` (bits 0, 2, 4, ...) packed together: one coordinate of a nested index. */
function compressBits(v: number): number {
  let out = 0;
  for (let bit = 0; v > 0; bit++, v = Math.floor(v / 4)) out |= (v & 1) << bit;
  return out;
}

/** The centre (RA, Dec in degrees) of NESTED pixel `ipix` at `nside` (the HEALPix pix2ang_nest recipe). */
export function pixelCenter(nside: number, ipix: number): { ra: number; dec: number } {
  const npface = nside * nside;
  const face = Math.floor(ipix / npface);
  const ipf = ipix % npface;
  const ix = compressBits(ipf);
  const iy = compressBits(Math.floor(ipf / 2));
  const jr = JRLL[face] * nside - ix - iy - 1;
  let nr: number;
  let z: number;
  let kshift: number;
  if (jr < nside) {
    nr = jr;
    z = 1 - (nr * nr) / (3 * npface);
    kshift = 0;
  } else if (jr > 3 * nside) {
    nr = 4 * nside - jr;
    z = -1 + (nr * nr) / (3 * npface);
    kshift = 0;
  } else {
    nr = nside;
    z = ((2 * nside - jr) * 2) / (3 * nside);
    kshift = (jr - nside) & 1;
  }
  let jp = (JPLL[face] * nr + ix - iy + 1 + kshift) / 2;
  if (jp > 4 * nside) jp -= 4 * nside;
  if (jp < 1) jp += 4 * nside;
  const phi = (jp - (kshift + 1) * 0.5) * (Math.PI / 2 / nr);
  const theta = Math.acos(z);
  return { ra: (phi * 180) / Math.PI, dec: 90 - (theta * 180) / Math.PI };
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
