/**
 * Seeded pseudo-random numbers for the tile generator: the same seed gives the same bytes on every
 * machine (no Math.random, no clock).
 */
import { mulberry32u32 } from '../util/prng.js';

/** A 32-bit hash of a list of integers (for deriving independent sub-seeds: tile, arm, target...). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    // let values above 2^32 (healpix * big factors) still move the hash
    const hi = Math.floor(p / 0x100000000);
    if (hi !== 0) h = Math.imul(h ^ hi, 0x27d4eb2f);
  }
  return h >>> 0;
}

/** A small fast generator (mulberry32) with the draws the synth needs. */
export class Rng {
  private readonly gen: () => number;
  constructor(seed: number) {
    this.gen = mulberry32u32(seed);
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    return this.gen();
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.u32() / 0x100000000;
  }

  /** A uniform float in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.float();
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** An approximately normal draw (sum of four uniforms), mean 0, unit variance. */
  normal(): number {
    return (this.float() + this.float() + this.float() + this.float() - 2) * 1.7320508075688772;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** Fisher-Yates shuffle of a copy. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}
