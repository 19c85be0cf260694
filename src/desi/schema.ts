/**
 * The output schema: DESI's column names, identity and catalog columns first, then one spectra column per
 * coadd image HDU. Every file of a dataset has the same columns and types, whatever the producing redrock
 * or desispec version wrote: a column absent from a file is null, and a narrower integer or float type in
 * a file (later redrock versions write some 32-bit columns) is widened losslessly to the type below.
 */
import { ALL_EXTRA_COLUMNS, DEFAULT_EXTRA_COLUMNS, type ColumnSet } from './column-sets.js';

export type CatalogType = 'int16' | 'int32' | 'int64' | 'float32' | 'float64' | 'utf8';

export interface CatalogColumnDef {
  name: string;
  /** Where the value comes from: the redrock REDSHIFTS or TSNR2 table, the coadd FIBERMAP, or the tile itself. */
  from: 'redshifts' | 'fibermap' | 'tsnr2' | 'tile';
  type: CatalogType;
  /** For a fixed-length vector column (COEFF): a list of this many values. */
  list?: boolean;
}

export const CATALOG_COLUMNS: readonly CatalogColumnDef[] = [
  { name: 'TARGETID', from: 'redshifts', type: 'int64' },
  { name: 'SURVEY', from: 'tile', type: 'utf8' },
  { name: 'PROGRAM', from: 'tile', type: 'utf8' },
  { name: 'HEALPIX', from: 'tile', type: 'int32' },
  { name: 'TILEID', from: 'tile', type: 'int32' },
  { name: 'PETAL', from: 'tile', type: 'int16' },
  { name: 'LASTNIGHT', from: 'tile', type: 'int32' },
  { name: 'TARGET_RA', from: 'fibermap', type: 'float64' },
  { name: 'TARGET_DEC', from: 'fibermap', type: 'float64' },
  { name: 'Z', from: 'redshifts', type: 'float64' },
  { name: 'ZERR', from: 'redshifts', type: 'float64' },
  { name: 'ZWARN', from: 'redshifts', type: 'int64' },
  { name: 'CHI2', from: 'redshifts', type: 'float64' },
  { name: 'COEFF', from: 'redshifts', type: 'float64', list: true },
  { name: 'NPIXELS', from: 'redshifts', type: 'int64' },
  { name: 'SPECTYPE', from: 'redshifts', type: 'utf8' },
  { name: 'SUBTYPE', from: 'redshifts', type: 'utf8' },
  { name: 'NCOEFF', from: 'redshifts', type: 'int64' },
  { name: 'DELTACHI2', from: 'redshifts', type: 'float64' },
  { name: 'DESI_TARGET', from: 'fibermap', type: 'int64' },
  { name: 'BGS_TARGET', from: 'fibermap', type: 'int64' },
  { name: 'MWS_TARGET', from: 'fibermap', type: 'int64' },
  { name: 'SCND_TARGET', from: 'fibermap', type: 'int64' },
  { name: 'COADD_FIBERSTATUS', from: 'fibermap', type: 'int32' },
  { name: 'COADD_NUMEXP', from: 'fibermap', type: 'int16' },
  { name: 'COADD_EXPTIME', from: 'fibermap', type: 'float32' },
  { name: 'EBV', from: 'fibermap', type: 'float32' },
  { name: 'FLUX_G', from: 'fibermap', type: 'float32' },
  { name: 'FLUX_R', from: 'fibermap', type: 'float32' },
  { name: 'FLUX_Z', from: 'fibermap', type: 'float32' },
  { name: 'FLUX_W1', from: 'fibermap', type: 'float32' },
  { name: 'FLUX_W2', from: 'fibermap', type: 'float32' },
];

/**
 * The catalog columns of a column set, in output order: CATALOG_COLUMNS, then the default set's additions,
 * then (for `all`) the rest of DR1's FIBERMAP. Fixed lists: one dataset, one schema.
 */
export function catalogColumns(set: ColumnSet): readonly CatalogColumnDef[] {
  return set === 'all' ? ALL_COLUMNS : DEFAULT_COLUMNS;
}

const DEFAULT_COLUMNS: readonly CatalogColumnDef[] = [...CATALOG_COLUMNS, ...DEFAULT_EXTRA_COLUMNS];
const ALL_COLUMNS: readonly CatalogColumnDef[] = [...DEFAULT_COLUMNS, ...ALL_EXTRA_COLUMNS];

/** The spectra HDUs of one arm, in output order, and their element types. */
export const SPECTRA_KINDS = [
  { suffix: 'FLUX', type: 'float32' },
  { suffix: 'IVAR', type: 'float32' },
  { suffix: 'MASK', type: 'uint32' },
] as const;

export type SpectraKind = (typeof SPECTRA_KINDS)[number];

/**
 * The footer's key-value metadata: one key, `desi_qad`, holding one JSON document. One key rather than
 * several because parquet-wasm passes key-value pairs through a hash map whose order changes from process to
 * process; with a single key the file's bytes are the same on every run (and `--fetch full` and
 * `--fetch ranges` write identical files).
 */
export const FOOTER_KEY = 'desi_qad';

export interface FooterInfo {
  version: string; // "desi-qad 0.1.0"
  selection: string; // canonical text of the selection
  columns?: ColumnSet; // the column set (absent in files written before column sets: 'default' of that time)
  /** --with: the afterburners whose columns the file adds (absent when none). */
  with?: string[];
  tile: string; // "main/dark/23040"
  sources: { role: 'coadd' | 'redrock' | 'qso_qn' | 'qso_mgii' | 'emline'; name: string; size: number; mtime?: string; etag?: string }[];
  provenance: { coadd: Record<string, string>; redrock: Record<string, string> };
  /**
   * The hash of the tile's wavelength grids (desi/wavelength.ts gridSha256): the grids themselves are the rows
   * of the dataset's `_wavelength/wavelength.parquet`, whose footer names the same hash. (Files written before
   * it held each arm's grid here instead, as `wavelength`.)
   */
  wavelengthSha256?: string;
  /** Each spectra column's unit (the coadd image's BUNIT), by column name; also in the column's Arrow field metadata as `unit`. */
  units?: Record<string, string>;
}
