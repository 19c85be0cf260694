/**
 * ZSTD for the writer's pages: zstd-napi (libzstd 1.5.x compiled at install), one reused compression
 * context and output buffer per thread. node:zlib has no zstd on Node 20, and one library everywhere
 * keeps the bytes the same on every Node version. Loaded lazily; {@link loadZstd} returns undefined (with
 * the reason) when the native module is missing, so the caller can fall back to parquet-wasm.
 */
import { createRequire } from 'node:module';

interface Binding {
  CCtx: new () => { compress(dst: Uint8Array, src: Uint8Array, level: number): number };
  compressBound(n: number): number;
}

export interface Zstd {
  /** Returns the ZSTD frame of `src` at `level` (a view into a reused buffer, valid until the next call). */
  compress(src: Uint8Array, level: number): Uint8Array;
}

let loaded: Zstd | undefined;
let failure: string | undefined;

export function loadZstd(): Zstd | { error: string } {
  if (loaded !== undefined) return loaded;
  if (failure !== undefined) return { error: failure };
  try {
    const binding = createRequire(import.meta.url)('zstd-napi/binding') as Binding;
    const cctx = new binding.CCtx();
    let out = new Uint8Array(1 << 20);
    loaded = {
      compress(src, level) {
        const bound = binding.compressBound(src.length);
        if (out.length < bound) out = new Uint8Array(Math.max(bound, out.length * 2));
        const n = cctx.compress(out, src, level);
        return out.subarray(0, n);
      },
    };
    return loaded;
  } catch (e) {
    failure = `zstd-napi could not be loaded (${e instanceof Error ? e.message : String(e)})`;
    return { error: failure };
  }
}
