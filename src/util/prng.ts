/**
 * mulberry32: a small, fast, seeded 32-bit generator. One implementation for everything that must draw the
 * same numbers on every machine for a seed: --sample, the synth generator, the fuzzer and the soak.
 */
export function mulberry32u32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The same generator as floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  const next = mulberry32u32(seed);
  return () => next() / 4294967296;
}
