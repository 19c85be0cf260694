/**
 * The dataset's wavelength grids as data: one Parquet file, `_wavelength/wavelength.parquet` under --out,
 * with one row per arm (ARM, WAVELENGTH, VACUUM), written once per dataset and checked by every tile that
 * writes spectra. Every spectra file's footer names the grid it is on by its hash (`wavelengthSha256`).
 *
 * Why a row per arm with a list column: B_FLUX[i] of a spectra row is at WAVELENGTH[i] of the row ARM = 'B',
 * the same shape as the spectra (one list per arm), so plotting a spectrum is one lookup of a 3-row table and
 * both lists go straight to a plot, or unnest side by side in DuckDB and explode together in Polars. (A row per
 * (arm, pixel) would make every plot a join of ~7,800 rows on a pixel index the spectra do not carry.)
 *
 * Why `_wavelength/` and not `wavelength/`: a folder whose name starts with `_` is skipped by the directory
 * readers (pyarrow.dataset and so `pandas.read_parquet(OUT)`, Spark), so reading the spectra by folder never
 * takes the grid for three more spectra rows with nulls; the tool's own `_desi-qad/` relies on the same rule.
 * Globs (DuckDB, Polars) match every folder, `_` or not, so the spectra are globbed by their depth (output-path.ts).
 *
 * The file's bytes depend on the grid only (no run, time or tile in it), so any number of runs writing it
 * write the same bytes. Its footer's `desi_qad` document holds the grid's hash, which a writer compares
 * without decoding the file.
 */
import { createHash } from 'node:crypto';
import { tableFromIPC, type Table } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';
import { decodeImage, imageInfo } from '../fits/index.js';
import { buildTable, readParquetFooter } from '../parquet/index.js';
import { DesiError } from './errors.js';
import { FOOTER_KEY } from './schema.js';
import type { WavelengthData } from './tile-table.js';

/** Where the wavelength table lives, relative to --out. */
export const WAVELENGTH_REL = '_wavelength/wavelength.parquet';

/** The folder of the wavelength table (and of its temporaries), relative to --out. */
export const WAVELENGTH_DIR = '_wavelength';

/** The unit of every wavelength (the coadd's X_WAVELENGTH BUNIT): Å, in vacuum (DESI's convention, desispec). */
export const WAVELENGTH_UNIT = 'Angstrom';

/** One arm's grid, in Å, as float64 (a float32 grid is widened, exactly). */
export interface ArmGrid {
  arm: string;
  values: Float64Array;
}

/** The wavelength table file's footer document (under FOOTER_KEY). */
export interface WavelengthFileInfo {
  wavelengthSha256: string;
  unit: string;
  vacuum: boolean;
}

/**
 * Decodes each arm's WAVELENGTH HDU; throws DesiError BAD_TYPE for a non-float image and BAD_UNIT for a BUNIT
 * other than Angstrom (an absent BUNIT is taken as Angstrom, DESI's unit).
 */
export function decodeGrids(coaddFile: string, wavelengths: readonly WavelengthData[]): ArmGrid[] {
  return wavelengths.map((w) => {
    const hdu = w.hdu;
    const unit = hdu.header.get('BUNIT');
    if (unit !== undefined && (typeof unit !== 'string' || unit.trim() !== WAVELENGTH_UNIT)) {
      throw new DesiError('BAD_UNIT', coaddFile, `wavelengths in ${JSON.stringify(unit)}, expected ${JSON.stringify(WAVELENGTH_UNIT)}`, hdu.name, 'BUNIT');
    }
    const values = decodeImage(coaddFile, hdu, imageInfo(coaddFile, hdu), w.bytes);
    if (!(values instanceof Float64Array || values instanceof Float32Array)) {
      throw new DesiError('BAD_TYPE', coaddFile, `expected floating-point wavelengths, found ${values.constructor.name}`, hdu.name, 'BITPIX');
    }
    return { arm: w.arm, values: values instanceof Float64Array ? values : Float64Array.from(values) };
  });
}

/**
 * The grid's identity: SHA-256 (hex) over, arm by arm in order, the ASCII text `{ARM}:{n}\n` and the n
 * values as float64 little-endian. In Python: `h.update(f"{arm}:{len(w)}\n".encode()); h.update(w.astype("<f8").tobytes())`.
 */
