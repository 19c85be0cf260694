/**
 * The FITS block (FITS 4.0 section 3.1): every header and every data unit fills a whole number of
 * 2880-byte blocks, headers padded with spaces and data with zeros.
 */

/** Bytes per block. */
export const BLOCK_LENGTH = 2880;

/** Bytes rounded up to whole 2880-byte blocks. */
export function padToBlock(n: number): number {
  return Math.ceil(n / BLOCK_LENGTH) * BLOCK_LENGTH;
}
