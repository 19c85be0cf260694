/**
 * Writing a synthetic tile's two files from its layout: the coadd (catalog tables and spectra) and the
 * redrock file (REDSHIFTS and the catalog tables). Each file is written to a temporary name and renamed
 * when complete, so an interrupted run never leaves a file that looks whole.
 */
import { rename, rm } from 'node:fs/promises';
import type { ColumnValues } from '../fits/encode.js';
import { FitsWriter } from '../fits/writer.js';
import type { TileCatalog } from './catalog.js';
import { armGrids, wavelengths, type ArmName, type WavelengthMode } from './grids.js';
import { coaddLayout, redrockLayout, type HduLayout } from './layout.js';
import { resolutionBlockTargets, resolutionPattern, spectrumRows } from './spectra.js';
import type { SynthTileSpec } from './types.js';

/** Rows per writeRows call for catalog tables. */
const TABLE_CHUNK_ROWS = 4096;
/** Targets per generated chunk of FLUX/IVAR/MASK (about 11 MB of floats per kind with full grids). */
const SPECTRA_CHUNK_TARGETS = 1024;

function sliceColumns(columns: Record<string, ColumnValues>, repeatOf: Map<string, number>, from: number, to: number): Record<string, ColumnValues> {
  const out: Record<string, ColumnValues> = {};
  for (const [name, data] of Object.entries(columns)) {
    const r = repeatOf.get(name) ?? 1;
    out[name] = Array.isArray(data) ? ((data as unknown[]).slice(from * r, to * r) as ColumnValues) : data.subarray(from * r, to * r);
  }
  return out;
}

async function writeTable(w: FitsWriter, hdu: Extract<HduLayout, { kind: 'table' }>, columns: Record<string, ColumnValues>): Promise<void> {
  await w.beginBinTable(hdu.spec);
  const repeatOf = new Map(hdu.spec.columns.map((c) => [c.name, c.tform === 'A' ? 1 : (c.repeat ?? 1)]));
  for (let from = 0; from < hdu.spec.nrows; from += TABLE_CHUNK_ROWS) {
    await w.writeRows(sliceColumns(columns, repeatOf, from, Math.min(hdu.spec.nrows, from + TABLE_CHUNK_ROWS)));
  }
  await w.endHdu();
}

/** Writes `hdus` to `path` (through `path`.tmp), asking `writeData` for each extension's content. */
async function writeFile(
  path: string,
  hdus: HduLayout[],
  writeData: (w: FitsWriter, hdu: Exclude<HduLayout, { kind: 'primary' }>) => Promise<void>,
): Promise<number> {
  const tmp = `${path}.tmp`;
  const w = await FitsWriter.create(tmp);
  try {
    for (const hdu of hdus) {
      if (hdu.kind === 'primary') await w.writePrimary(hdu.cards);
      else await writeData(w, hdu);
    }
    const bytes = w.bytesWritten;
    await w.close();
    await rename(tmp, path);
    return bytes;
  } catch (err) {
    await w.abort();
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Writes the coadd of a tile; returns its size in bytes. */
export async function writeCoadd(path: string, spec: SynthTileSpec, mode: WavelengthMode, catalog: TileCatalog, seed: number): Promise<number> {
  const grids = new Map(armGrids(mode).map((g) => [g.arm, g]));
  const waves = new Map(armGrids(mode).map((g) => [g.arm, wavelengths(g)]));
  const tables: Record<string, Record<string, ColumnValues>> = {
    FIBERMAP: catalog.fibermap,
    EXP_FIBERMAP: catalog.expFibermap,
    SCORES: catalog.scores,
  };
  return writeFile(path, coaddLayout(spec, mode), async (w, hdu) => {
    if (hdu.kind === 'table') return writeTable(w, hdu, tables[hdu.spec.extname]);
    const name = hdu.spec.extname as string;
    const [arm, what] = name.split('_') as [ArmName, string];
    const grid = grids.get(arm);
    const wave = waves.get(arm);
    if (grid === undefined || wave === undefined) throw new Error(`synth: coadd HDU ${name} names an unknown arm`);
    await w.beginImage(hdu.spec);
    if (what === 'WAVELENGTH') {
      await w.writePixels(wave);
    } else if (what === 'RESOLUTION') {
      const blockTargets = resolutionBlockTargets(grid);
      const block = resolutionPattern(grid, Math.min(blockTargets, spec.targets));
      const perTarget = block.length / Math.min(blockTargets, spec.targets);
      for (let t = 0; t < spec.targets; t += blockTargets) {
        const count = Math.min(blockTargets, spec.targets - t);
        await w.writeBytes(count === blockTargets ? block : block.subarray(0, count * perTarget));
      }
    } else {
      for (let first = 0; first < spec.targets; first += SPECTRA_CHUNK_TARGETS) {
        const count = Math.min(SPECTRA_CHUNK_TARGETS, spec.targets - first);
        if (what === 'FLUX' || what === 'IVAR') {
          await w.writePixels(spectrumRows(catalog, seed, grid, wave, first, count, what));
        } else {
          const mask = spectrumRows(catalog, seed, grid, wave, first, count, 'MASK');
          await w.writePixels(hdu.spec.unsigned ? mask : new Int32Array(mask.buffer, mask.byteOffset, mask.length));
        }
      }
    }
    await w.endHdu();
  });
}

/** Writes the redrock file of a tile; returns its size in bytes. */
export async function writeRedrock(path: string, spec: SynthTileSpec, catalog: TileCatalog): Promise<number> {
  const tables: Record<string, Record<string, ColumnValues>> = {
    REDSHIFTS: catalog.redshifts,
    FIBERMAP: catalog.fibermap,
    EXP_FIBERMAP: catalog.expFibermap,
    TSNR2: catalog.tsnr2,
  };
  return writeFile(path, redrockLayout(spec), async (w, hdu) => {
    if (hdu.kind !== 'table') throw new Error(`synth: unexpected image HDU in a redrock layout`);
    await writeTable(w, hdu, tables[hdu.spec.extname]);
  });
}

/** Writes a file of one binary table (after an empty primary HDU); returns its size in bytes. */
export async function writeTableFile(
  path: string,
  spec: Extract<HduLayout, { kind: 'table' }>['spec'],
  columns: Record<string, ColumnValues>,
): Promise<number> {
  return writeFile(
    path,
    [
      { kind: 'primary', cards: [] },
      { kind: 'table', spec },
    ],
    async (w, hdu) => {
      if (hdu.kind !== 'table') throw new Error('synth: unexpected image HDU in a table file');
      await writeTable(w, hdu, columns);
    },
  );
}
