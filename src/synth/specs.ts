/**
 * Ready-made tile lists: the shape of the seed's 40-tile dry run, and a small mixed set for tests and demos.
 */
import { HPX_NPIX } from './healpix.js';
import { estimateTileBytes } from './layout.js';
import { mixSeed, Rng } from './random.js';
import type { SynthTileSpec } from './types.js';

const MiB = 1 << 20;

/**
 * The seed dry run (run_20250901_040950.log), tile by tile: coadd size in MiB and good quasars, in
 * 5 batches of 8. Batch totals match the log (1236.86, 1613.64, 1679.38, 2392.32, 793.65 MB; 7715.85 MB
 * in all), as do the empty tiles per batch (2, 5, 4, 0, 4), the first two tiles (10304: 172.46 MB,
 * 10305: 8.32 MB and empty), the size range (1.5 to 880 MB) and the densest tile (234 quasars).
 */
const DRY_RUN: readonly (readonly [number, number])[] = [
  [172.46, 10],
  [8.32, 0],
  [310.5, 120],
  [95.2, 41],
  [241.9, 95],
  [3.1, 0],
  [260.14, 112],
  [145.24, 62],
  [412.8, 0],
  [1.5, 0],
  [356.27, 0],
  [188.9, 21],
  [530.12, 0],
  [36.45, 9],
  [60.3, 0],
  [27.3, 25],
  [612.4, 234],
  [18.75, 0],
  [402.66, 201],
  [4.92, 0],
  [333.18, 188],
  [96.03, 0],
  [201.44, 190],
  [10.0, 0],
  [880.0, 226],
  [121.37, 48],
  [298.55, 139],
  [64.81, 27],
  [405.22, 171],
  [183.09, 88],
  [350.7, 160],
  [88.58, 41],
  [240.16, 0],
  [12.4, 6],
  [155.83, 0],
  [2.05, 1],
  [301.29, 0],
  [40.11, 17],
  [7.6, 0],
  [34.21, 14],
];

/** The healpix numbers the log names first; the others are drawn from the seed. */
const LOGGED_PIXELS = [10304, 10305];

/** The number of targets whose full-grid coadd comes closest to `bytes`. */
export function targetsForCoaddBytes(base: Omit<SynthTileSpec, 'targets' | 'goodQso'>, bytes: number): number {
  const at = (targets: number): number => estimateTileBytes({ ...base, targets, goodQso: 0 }, 'full').coaddBytes;
  const a = at(1);
  const perTarget = (at(1001) - a) / 1000;
  let t = Math.max(1, Math.round(1 + (bytes - a) / perTarget));
  t = Math.max(1, t + Math.round((bytes - at(t)) / perTarget));
  return t;
}

/**
 * The seed dry run's shape: 40 tiles, full-grid coadds of about 1.5 MB to 880 MB (7.7 GB in all), 0..234
 * good QSOs per tile, 15 of 40 tiles with none. `scale` (0 < scale <= 1) multiplies the target counts
 * (so the sizes) and the good-QSO counts (a non-empty tile keeps at least one) for quick runs.
 * Deterministic for a seed (which picks the healpix numbers after the two the log names, and the tiles' seeds).
 */
export function seedDryRunSpecs(opts: { scale?: number; seed?: number; survey?: string; program?: string } = {}): SynthTileSpec[] {
  const scale = opts.scale ?? 1;
  if (!(scale > 0 && scale <= 1)) throw new Error(`synth: scale must be in (0, 1], got ${scale}`);
  const seed = opts.seed ?? 20250901;
  const survey = opts.survey ?? 'main';
  const program = opts.program ?? 'dark';
  const rng = new Rng(mixSeed(seed, 0xd2));
  const used = new Set<number>(LOGGED_PIXELS);
  const pixels = DRY_RUN.map((_, k) => {
    if (k < LOGGED_PIXELS.length) return LOGGED_PIXELS[k];
    let p = rng.int(HPX_NPIX);
    while (used.has(p)) p = rng.int(HPX_NPIX);
    used.add(p);
    return p;
  });
  return DRY_RUN.map(([mib, good], k) => {
    const base = { survey, program, healpix: pixels[k], seed: mixSeed(seed, k), mask: 'int32' as const };
    const full = targetsForCoaddBytes(base, mib * MiB);
    const targets = Math.max(1, Math.round(full * scale));
    const goodQso = good === 0 ? 0 : Math.min(targets, Math.max(1, Math.round(good * scale)));
    return { ...base, targets, goodQso };
  });
}