export function gridSha256(grids: readonly ArmGrid[]): string {
  const h = createHash('sha256');
  for (const g of grids) {
    h.update(`${g.arm}:${g.values.length}\n`, 'ascii');
    const le = new Uint8Array(g.values.length * 8);
    const view = new DataView(le.buffer);
    for (let i = 0; i < g.values.length; i++) view.setFloat64(i * 8, g.values[i], true);
    h.update(le);
  }
  return h.digest('hex');
}

/** The wavelength table: one row per arm, ARM (string), WAVELENGTH (list<float64>, unit Angstrom), VACUUM (bool). */
export function wavelengthTable(grids: readonly ArmGrid[]): Table {
  const offsets = new Int32Array(grids.length + 1);
  grids.forEach((g, i) => (offsets[i + 1] = offsets[i] + g.values.length));
  const values = new Float64Array(offsets[grids.length]);
  grids.forEach((g, i) => values.set(g.values, offsets[i]));
  return buildTable(grids.length, [
    { name: 'ARM', kind: 'scalar', type: 'utf8', values: grids.map((g) => g.arm) },
    { name: 'WAVELENGTH', kind: 'list', type: 'float64', values, width: 0, offsets, metadata: { unit: WAVELENGTH_UNIT } },
    { name: 'VACUUM', kind: 'scalar', type: 'bool', values: new Uint8Array(grids.length).fill(1) },
  ]);
}

/** The wavelength table file's footer key-value metadata: one key, as in the spectra files. */
export function wavelengthFileMetadata(sha256: string): Record<string, string> {
  const info: WavelengthFileInfo = { wavelengthSha256: sha256, unit: WAVELENGTH_UNIT, vacuum: true };
  return { [FOOTER_KEY]: JSON.stringify(info) };
}

/** The grid hash a wavelength table file's footer names; throws an Error naming `where` when it has none. */
export function wavelengthFileSha256(bytes: Uint8Array, where: string): string {
  let doc: string | null | undefined;
  try {
    doc = readParquetFooter(bytes).keyValue.get(FOOTER_KEY);
  } catch (err) {
    throw new Error(`${where}: not a readable Parquet file: ${(err as Error).message}`, { cause: err });
  }
  let sha: unknown;
  try {
    sha = (JSON.parse(doc ?? 'null') as Partial<WavelengthFileInfo> | null)?.wavelengthSha256;
  } catch {
    sha = undefined;
  }
  if (typeof sha !== 'string' || !/^[0-9a-f]{64}$/.test(sha)) throw new Error(`${where}: its footer has no ${FOOTER_KEY} document with a wavelengthSha256`);
  return sha;
}

/**
 * The grids a wavelength table file holds (decoded with parquet-wasm) and the hash its footer names;
 * throws an Error naming `where` when it is not such a file (columns, types, a null or duplicate arm).
 */
export function readWavelengthFile(bytes: Uint8Array, where: string): { grids: ArmGrid[]; footerSha256: string; unit?: string } {
  const footerSha256 = wavelengthFileSha256(bytes, where);
  let table: Table;
  try {
    const wasm = readParquet(bytes);
    table = tableFromIPC(wasm.intoIPCStream());
  } catch (err) {
    throw new Error(`${where}: the wavelength table does not decode: ${(err as Error).message}`, { cause: err });
  }
  const arm = table.getChild('ARM');
  const wave = table.getChild('WAVELENGTH');
  if (!arm || !wave) throw new Error(`${where}: the wavelength table has no ARM and WAVELENGTH columns`);
  const grids: ArmGrid[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const a = arm.get(i) as unknown;
    const w = wave.get(i) as { toArray(): unknown } | null;
    const values = w?.toArray();
    if (typeof a !== 'string' || !(values instanceof Float64Array))
      throw new Error(`${where}: row ${i} of the wavelength table is not an arm name and a float64 list`);
    if (grids.some((g) => g.arm === a)) throw new Error(`${where}: arm ${a} appears twice in the wavelength table`);
    grids.push({ arm: a, values: Float64Array.from(values) });
  }
  const unit = table.schema.fields.find((f) => f.name === 'WAVELENGTH')?.metadata.get('unit');
  return { grids, footerSha256, ...(unit !== undefined && { unit }) };
}
