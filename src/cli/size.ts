import { totalmem } from 'node:os';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
};

/** Parses "4GB", "512MiB", "1.5G" (binary), "2000000" into bytes; throws a usage error otherwise. */
export function parseSize(text: string, what: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`${what}: ${JSON.stringify(text)} is not a size (examples: 4GB, 512MiB, 2G)`);
  const bytes = Math.round(Number(m[1]) * unit);
  if (!(bytes > 0)) throw new Error(`${what} must be more than 0 bytes`);
  return bytes;
}

/**
 * The default --memory: a quarter of the machine's memory, between 1 GiB and 16 GiB. It bounds the tile
 * data in flight; the process also needs room for Node itself and each worker's WASM heap.
 */
export function defaultMemoryBytes(): number {
  return Math.min(16 * 2 ** 30, Math.max(2 ** 30, Math.floor(totalmem() / 4)));
}
