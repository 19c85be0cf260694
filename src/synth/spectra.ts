/**
 * The pixel side of a synthetic coadd: FLUX, IVAR and MASK rows per target (a continuum, quasar emission
 * lines, noise, masked pixels, and in some targets NaN, ±inf, -0.0 and denormals), and the RESOLUTION
 * diagonals as a big-endian pattern encoded once and written many times.
 */
import { endianness } from 'node:os';
import type { TileCatalog } from './catalog.js';
import { NDIAG, type ArmGrid } from './grids.js';
import { mixSeed, Rng } from './random.js';

const ARM_INDEX = { B: 1, R: 2, Z: 3 } as const;
/** Rest wavelengths (Å) of broad quasar lines: Lyα, C IV, C III], Mg II, Hβ, Hα. */
const QSO_LINES = [1215.67, 1549.06, 1908.73, 2798.75, 4862.68, 6564.61];
/** Mask bits drawn for bad pixels, the high bit (2^31) among them. */
const MASK_BITS = [1, 2, 4, 8, 16, 32, 64, 1 << 9, 1 << 10, 1 << 16, 1 << 17, 1 << 22, 0x80000000, 0x80000001, 0xffffffff];
const DENORMAL_A = 1e-40; // a float32 subnormal
const DENORMAL_B = 1.401298464324817e-45; // the smallest float32 subnormal

export type SpectrumKind = 'FLUX' | 'IVAR' | 'MASK';

/** Per-target draws shared by the three kinds (each from its own stream, so each kind is made alone). */
function targetParams(seed: number, arm: number, i: number): { level: number; slope: number; sigma: number; badRate: number; lineSeed: number } {
  const rng = new Rng(mixSeed(seed, arm, i, 0x7a));
  const level = Math.exp(rng.range(-1, 2.5));
  return { level, slope: rng.range(-1.5, 0.5), sigma: level * rng.range(0.05, 0.6), badRate: rng.range(0.002, 0.03), lineSeed: rng.u32() };
}

/** Pixel positions (within a row of `nw`) that carry the special values of flagged targets. */
function specialPixel(nw: number, p: number): number {
  return Math.min(nw - 1, Math.floor((nw * p) / 12) + 1);
}

/**
 * One kind (FLUX, IVAR or MASK) of FIBERMAP rows [first, first + count) for one arm: `count × nwave`
 * values, row-major; MASK as logical uint32 values (the coadd stores them as int32 or via BZERO).
 * Deterministic per (tile seed, arm, target): chunking does not change the values, and each kind is
 * generated without the others (masked pixels have IVAR 0 in both).
 */
