/** The generator's public shapes (re-exported by index.ts). */
import type { WavelengthMode } from './grids.js';

export interface SynthTileSpec {
  survey: string;
  program: string;
  healpix: number;
  targets: number;
  goodQso: number;
  seed: number;
  /** How *_MASK is stored: plain int32 (DR1 iron, the default) or uint32 via BZERO = 2^31 (EDR fuji). */
  mask?: 'int32' | 'uint32-bzero';
  /** Plant the QSO catalog's cases (synth/afterburners.ts) in the catalog; goodQso is then not redrock-qso's truth. */
  qsoCases?: boolean;
}

export interface SynthOptions {
  out: string;
  tiles: SynthTileSpec[];
  /** 'full' (default) = DESI's grids; 'short' = 40/30/35 pixels for tests. */
  wavelength?: WavelengthMode;
}

export interface SynthTileReport {
  survey: string;
  program: string;
  healpix: number;
  coaddPath: string;
  redrockPath: string;
  coaddBytes: number;
  redrockBytes: number;
  targets: number;
  goodQso: number;
}

export interface SynthReport {
  tiles: SynthTileReport[];
  totalBytes: number;
}
