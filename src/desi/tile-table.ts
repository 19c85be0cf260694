import type { Table } from 'apache-arrow';
import type { Hdu, ImageInfo } from '../fits/index.js';
import { decodeImage, imageInfo } from '../fits/index.js';
import { buildTable, type ColumnSpec } from '../parquet/index.js';
import { gatherSame, type CatalogValues } from './catalog.js';
import { DesiError } from './errors.js';
import { CATALOG_COLUMNS, FOOTER_KEY, SPECTRA_KINDS, type FooterInfo } from './schema.js';
import { gatherRows, type RowChunk } from './spectra.js';
import type { MatchResult } from './tile-rows.js';

/** The fetched rows of one spectra image (B_FLUX ...), in read order. */
export interface SpectraChunks {
  name: string; // EXTNAME, also the output column name (B_FLUX ...)
  kind: 'FLUX' | 'IVAR' | 'MASK';
  hdu: Hdu;
  info: ImageInfo;
  chunks: RowChunk[];
}

/** One arm's WAVELENGTH HDU and its data bytes. */
export interface WavelengthData {
  arm: string;
  hdu: Hdu;
  bytes: Uint8Array;
}

/** Everything a tile's table is built from: the selected catalog values, the match, and the fetched spectra rows. */
export interface TileTableInput {
  coaddFile: string;
  /** The tile's identity; `cumulative` for a unit of the tile layout (its HEALPIX is null: a petal spans many pixels). */
  tile: { survey: string; program: string; healpix: number; cumulative?: { tileid: number; petal: number; lastnight: number } };
  redshifts: CatalogValues[];
  match: Omit<MatchResult, 'nspec'>;
  spectra: SpectraChunks[];
  wavelengths: WavelengthData[];
  metadata: FooterInfo;
}

/** Reorders catalog values (gathered in selection order) into output order. */
function reorder(v: CatalogValues, order: Int32Array): CatalogValues {
  if ('absent' in v) return v;
  if (v.type === 'utf8') return { ...v, values: Array.from(order, (i) => v.values[i]), valid: v.valid && Uint8Array.from(order, (i) => v.valid![i]) };
  const dst = gatherSame(v.values, order, v.width ?? 1);
  return { ...v, values: dst, valid: v.valid && Uint8Array.from(order, (i) => v.valid![i]) };
}

function toSpec(v: CatalogValues): ColumnSpec {
  if ('absent' in v) {
    const def = CATALOG_COLUMNS.find((c) => c.name === v.name);
    if (def?.list) return { name: v.name, kind: 'nullList', type: v.type === 'int64' ? 'int64' : 'float64' };
    return { name: v.name, kind: 'null', type: v.type };
  }
  if (v.type === 'utf8') return { name: v.name, kind: 'scalar', type: 'utf8', values: v.values, valid: v.valid };
  if (v.width !== undefined)
    return { name: v.name, kind: 'list', type: v.type === 'float64' ? 'float64' : v.type === 'int64' ? 'int64' : 'int32', values: v.values, width: v.width };
  return { name: v.name, kind: 'scalar', type: v.type, values: v.values, valid: v.valid };
}

/**
 * The 'tile' columns that depend on the layout: HEALPIX is null in the tile layout (a petal spans many
 * pixels); TILEID, PETAL and LASTNIGHT are the unit's there, and null in the healpix layout (a pixel gathers
 * many tiles). Undefined for SURVEY and PROGRAM, and for HEALPIX of the healpix layout.
 */
function tileLayoutColumn(name: string, tile: TileTableInput['tile'], n: number): ColumnSpec | undefined {
  const c = tile.cumulative;
  if (name === 'HEALPIX') return c ? { name, kind: 'null', type: 'int32' } : undefined;
  if (name === 'TILEID') return c ? { name, kind: 'scalar', type: 'int32', values: new Int32Array(n).fill(c.tileid) } : { name, kind: 'null', type: 'int32' };
  if (name === 'PETAL') return c ? { name, kind: 'scalar', type: 'int16', values: new Int16Array(n).fill(c.petal) } : { name, kind: 'null', type: 'int16' };
  if (name === 'LASTNIGHT')
    return c ? { name, kind: 'scalar', type: 'int32', values: new Int32Array(n).fill(c.lastnight) } : { name, kind: 'null', type: 'int32' };
  return undefined;
}

/** Builds the tile's Arrow table: catalog columns in schema order, then the spectra per arm. */
export function buildTileTable(task: TileTableInput): { table: Table; rows: number; rawBytes: number } {
  const { match, tile } = task;
  const n = match.coaddRows.length;
  const byName = new Map<string, CatalogValues>();
  for (const v of task.redshifts) byName.set(v.name, reorder(v, match.order));
  for (const v of match.fibermap) byName.set(v.name, v);
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  const specs: ColumnSpec[] = [];
  let rawBytes = 0;
  for (const def of CATALOG_COLUMNS) {
    if (def.from === 'tile') {
      const layoutSpec = tileLayoutColumn(def.name, tile, n);
      if (layoutSpec) specs.push(layoutSpec);
      else if (def.name === 'HEALPIX') specs.push({ name: def.name, kind: 'scalar', type: 'int32', values: new Int32Array(n).fill(tile.healpix) });
      else specs.push({ name: def.name, kind: 'scalar', type: 'utf8', values: Array.from(idx, () => (def.name === 'SURVEY' ? tile.survey : tile.program)) });
      continue;
    }
    const v = byName.get(def.name);
    if (!v) throw new Error(`internal: column ${def.name} was not gathered`);
    if (!('absent' in v) && v.type !== 'utf8') rawBytes += v.values.byteLength;
    specs.push(toSpec(v));
  }
  for (const s of task.spectra) {
    const kind = SPECTRA_KINDS.find((k) => k.suffix === s.kind)!;
    const values = gatherRows(task.coaddFile, s.hdu, s.info, kind, s.chunks, match.coaddRows);
    rawBytes += values.byteLength;
    specs.push({ name: s.name, kind: 'list', type: kind.type, values, width: s.info.rowLength });
  }
  return { table: buildTable(n, specs), rows: n, rawBytes };
}

/**
 * The footer's key-value metadata: the task's FooterInfo plus each arm's wavelength grid, as one JSON
 * document under FOOTER_KEY. JSON numbers round-trip doubles exactly, so the grid is as lossless as the spectra.
 */
export function footerMetadata(task: TileTableInput): Record<string, string> {
  const wavelength: Record<string, number[]> = {};
  for (const w of task.wavelengths) {
    const hdu = w.hdu;
    const values = decodeImage(task.coaddFile, hdu, imageInfo(task.coaddFile, hdu), w.bytes);
    if (!(values instanceof Float64Array || values instanceof Float32Array)) {
      throw new DesiError('BAD_TYPE', task.coaddFile, `expected floating-point wavelengths, found ${values.constructor.name}`, hdu.name, 'BITPIX');
    }
    wavelength[w.arm] = Array.from(values);
  }
  const info: FooterInfo = { ...task.metadata, wavelength };
  return { [FOOTER_KEY]: JSON.stringify(info) };
}
