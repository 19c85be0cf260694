/**
 * The coadd wavelength grids: DESI's three arms on 0.8 Å steps ('full'), or tiny grids for tests ('short').
 */

export type ArmName = 'B' | 'R' | 'Z';
export type WavelengthMode = 'full' | 'short';

export interface ArmGrid {
  arm: ArmName;
  /** First wavelength, Å. */
  start: number;
  /** Number of pixels (NAXIS1 of the arm's images). */
  nwave: number;
}

/** Pixel step of every arm, Å. */
export const WAVE_STEP = 0.8;

const GRIDS: Record<WavelengthMode, ArmGrid[]> = {
  full: [
    { arm: 'B', start: 3600.0, nwave: 2751 },
    { arm: 'R', start: 5760.0, nwave: 2326 },
    { arm: 'Z', start: 7520.0, nwave: 2881 },
  ],
  short: [
    { arm: 'B', start: 3600.0, nwave: 40 },
    { arm: 'R', start: 5760.0, nwave: 30 },
    { arm: 'Z', start: 7520.0, nwave: 35 },
  ],
};

/** The three arm grids of a mode, in file order B, R, Z. */
export function armGrids(mode: WavelengthMode): ArmGrid[] {
  return GRIDS[mode];
}

/** The wavelengths of one arm: start + 0.8 Å × i, as float64. */
export function wavelengths(grid: ArmGrid): Float64Array {
  const out = new Float64Array(grid.nwave);
  for (let i = 0; i < grid.nwave; i++) out[i] = grid.start + WAVE_STEP * i;
  return out;
}

/** Number of diagonals of the resolution matrix (NAXIS2 of *_RESOLUTION). */
export const NDIAG = 11;
