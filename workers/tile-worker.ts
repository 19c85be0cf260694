/**
 * The worker side of a tile's conversion (run in a piscina pool; no I/O here). Three tasks, in the order the
 * main thread calls them: `select` evaluates the selection on REDSHIFTS (a tile with no selected row stops
 * there and its coadd is never touched), `match` finds the selected targets in the coadd FIBERMAP by
 * TARGETID, `encode` decodes the fetched spectra rows and writes the tile's Parquet file. This module turns
 * the wire shapes of src/pipeline/tasks.ts into src/desi's domain types.
 */
import { Piscina } from 'piscina';
import { matchTargets, selectRows, type MatchResult, type SelectResult } from '../src/desi/tile-rows.js';
import { buildTileTable, footerMetadata } from '../src/desi/tile-table.js';
import { fromRefineWire, fromWire, toTableInput, type EncodeResult, type EncodeTask, type MatchTask, type SelectTask } from '../src/pipeline/tasks.js';
import { guard } from '../src/pipeline/errors.js';
import { encodeParquet, encodeParquetStream } from '../src/parquet/index.js';
import { decodeGrids, gridSha256, wavelengthFileMetadata, wavelengthTable } from '../src/desi/wavelength.js';

export const select = guard((task: SelectTask): SelectResult => {
  const tsnr2 = task.tsnr2 && { hdu: fromWire(task.file, task.tsnr2.hdu), data: task.tsnr2.data };
  return selectRows(task.file, fromWire(task.file, task.hdu), task.data, task.selection, task.columns, tsnr2);
});

export const match = guard((task: MatchTask): MatchResult => {
  return matchTargets(task.file, fromWire(task.file, task.hdu), task.data, task.targetids, task.columns, task.refine && fromRefineWire(task.refine));
});

export const encode = guard(async (task: EncodeTask): Promise<unknown> => {
  const input = toTableInput(task);
  const grids = decodeGrids(input.coaddFile, input.wavelengths);
  const { table, rows, rawBytes } = buildTileTable(input);
  // The streaming encoder bounds the WASM heap (it never shrinks) whatever the tile's size.
  const parquet = await encodeParquetStream(table, footerMetadata(input, grids));
  // The wavelength table as this tile's grids make it (3 rows, ~64 KB raw: a few ms); the main thread writes
  // it if the dataset has none yet, and otherwise only compares the hash.
  const sha256 = gridSha256(grids);
  const wavelength = { sha256, parquet: encodeParquet(wavelengthTable(grids), wavelengthFileMetadata(sha256)) };
  const result: EncodeResult = { parquet, rows, rawBytes, wavelength };
  // Hand the Parquet bytes back by transfer, not by clone: an object carrying piscina's two symbols, marked
  // movable by Piscina.move, is posted as its value with its list of buffers transferred.
  const wrapper = { [Piscina.transferableSymbol]: [parquet.buffer, wavelength.parquet.buffer], [Piscina.valueSymbol]: result };
  return Piscina.move(wrapper as unknown as Parameters<typeof Piscina.move>[0]);
});

export default encode;
