/** The generator's public shapes (re-exported by index.ts). */
import type { WavelengthMode } from './grids.js';

export interface SynthTileSpec {
  survey: string;
  program: string;
  healpix: number;
  targets: number;
  goodQso: number;
  seed: number;
  /**
   * Set for a unit of the tile layout: the files go to `{TILEID}/{LASTNIGHT}/coadd-{PETAL}-{TILEID}-thru{LASTNIGHT}.fits`
   * under the root (a `tiles/cumulative` folder) and their PRIMARY says SPGRP='cumulative', SPGRPVAL=LASTNIGHT,
   * TILEID and PETAL instead of HPXPIXEL; `healpix` then only places the targets on the sky.
   */
  cumulative?: { tileid: number; petal: number; lastnight: number };
  /** How *_MASK is stored: plain int32 (DR1 iron, the default) or uint32 via BZERO = 2^31 (EDR fuji). */
  mask?: 'int32' | 'uint32-bzero';
  /** Plant the QSO catalog's cases (synth/afterburners.ts) in the catalog; goodQso is then not redrock-qso's truth. */
  qsoCases?: boolean;
  /**
   * The emline afterburner (synth/emline.ts): written by default, rows shuffled; 'mismatch' writes one whose
   * TARGETID set differs from REDSHIFTS'; 'none' writes no emline file.
   */
  emline?: 'mismatch' | 'none';
}

export interface SynthOptions {
  out: string;
  tiles: SynthTileSpec[];
  /** 'full' (default) = DESI's grids; 'short' = 40/30/35 pixels for tests. */
  wavelength?: WavelengthMode;
}

export interface SynthTileReport {
  cumulative?: { tileid: number; petal: number; lastnight: number };
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
