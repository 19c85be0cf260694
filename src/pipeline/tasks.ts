import type { CatalogValues } from '../desi/catalog.js';
import type { Selection } from '../desi/selection.js';
import type { FooterInfo } from '../desi/schema.js';
import type { Card, Hdu, ImageInfo } from '../fits/index.js';
import { Header } from '../fits/index.js';

/**
 * The messages between the main thread (I/O) and the workers (decode + encode). Everything here crosses a
 * thread boundary: big byte arrays are transferred, small catalog arrays are cloned.
 */

/** An Hdu without its Header class instance (which does not survive structured clone). */
export interface HduWire extends Omit<Hdu, 'header'> {
  cards: Card[];
}

export function toWire(h: Hdu): HduWire {
  const { header, ...rest } = h;
  return { ...rest, cards: header.cards };
}

export function fromWire(file: string, w: HduWire): Hdu {
  const { cards, ...rest } = w;
  return { ...rest, header: new Header(cards, file, w.name || w.index) };
}

/** Evaluate the selection on a redrock REDSHIFTS table. */
export interface SelectTask {
  file: string;
  hdu: HduWire;
  data: Uint8Array;
  selection: Selection;
}

export interface SelectResult {
  rows: number; // REDSHIFTS rows in the file
  targetids: BigInt64Array; // selected, in REDSHIFTS order
  redshifts: CatalogValues[]; // output columns from REDSHIFTS, selected rows in REDSHIFTS order
}

/** Find the selected targets in the coadd FIBERMAP. */
export interface MatchTask {
  file: string;
  hdu: HduWire;
  data: Uint8Array;
  targetids: BigInt64Array;
}

export interface MatchResult {
  nspec: number; // FIBERMAP rows = spectra per image
  coaddRows: Int32Array; // FIBERMAP rows of the output rows, ascending (the output order)
  order: Int32Array; // for output row i, the index into the selected targetids
  fibermap: CatalogValues[]; // output columns from FIBERMAP, output order
}

export interface SpectraChunkSet {
  name: string; // EXTNAME, also the output column name (B_FLUX ...)
  kind: 'FLUX' | 'IVAR' | 'MASK';
  hdu: HduWire;
  info: ImageInfo;
  chunks: { firstRow: number; endRow: number; bytes: Uint8Array }[];
}

/** Build the tile's table and encode it to Parquet. */
export interface EncodeTask {
  coaddFile: string;
  tile: { survey: string; program: string; healpix: number };
  redshifts: CatalogValues[];
  match: Omit<MatchResult, 'nspec'>;
  spectra: SpectraChunkSet[];
  /** Each arm's WAVELENGTH HDU data, decoded in the worker into the footer metadata. */
  wavelengths: { arm: string; hdu: HduWire; bytes: Uint8Array }[];
  metadata: FooterInfo;
}

export interface EncodeResult {
  parquet: Uint8Array;
  rows: number;
  rawBytes: number; // bytes of decoded values that went into the table
}

/** Transferables inside a task, so the main thread can move (not clone) them to the worker. */
export function transferList(task: SelectTask | MatchTask | EncodeTask): ArrayBuffer[] {
  if ('spectra' in task) {
    return [...task.spectra.flatMap((s) => s.chunks.map((c) => c.bytes.buffer as ArrayBuffer)), ...task.wavelengths.map((w) => w.bytes.buffer as ArrayBuffer)];
  }
  return [task.data.buffer as ArrayBuffer];
}
