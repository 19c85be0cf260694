/**
 * The report's sky map arithmetic: the centres of nested HEALPix pixels (known values derived from the
 * HEALPix recipe, an independent ang2pix round trip over every pixel of DESI's nside 64, and the synth
 * generator's own implementation), and the Mollweide projection (edges, orientation, equal area).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DESI_NSIDE, nestedPixelCenter } from '../../src/util/healpix.js';
import { MOLLWEIDE_X, MOLLWEIDE_Y, mollweide, mollweideTheta, skyToMollweide } from '../../src/report/mollweide.js';

const DEG = Math.PI / 180;
const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

/** healpy's pix2ang(nside, ipix, nest=True) for a few pixels, as (theta, phi) in radians, derived by hand. */
const KNOWN: [number, number, number, number][] = [
  // nside, ipix, theta, phi
  [1, 0, Math.acos(2 / 3), Math.PI / 4], // RA 45°, Dec 41.81°
  [1, 4, Math.PI / 2, 0], // RA 0, Dec 0
  [1, 5, Math.PI / 2, Math.PI / 2],
  [1, 11, Math.acos(-2 / 3), (7 * Math.PI) / 4],
  [2, 0, Math.acos(1 / 3), Math.PI / 4],
  [2, 3, Math.acos(11 / 12), Math.PI / 4],
  [64, 0, Math.acos(1 / 96), Math.PI / 4],
  [64, 49151, Math.acos(-1 / 96), (7 * Math.PI) / 4],
];

test('nested pixel centres: known values', () => {
  const c0 = nestedPixelCenter(1, 0);
  close(c0.ra, 45, 1e-12, 'nside 1 pixel 0 RA');
  close(c0.dec, 41.8103149, 1e-6, 'nside 1 pixel 0 Dec');
  const c4 = nestedPixelCenter(1, 4);
  close(c4.ra, 0, 1e-12, 'nside 1 pixel 4 RA');
  close(c4.dec, 0, 1e-12, 'nside 1 pixel 4 Dec');
  for (const [nside, ipix, theta, phi] of KNOWN) {
    const c = nestedPixelCenter(nside, ipix);
    close(c.ra, phi / DEG, 1e-9, `nside ${nside} pixel ${ipix} RA`);
    close(c.dec, 90 - theta / DEG, 1e-9, `nside ${nside} pixel ${ipix} Dec`);
  }
  assert.throws(() => nestedPixelCenter(64, 49152), RangeError);
  assert.throws(() => nestedPixelCenter(64, -1), RangeError);
});

/** An independent ang2pix (HEALPix's loc2pix for the nested scheme): the pixel that holds (theta, phi). */
function ang2pixNest(nside: number, theta: number, phi: number): number {
  const z = Math.cos(theta);
  const za = Math.abs(z);
  const tt = (((phi / (Math.PI / 2)) % 4) + 4) % 4;
  let face: number;
  let ix: number;
  let iy: number;
  if (za <= 2 / 3) {
    const t1 = nside * (0.5 + tt);
    const t2 = nside * z * 0.75;
    const jp = Math.floor(t1 - t2);
    const jm = Math.floor(t1 + t2);
    const ifp = Math.floor(jp / nside);
    const ifm = Math.floor(jm / nside);
    face = ifp === ifm ? (ifp % 4) + 4 : ifp < ifm ? ifp : ifm + 8; // C++: ifp | 4, with ifp in 0..4
    ix = jm % nside;
    iy = nside - (jp % nside) - 1;
  } else {
    const ntt = Math.min(3, Math.floor(tt));
    const tp = tt - ntt;
    const tmp = nside * Math.sqrt(3 * (1 - za));
    const jp = Math.min(nside - 1, Math.floor(tp * tmp));
    const jm = Math.min(nside - 1, Math.floor((1 - tp) * tmp));
    if (z >= 0) {
      face = ntt;
      ix = nside - jm - 1;
      iy = nside - jp - 1;
    } else {
      face = ntt + 8;
      ix = jp;
      iy = jm;
    }
  }
  const spread = (v: number) => {
    let out = 0;
    for (let bit = 0; v > 0; bit++, v >>= 1) out += (v & 1) * 4 ** bit;
    return out;
  };
  return face * nside * nside + spread(ix) + 2 * spread(iy);
}

