/**
 * Every problem found in a FITS file is a FitsError: it names the file, the HDU (EXTNAME or index) and,
 * where one is at fault, the header key or column, and says what is wrong. `code` is a stable class
 * name that the journal and the end-of-run table group by.
 */
export type FitsErrorCode =
  | 'NOT_FITS' // the first card is not SIMPLE = T (or XTENSION for an extension)
  | 'TRUNCATED' // the file ends before a header's END card or before the data its header claims
  | 'NO_END' // a header without an END card inside the limit we allow
  | 'BAD_HEADER' // a malformed card, a missing or invalid mandatory key, non-ASCII bytes
  | 'SIZE_LIMIT' // a size the header claims exceeds what the file or the reader allows
  | 'MISSING_HDU' // no HDU with the EXTNAME asked for
  | 'DUPLICATE_HDU' // the EXTNAME asked for is there more than once
  | 'MISSING_COLUMN' // a binary table lacks a required column
  | 'BAD_TFORM' // an unknown or malformed TFORMn / TDIMn
  | 'BAD_HEAP' // a variable-length array descriptor points outside the heap
  | 'UNSUPPORTED'; // valid FITS that this reader does not handle (said plainly, never guessed)

export class FitsError extends Error {
  constructor(
    readonly code: FitsErrorCode,
    readonly file: string,
    readonly reason: string,
    readonly hdu?: string | number,
    readonly key?: string,
  ) {
    super(formatFitsMessage(file, reason, hdu, key));
    this.name = 'FitsError';
  }
}

function formatFitsMessage(file: string, reason: string, hdu?: string | number, key?: string): string {
  const where = [file];
  if (hdu !== undefined) where.push(typeof hdu === 'number' ? `HDU #${hdu}` : `HDU ${hdu}`);
  if (key !== undefined) where.push(key);
  return `${where.join(': ')}: ${reason}`;
}
