/**
 * Problems with DESI content in files that are valid FITS: redrock and coadd that disagree, a column of a
 * type that cannot be carried losslessly into the output schema, images whose shape does not match the
 * FIBERMAP. Same shape as FitsError (file, HDU, key, reason) so the journal and log treat them alike.
 */
export type DesiErrorCode = 'TARGET_MISMATCH' | 'BAD_TYPE' | 'SHAPE_MISMATCH' | 'TILE_MISMATCH' | 'BAD_UNIT' | 'WAVELENGTH_MISMATCH';

export class DesiError extends Error {
  constructor(
    readonly code: DesiErrorCode,
    readonly file: string,
    readonly reason: string,
    readonly hdu?: string,
    readonly key?: string,
  ) {
    super([file, hdu === undefined ? undefined : `HDU ${hdu}`, key, reason].filter((s) => s !== undefined).join(': '));
    this.name = 'DesiError';
  }
}
