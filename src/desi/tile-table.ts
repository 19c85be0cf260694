import type { Table } from 'apache-arrow';
import type { Hdu, ImageInfo } from '../fits/index.js';
import { buildTable, type ColumnSpec } from '../parquet/index.js';
import { gatherSame, type CatalogValues } from './catalog.js';
import { catalogColumns, FOOTER_KEY, spectraKindOf, type CatalogColumnDef, type FooterInfo, type SpectraKind } from './schema.js';
import { gatherRows, type RowChunk } from './spectra.js';
import type { MatchResult } from './tile-rows.js';
import { gridSha256, type ArmGrid } from './wavelength.js';

/** The fetched rows of one spectra image (B_FLUX ...), in read order. */
export interface SpectraChunks {
  name: string; // EXTNAME, also the output column name (B_FLUX ...)
  kind: SpectraKind['suffix'];
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

function toSpec(v: CatalogValues, defs: readonly CatalogColumnDef[]): ColumnSpec {
  if ('absent' in v) {
    const def = defs.find((c) => c.name === v.name);
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
  // A refined selection's columns: Z and ZERR replace the catalog's, the others follow the catalog columns.
  const extra = new Map((match.extra ?? []).map((s) => [s.name, s]));
  const defs = catalogColumns(task.metadata.columns ?? 'default');
  for (const def of defs) {
    const replaced = extra.get(def.name);
    if (replaced) {
      specs.push(replaced);
      extra.delete(def.name);
      continue;
    }
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
    specs.push(toSpec(v, defs));
  }
  for (const s of extra.values()) specs.push(s);
  for (const s of task.spectra) {
    const kind = spectraKindOf(s.kind)!;
    const values = gatherRows(task.coaddFile, s.hdu, s.info, kind, s.chunks, match.coaddRows);
    rawBytes += values.byteLength;
    const unit = imageUnit(s.hdu);
    specs.push({ name: s.name, kind: 'list', type: kind.type, values, width: s.info.rowLength, ...(unit !== undefined && { metadata: { unit } }) });
  }
  return { table: buildTable(n, specs), rows: n, rawBytes };
}

/** The unit of a spectra image (its BUNIT, blanks trimmed), or undefined when it has none (masks). */
export function imageUnit(hdu: Hdu): string | undefined {
  const v = hdu.header.get('BUNIT');
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

/**
 * The footer's key-value metadata: the task's FooterInfo plus the hash of the tile's wavelength grid (the grid
 * itself is in the dataset's wavelength table) and each spectra column's unit, as one JSON document under
 * FOOTER_KEY. `grids` are the tile's decoded grids (wavelength.ts decodeGrids).
 */
export function footerMetadata(task: TileTableInput, grids: readonly ArmGrid[]): Record<string, string> {
  const units: Record<string, string> = {};
  for (const s of task.spectra) {
    const unit = imageUnit(s.hdu);
    if (unit !== undefined) units[s.name] = unit;
  }
  const info: FooterInfo = { ...task.metadata, wavelengthSha256: gridSha256(grids), units };
  return { [FOOTER_KEY]: JSON.stringify(info) };
}
