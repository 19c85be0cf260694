/**
 * The dataset's output paths read back: which tile a relative path under --out belongs to. Stores use it to
 * tell the tool's own dataset files (and uploads) from anything else that lives under the same prefix.
 */
import { parseCumulativeOutputPath } from './cumulative.js';
import { isHealpix, outputPath, type TileId } from './layout.js';

/**
 * The tile of `{survey}/{program}/{pixgroup}/{survey}-{program}-{healpix}.parquet` (the inverse of
 * layout.ts's outputPath, pixgroup = floor(healpix / 100) checked); undefined for any other path: another
 * file name, a pixgroup that does not hold the pixel, a healpix with leading zeros or past nside 64's last.
 */
export function parseOutputPath(rel: string): TileId | undefined {
  // The tile layout's `cumulative/{TILEID}/cumulative-{TILEID}-{PETAL}.parquet`: the path does not say
  // LASTNIGHT (0 here); tileKey and outputPath of the result are the unit's.
  const unit = parseCumulativeOutputPath(rel);
  if (unit) return { survey: '', program: '', healpix: -1, cumulative: { ...unit, lastnight: 0 } };
  const segs = rel.split('/');
  if (segs.length !== 4) return undefined;
  const [survey, program, , file] = segs;
  if (survey === '' || program === '') return undefined;
  const stem = `${survey}-${program}-`;
  if (!file.startsWith(stem) || !file.endsWith('.parquet')) return undefined;
  const digits = file.slice(stem.length, -'.parquet'.length);
  if (!/^(?:0|[1-9]\d*)$/.test(digits)) return undefined;
  const healpix = Number(digits);
  if (!isHealpix(healpix)) return undefined;
  const tile = { survey, program, healpix };
  // The pixgroup folder, and every other part, must be exactly what outputPath writes.
  return outputPath(tile) === rel ? tile : undefined;
}

/**
 * The dataset-level tables beside the per-survey folders: `_catalog/` holds the table of every spectrum with
 * its primary flags (src/catalog/), `_wavelength/` the wavelength grids (desi/wavelength.ts). The leading `_`
 * makes pyarrow (so `pandas.read_parquet(OUT)`) and Spark skip them when they read the folder as one dataset
 * of spectra; no DESI survey's name starts with one, so they never meet a tile's folder; and their files lie
 * one folder deep where the tiles' lie three ({survey}/{program}/{pixgroup}/): a glob of that depth (DuckDB,
 * Polars) reads the spectra only.
 */
export const CATALOG_DIR = '_catalog';

/** The folder of the dataset's wavelength table (desi/wavelength.ts WAVELENGTH_REL lies in it). */
export const WAVELENGTH_DIR = '_wavelength';

/** The primary-spectra table, relative to --out. */
export const CATALOG_PATH = `${CATALOG_DIR}/zcatalog.parquet`;

/** Whether a path relative to --out lies in a dataset-level folder (not a tile's file, never stray). */
export function isDatasetTablePath(rel: string): boolean {
  return rel.startsWith(`${CATALOG_DIR}/`) || rel.startsWith(`${WAVELENGTH_DIR}/`);
}
