import type { AfterburnerTable, RefineInput } from '../desi/refine.js';
import type { ColumnSet } from '../desi/column-sets.js';
import type { Selection } from '../desi/selection.js';
import type { SpectraChunks, TileTableInput, WavelengthData } from '../desi/tile-table.js';
import type { MatchResult, SelectResult } from '../desi/tile-rows.js';
import type { Card, Hdu } from '../fits/index.js';
import { Header } from '../fits/index.js';

export type { MatchResult, SelectResult };

/**
 * The messages between the main thread (I/O) and the workers (decode + encode). Everything here crosses a
 * thread boundary: big byte arrays are transferred, small catalog arrays are cloned. The worker module turns
 * these wire shapes back into the domain types of src/desi (`toTableInput`); nothing below pipeline sees them.
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

/** Evaluate the selection on a redrock REDSHIFTS table, and gather the kept rows' TSNR2 values. */
export interface SelectTask {
  file: string;
  hdu: HduWire;
  data: Uint8Array;
  selection: Selection;
  /** The column set; 'default' when not given. */
  columns?: ColumnSet;
  /** The redrock's TSNR2 HDU and its bytes, when the file has one. */
  tsnr2?: { hdu: HduWire; data: Uint8Array };
}

/** Find the selected targets in the coadd FIBERMAP. */
export interface MatchTask {
  file: string;
  hdu: HduWire;
  data: Uint8Array;
  targetids: BigInt64Array;
  columns?: ColumnSet;
  /** The FIBERMAP/afterburner part of the selection, when it has one (desi/refine.ts). */
  refine?: RefineWire;
}

/** A RefineInput with its afterburner HDUs in wire form. */
export type RefineWire = Omit<RefineInput, 'afterburners'> & { afterburners: (Omit<AfterburnerTable, 'hdu'> & { hdu: HduWire })[] };

export function fromRefineWire(w: RefineWire): RefineInput {
  return { ...w, afterburners: w.afterburners.map((a) => ({ ...a, hdu: fromWire(a.file, a.hdu) })) };
}

export type SpectraChunkSet = Omit<SpectraChunks, 'hdu'> & { hdu: HduWire };
export type WavelengthWire = Omit<WavelengthData, 'hdu'> & { hdu: HduWire };

/** Build the tile's table and encode it to Parquet: a TileTableInput with its HDUs in wire form. */
export type EncodeTask = Omit<TileTableInput, 'spectra' | 'wavelengths'> & { spectra: SpectraChunkSet[]; wavelengths: WavelengthWire[] };

export interface EncodeResult {
  parquet: Uint8Array;
  rows: number;
  rawBytes: number; // bytes of decoded values that went into the table
  /** The tile's wavelength grids: their hash, and the dataset's wavelength table file as these grids make it. */
  wavelength: { sha256: string; parquet: Uint8Array };
}

export function toEncodeTask(input: TileTableInput): EncodeTask {
  return {
    ...input,
    spectra: input.spectra.map((s) => ({ ...s, hdu: toWire(s.hdu) })),
    wavelengths: input.wavelengths.map((w) => ({ ...w, hdu: toWire(w.hdu) })),
  };
}

export function toTableInput(task: EncodeTask): TileTableInput {
  const file = task.coaddFile;
  return {
    ...task,
    spectra: task.spectra.map((s) => ({ ...s, hdu: fromWire(file, s.hdu) })),
    wavelengths: task.wavelengths.map((w) => ({ ...w, hdu: fromWire(file, w.hdu) })),
  };
}

/** Transferables inside a task, so the main thread can move (not clone) them to the worker. */
export function transferList(task: SelectTask | MatchTask | EncodeTask): ArrayBuffer[] {
  if ('spectra' in task) {
    return [...task.spectra.flatMap((s) => s.chunks.map((c) => c.bytes.buffer as ArrayBuffer)), ...task.wavelengths.map((w) => w.bytes.buffer as ArrayBuffer)];
  }
  // Each buffer once: a second entry for the same buffer (views of one fetched file) is a DataCloneError.
  const buffers = new Set<ArrayBuffer>([task.data.buffer as ArrayBuffer]);
  if ('tsnr2' in task && task.tsnr2) buffers.add(task.tsnr2.data.buffer as ArrayBuffer);
  if ('refine' in task && task.refine) for (const a of task.refine.afterburners) buffers.add(a.data.buffer as ArrayBuffer);
  return [...buffers];
}
