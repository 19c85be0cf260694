/**
 * The file being written, as a list of blocks: a write that does not fit the current block opens a new one
 * instead of doubling and copying everything written so far (a tile's file is hundreds of MB), and
 * {@link Sink.bytes} copies the blocks once into the file's exact-size buffer.
 */

/** Bytes of every block after the first (the first is the caller's estimate). */
const BLOCK_BYTES = 16 * 1024 * 1024;

export class Sink {
  /** Bytes written so far: the file offset of the next write. */
  pos = 0;
  private readonly full: Uint8Array[] = [];
  private block: Uint8Array;
  private used = 0;

  constructor(capacity: number) {
    this.block = new Uint8Array(Math.max(1024, capacity));
  }

  write(b: Uint8Array): void {
    if (this.used + b.length > this.block.length) {
      this.full.push(this.block.subarray(0, this.used));
      this.block = new Uint8Array(Math.max(BLOCK_BYTES, b.length));
      this.used = 0;
    }
    this.block.set(b, this.used);
    this.used += b.length;
    this.pos += b.length;
  }

  /** Returns everything written, in a buffer of its own (byteOffset 0, byteLength = pos). */
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
