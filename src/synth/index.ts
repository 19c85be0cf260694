/**
 * The DESI-format tile generator behind `desi-qad synth`: coadd + redrock FITS pairs shaped like DR1
 * ("iron") healpix files, for tests, demos and benchmarks. See shared/reference/desi-format.md.
 */
export type { SynthOptions, SynthReport, SynthTileReport, SynthTileSpec } from './types.js';
export { synthTree, synthTile, tilePaths } from './tree.js';
export { seedDryRunSpecs, smallSpecs, targetsForCoaddBytes, tileLayoutSpecs, SYNTH_LASTNIGHT, SYNTH_TILEID } from './specs.js';
export { estimateTileBytes } from './layout.js';
export type { WavelengthMode } from './grids.js';
