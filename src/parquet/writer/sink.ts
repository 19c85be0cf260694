/**
 * The file being written, as a list of blocks: a write that does not fit the current block opens a new one
 * instead of doubling and copying everything written so far (a tile's file is hundreds of MB), and
 * {@link Sink.bytes} copies the blocks once into the file's exact-size buffer. The first
 * {@link POOL_BLOCKS} blocks are kept by the thread from file to file: a fresh buffer costs a page fault
 * per 4 KiB page when first written (measured: the sink's writes were a fifth of a small tile's encode
 * time), a reused one does not; the cap bounds what a worker holds between tiles.
 * Pooled blocks mean one live Sink per thread at a time: writeParquetFile makes one, and is synchronous.
 */

/** Bytes of a block. */
const BLOCK_BYTES = 16 * 1024 * 1024;
/** Blocks a thread keeps for the next file (64 MiB). */
const POOL_BLOCKS = 4;
const pool: Uint8Array[] = [];

export class Sink {
  /** Bytes written so far: the file offset of the next write. */
  pos = 0;
  private readonly full: Uint8Array[] = [];
  private block: Uint8Array;
  private used = 0;

  constructor() {
    this.block = nextBlock(0, BLOCK_BYTES);
  }

  write(b: Uint8Array): void {
    if (this.used + b.length > this.block.length) {
      this.full.push(this.block.subarray(0, this.used));
      this.block = nextBlock(this.full.length, b.length);
      this.used = 0;
    }
    this.block.set(b, this.used);
    this.used += b.length;
    this.pos += b.length;
  }

  /** Returns everything written, in a buffer of its own (byteOffset 0, byteLength = pos); the sink is spent. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.pos);
    let at = 0;
    for (const f of [...this.full, this.block.subarray(0, this.used)]) {
      out.set(f, at);
      at += f.length;
    }
    return out;
  }
}

/** The `i`-th block of a file, with room for at least `need` bytes: the pool's when it has one that fits. */
function nextBlock(i: number, need: number): Uint8Array {
  if (need > BLOCK_BYTES) return new Uint8Array(need);
  if (i >= POOL_BLOCKS) return new Uint8Array(BLOCK_BYTES);
  while (pool.length <= i) pool.push(new Uint8Array(BLOCK_BYTES));
  return pool[i];
}