test('every nside-64 pixel centre lies in its own pixel (independent ang2pix)', () => {
  for (const nside of [1, 2, 4, DESI_NSIDE]) {
    for (let p = 0; p < 12 * nside * nside; p++) {
      const c = nestedPixelCenter(nside, p);
      assert.ok(c.ra >= 0 && c.ra < 360 && c.dec >= -90 && c.dec <= 90, `nside ${nside} pixel ${p}: ${c.ra}, ${c.dec}`);
      const back = ang2pixNest(nside, (90 - c.dec) * DEG, c.ra * DEG);
      if (back !== p) assert.fail(`nside ${nside}: the centre of pixel ${p} (${c.ra}, ${c.dec}) falls in pixel ${back}`);
    }
  }
});

test('Mollweide: edges, orientation, and the auxiliary angle solves 2θ + sin 2θ = π sin φ', () => {
  assert.deepEqual(mollweide(0, 0), { x: 0, y: 0 });
  close(mollweide(Math.PI, 0).x, MOLLWEIDE_X, 1e-12, 'equator at the edge');
  close(mollweide(0, Math.PI / 2).y, MOLLWEIDE_Y, 1e-12, 'north pole');
  close(mollweide(1, -Math.PI / 2).y, -MOLLWEIDE_Y, 1e-12, 'south pole');
  close(mollweide(1, Math.PI / 2).x, 0, 1e-12, 'a pole is a point');
  for (let lat = -89.5; lat <= 89.5; lat += 0.5) {
    const phi = lat * DEG;
    const t = mollweideTheta(phi);
    close(2 * t + Math.sin(2 * t), Math.PI * Math.sin(phi), 1e-12, `latitude ${lat}`);
    const p = mollweide(-Math.PI, phi);
    const q = mollweide(Math.PI, -phi);
    close(p.x, -q.x, 1e-12, 'symmetric in x');
    close(p.y, -q.y, 1e-12, 'symmetric in y');
    // Inside the bounding ellipse: (x/2√2)² + (y/√2)² <= 1, on it at the edge meridian.
    close((p.x / MOLLWEIDE_X) ** 2 + (p.y / MOLLWEIDE_Y) ** 2, 1, 1e-12, 'the edge meridian is the ellipse');
  }
  // RA grows to the left, around the centre RA.
  close(skyToMollweide(120, 0, 120).x, 0, 1e-12, 'the centre RA');
  assert.ok(skyToMollweide(130, 0, 120).x < 0, 'larger RA to the left');
  assert.ok(skyToMollweide(110, 0, 120).x > 0, 'smaller RA to the right');
  close(Math.abs(skyToMollweide(300, 0, 120).x), MOLLWEIDE_X, 1e-9, 'the opposite RA at the edge');
});

test('Mollweide is equal-area: the mapped band from the equator to latitude φ has 2π sin φ of the map’s 4π', () => {
  // Numerically: the map's width at height y is 2·x(λ = π); integrate it over y from 0 to y(φ).
  for (const lat of [10, 30, 45, 60, 80, 90]) {
    let area = 0;
    const steps = 20000;
    let prev = mollweide(Math.PI, 0);
    for (let i = 1; i <= steps; i++) {
      const p = mollweide(Math.PI, ((lat * i) / steps) * DEG);
      area += ((p.x + prev.x) / 2) * 2 * (p.y - prev.y);
      prev = p;
    }
    close(area, 2 * Math.PI * Math.sin(lat * DEG), 2e-4, `band 0..${lat}°`);
  }
});
