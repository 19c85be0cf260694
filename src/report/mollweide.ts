/**
 * The Mollweide projection for the report's sky map: equal-area, so the density of kept spectra per pixel
 * reads truly across the sky. Plain formulas (Snyder 1987, Map Projections: A Working Manual, p. 251):
 * x = (2√2/π)·λ·cos θ, y = √2·sin θ, with 2θ + sin 2θ = π·sin φ solved by Newton's method. The whole sky
 * fits in the ellipse |x| ≤ 2√2, |y| ≤ √2.
 */

export const MOLLWEIDE_X = 2 * Math.SQRT2;
export const MOLLWEIDE_Y = Math.SQRT2;

/** The auxiliary angle θ of latitude `lat` (radians): the root of 2θ + sin 2θ = π sin(lat). */
export function mollweideTheta(lat: number): number {
  if (Math.abs(lat) >= Math.PI / 2 - 1e-12) return Math.sign(lat) * (Math.PI / 2);
  const target = Math.PI * Math.sin(lat);
  let t = 2 * lat; // t = 2θ; the latitude itself is a good start
  for (let i = 0; i < 50; i++) {
    const step = (t + Math.sin(t) - target) / (1 + Math.cos(t));
    t -= step;
    if (Math.abs(step) < 1e-14) break;
  }
  return t / 2;
}

/** Projects longitude `lon` (radians, −π..π from the central meridian) and latitude `lat` (radians). */
export function mollweide(lon: number, lat: number): { x: number; y: number } {
  const theta = mollweideTheta(lat);
  return { x: ((2 * Math.SQRT2) / Math.PI) * lon * Math.cos(theta), y: Math.SQRT2 * Math.sin(theta) };
}

/**
 * Where a sky position (RA, Dec in degrees) lands on a map centred on RA `center`, with RA increasing to the
 * left as on the sky seen from inside (astronomers' convention; DESI's own sky plots do the same).
 */
export function skyToMollweide(ra: number, dec: number, center: number): { x: number; y: number } {
  let d = ((((ra - center) % 360) + 540) % 360) - 180; // −180 .. 180
  if (d === -180) d = 180;
  return mollweide((-d * Math.PI) / 180, (dec * Math.PI) / 180);
}
