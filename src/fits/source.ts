/**
 * "Bytes I can slice": the one reading interface under local files, S3 objects and memory.
 * The FITS reader asks only for the byte ranges it needs through it.
 */
export interface ByteSource {
  /** A name for messages: a path or an s3:// URL, never a signed URL. */
  readonly name: string;
  /** The real length of the object, as the storage reports it. */
  readonly byteLength: number;
  /**
   * Bytes [start, end) as a fresh Uint8Array whose byteOffset is 0 (so typed-array views over image
   * data, which starts on a 2880-byte boundary, are aligned). Throws if the range is outside the object.
   */
  slice(start: number, end: number): Promise<Uint8Array>;
}

/** Throws a RangeError naming the source when [start, end) is not inside [0, length). */
export function checkRange(name: string, length: number, start: number, end: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > length) {
    throw new RangeError(`${name}: byte range [${start}, ${end}) is outside the object's ${length} bytes`);
  }
}
