/** The in-memory ByteSource and the counters every source keeps (the ByteSource interface is the FITS reader's, in src/fits/source.ts). */
import { checkRange, type ByteSource } from '../fits/source.js';

/** Counters a source keeps, for the accounting of bytes fetched and requests made. */
export interface SourceStats {
  bytesFetched: number;
  requests: number;
}

/** An in-memory source: a whole file already read, or a test buffer. */
export class MemorySource implements ByteSource {
  readonly byteLength: number;
  readonly stats: SourceStats = { bytesFetched: 0, requests: 0 };
  constructor(
    readonly name: string,
    private readonly bytes: Uint8Array,
  ) {
    this.byteLength = bytes.byteLength;
  }

  async slice(start: number, end: number): Promise<Uint8Array> {
    checkRange(this.name, this.byteLength, start, end);
    this.stats.requests += 1;
    this.stats.bytesFetched += end - start;
    const out = new Uint8Array(end - start);
    out.set(this.bytes.subarray(start, end));
    return out;
  }
}