const SMALL_KINDS: readonly [string, string][] = [
  ['main', 'dark'],
  ['main', 'dark'],
  ['main', 'bright'],
  ['sv3', 'dark'],
  ['main', 'dark'],
  ['special', 'dark'],
];

/**
 * A small mixed set for tests and the demo: `tiles` tiles of 3..12 targets across main/sv3/special and
 * dark/bright, every third one (from the second) without a good QSO, the third one with EDR-style
 * uint32 masks (BZERO). Deterministic for a seed.
 */
export function smallSpecs(opts: { tiles: number; seed?: number }): SynthTileSpec[] {
  if (!Number.isInteger(opts.tiles) || opts.tiles < 0) throw new Error(`synth: tiles must be a non-negative integer`);
  const seed = opts.seed ?? 1;
  const rng = new Rng(mixSeed(seed, 0x5a));
  const used = new Set<number>();
  const out: SynthTileSpec[] = [];
  for (let k = 0; k < opts.tiles; k++) {
    const [survey, program] = SMALL_KINDS[k % SMALL_KINDS.length];
    let healpix = rng.int(HPX_NPIX);
    while (used.has(healpix)) healpix = rng.int(HPX_NPIX);
    used.add(healpix);
    const targets = 3 + rng.int(10);
    const goodQso = k % 3 === 1 ? 0 : 1 + rng.int(Math.min(4, targets - 1));
    out.push({ survey, program, healpix, targets, goodQso, seed: mixSeed(seed, k), mask: k % 6 === 2 ? 'uint32-bzero' : 'int32' });
  }
  return out;
}

/** First TILEID and LASTNIGHT of tileLayoutSpecs. */
export const SYNTH_TILEID = 80600;
export const SYNTH_LASTNIGHT = 20210517;

/**
 * The small set of smallSpecs laid out as tile-layout units: three petals per tile (petals 0, 4, 7 of tile
 * SYNTH_TILEID + k), through SYNTH_LASTNIGHT + k (a night of May 2021). With `superseded`, the first tile
 * also gets an older LASTNIGHT folder (the night before) holding the same petals with other targets and one
 * petal (9) only there: discovery must take the latest night, and report petal 9.
 */
export function tileLayoutSpecs(opts: { tiles: number; seed?: number; superseded?: boolean }): SynthTileSpec[] {
  const base = smallSpecs(opts);
  const petals = [0, 4, 7];
  // One tile is of one survey and program: its petals take those of its first unit.
  const out = base.map((s, k) => ({
    ...s,
    survey: base[k - (k % 3)].survey,
    program: base[k - (k % 3)].program,
    cumulative: { tileid: SYNTH_TILEID + Math.floor(k / 3), petal: petals[k % 3], lastnight: SYNTH_LASTNIGHT + Math.floor(k / 3) },
  }));
  if (opts.superseded && out.length > 0) {
    const first = out.filter((s) => s.cumulative.tileid === SYNTH_TILEID);
    const older = SYNTH_LASTNIGHT - 1;
    for (const s of first) out.push({ ...s, seed: mixSeed(s.seed, 0x01d), cumulative: { ...s.cumulative, lastnight: older } });
    out.push({ ...first[0], seed: mixSeed(first[0].seed, 0x09), cumulative: { tileid: SYNTH_TILEID, petal: 9, lastnight: older } });
  }
  return out;
}