export function spectrumRows(catalog: TileCatalog, seed: number, grid: ArmGrid, wave: Float64Array, first: number, count: number, kind: 'MASK'): Uint32Array;
export function spectrumRows(
  catalog: TileCatalog,
  seed: number,
  grid: ArmGrid,
  wave: Float64Array,
  first: number,
  count: number,
  kind: 'FLUX' | 'IVAR',
): Float32Array;
export function spectrumRows(
  catalog: TileCatalog,
  seed: number,
  grid: ArmGrid,
  wave: Float64Array,
  first: number,
  count: number,
  kind: SpectrumKind,
): Float32Array | Uint32Array {
  const nw = grid.nwave;
  const arm = ARM_INDEX[grid.arm];
  const out = kind === 'MASK' ? new Uint32Array(count * nw) : new Float32Array(count * nw);
  const logw = new Float64Array(nw);
  for (let j = 0; j < nw; j++) logw[j] = Math.log(wave[j] / 5000);
  for (let k = 0; k < count; k++) {
    const i = first + k;
    const p = targetParams(seed, arm, i);
    const off = k * nw;
    if (kind === 'FLUX') {
      const rng = new Rng(mixSeed(seed, arm, i, 0xf1));
      const lines: { center: number; width: number; amp: number }[] = [];
      const t = catalog.kinds[i];
      if (t === 'goodQso' || t === 'badQso') {
        const lineRng = new Rng(p.lineSeed);
        const z = catalog.z[i];
        for (const rest of QSO_LINES) {
          const center = rest * (1 + z);
          const amp = p.level * lineRng.range(0.5, 3);
          if (center > wave[0] - 200 && center < wave[nw - 1] + 200) lines.push({ center, width: center * 0.01, amp });
        }
      }
      for (let j = 0; j < nw; j++) {
        let model = p.level * Math.exp(p.slope * logw[j]);
        for (const l of lines) {
          const d = (wave[j] - l.center) / l.width;
          if (d > -5 && d < 5) model += l.amp * Math.exp(-0.5 * d * d);
        }
        out[off + j] = model + p.sigma * ((rng.u32() / 0x100000000 - 0.5) * 3.4641016151377544);
      }
    } else {
      // Bad pixels (mask bits set, IVAR 0): the arm's 3 pixels at each end and a random few.
      const maskRng = new Rng(mixSeed(seed, arm, i, 0x3a));
      const ivarRng = kind === 'IVAR' ? new Rng(mixSeed(seed, arm, i, 0x1b)) : null;
      const invVar = 1 / (p.sigma * p.sigma);
      const threshold = p.badRate * 0x100000000;
      for (let j = 0; j < nw; j++) {
        const u = maskRng.u32();
        const bad = j < 3 || j >= nw - 3 || u < threshold;
        if (kind === 'MASK') out[off + j] = bad ? MASK_BITS[u % MASK_BITS.length] : 0;
        else out[off + j] = bad ? 0 : invVar * (0.8 + 0.4 * (ivarRng as Rng).float());
      }
    }
    if (catalog.specials[i]) {
      const at = (q: number): number => off + specialPixel(nw, q);
      if (kind === 'FLUX') {
        out[at(1)] = NaN;
        out[at(2)] = -0;
        out[at(3)] = DENORMAL_A;
        out[at(4)] = Infinity;
        out[at(5)] = -Infinity;
        out[at(6)] = -DENORMAL_B;
      } else if (kind === 'IVAR') {
        out[at(7)] = NaN;
        out[at(8)] = -0;
        out[at(9)] = DENORMAL_B;
        out[at(10)] = Infinity;
      } else {
        out[at(7)] = 0x80000000;
        out[at(8)] = 0xffffffff;
        out[at(9)] = 0x7fffffff;
      }
    }
  }
  return out;
}

/** How many distinct resolution rows the pattern cycles through. */
const RESOLUTION_VARIANTS = 4;

/**
 * A big-endian block of RESOLUTION data for `targets` consecutive targets (a multiple of the variant count),
 * to be written again and again: each target's 11 × nwave diagonals are a normalised Gaussian whose width
 * varies along the arm and between variants. Target t of a tile uses variant t % RESOLUTION_VARIANTS.
 */
export function resolutionPattern(grid: ArmGrid, targets: number): Buffer {
  const nw = grid.nwave;
  const perTarget = NDIAG * nw;
  const variants = new Float32Array(RESOLUTION_VARIANTS * perTarget);
  const half = (NDIAG - 1) / 2;
  for (let v = 0; v < RESOLUTION_VARIANTS; v++) {
    for (let j = 0; j < nw; j++) {
      const width = 0.9 + 0.12 * v + (0.5 * j) / nw;
      let sum = 0;
      for (let d = 0; d < NDIAG; d++) sum += Math.exp(-0.5 * ((d - half) / width) ** 2);
      for (let d = 0; d < NDIAG; d++) variants[v * perTarget + d * nw + j] = Math.exp(-0.5 * ((d - half) / width) ** 2) / sum;
    }
  }
  // Edge pixels: the diagonals that fall off the grid are zero, as in real coadds.
  for (let v = 0; v < RESOLUTION_VARIANTS; v++) {
    for (let d = 0; d < NDIAG; d++) {
      const shift = d - half;
      for (let j = 0; j < nw; j++) if (j + shift < 0 || j + shift >= nw) variants[v * perTarget + d * nw + j] = 0;
    }
  }
  const encoded = Buffer.from(variants.buffer, variants.byteOffset, variants.byteLength);
  if (endianness() === 'LE') encoded.swap32();
  const out = Buffer.allocUnsafe(targets * perTarget * 4);
  for (let t = 0; t < targets; t++)
    encoded.copy(out, t * perTarget * 4, (t % RESOLUTION_VARIANTS) * perTarget * 4, ((t % RESOLUTION_VARIANTS) + 1) * perTarget * 4);
  return out;
}

/** Targets per reused RESOLUTION block: a multiple of the variant count, about 4 MB with full grids. */
export function resolutionBlockTargets(grid: ArmGrid): number {
  const bytesPerTarget = NDIAG * grid.nwave * 4;
  const n = Math.max(1, Math.floor((4 << 20) / bytesPerTarget / RESOLUTION_VARIANTS)) * RESOLUTION_VARIANTS;
  return n;
}
