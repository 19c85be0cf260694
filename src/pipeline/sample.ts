import { mulberry32 } from '../util/prng.js';

/** n items drawn without replacement, deterministic for the seed, kept in their original order. */
export function sample<T>(items: T[], n: number, seed: number): T[] {
  if (n >= items.length) return [...items];
  const rnd = mulberry32(seed);
  const idx = items.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx
    .slice(0, n)
    .sort((a, b) => a - b)
    .map((i) => items[i]);
}
