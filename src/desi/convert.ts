import type { Hdu } from '../fits/index.js';
import { decodeImage, findColumn, imageInfo, readColumn, tableInfo } from '../fits/index.js';
import { FitsError } from '../fits/errors.js';
import { buildTable, type ColumnSpec } from '../parquet/index.js';
import type { Table } from 'apache-arrow';
import { gatherColumns, gatherSame, type CatalogValues } from './catalog.js';
import { DesiError } from './errors.js';
import { CATALOG_COLUMNS, FOOTER_KEY, SPECTRA_KINDS, type FooterInfo } from './schema.js';
import { selectionColumns, type Selection } from './selection.js';
import { gatherRows } from './spectra.js';
import type { EncodeTask, MatchResult, SelectResult } from '../pipeline/tasks.js';
import { fromWire } from '../pipeline/tasks.js';

const REDSHIFT_DEFS = CATALOG_COLUMNS.filter((c) => c.from === 'redshifts');
const FIBERMAP_DEFS = CATALOG_COLUMNS.filter((c) => c.from === 'fibermap');

/**
 * Evaluates the selection on a REDSHIFTS table and gathers the output's REDSHIFTS columns for the kept rows
 * (in file order). Columns the selection needs must exist; a TARGETID kept twice is an error, since the output
 * must hold every target once.
 */
export function selectRows(file: string, hdu: Hdu, data: Uint8Array, sel: Selection): SelectResult {
  const info = tableInfo(file, hdu);
  for (const name of selectionColumns(sel)) {
    if (!findColumn(info, name)) throw new FitsError('MISSING_COLUMN', file, `column ${name} is missing (the selection needs it)`, hdu.name, name);
  }
  const read = (name: string) => readColumn(file, hdu, info, findColumn(info, name)!, data);
  const tid = read('TARGETID');
  if (tid.type !== 'int64' || tid.repeat !== 1) throw new DesiError('BAD_TYPE', file, `TARGETID must be one int64 (K) per row, found ${tid.type}`, hdu.name, 'TARGETID');
  const ids = tid.values as BigInt64Array;
  const spectype = sel.spectypes === 'any' ? undefined : read('SPECTYPE');
  if (spectype && (spectype.type !== 'string' || spectype.repeat !== 1 || spectype.values.length !== info.rows)) {
    throw new DesiError('BAD_TYPE', file, `SPECTYPE must be one character string (A) per row, found ${spectype.type} with ${spectype.repeat} per row`, hdu.name, 'SPECTYPE');
  }
  const zwarn = sel.zwarnZero ? read('ZWARN') : undefined;
  const dchi2 = sel.minDeltaChi2 !== undefined ? read('DELTACHI2') : undefined;
  for (const [name, c] of [['ZWARN', zwarn], ['DELTACHI2', dchi2]] as const) {
    if (c && (c.repeat !== 1 || c.type === 'string' || c.type === 'bool' || c.type === 'bits' || c.type === 'varlen' || c.type.startsWith('complex'))) {
      throw new DesiError('BAD_TYPE', file, `${name} must be one number per row, found ${c.type}`, hdu.name, name);
    }
  }
  const wanted = sel.spectypes === 'any' ? undefined : new Set(sel.spectypes);
  const kept: number[] = [];
  for (let r = 0; r < info.rows; r++) {
    if (wanted && !wanted.has((spectype!.values as string[])[r].trim().toUpperCase())) continue;
    if (zwarn) {
      const z = (zwarn.values as ArrayLike<number | bigint>)[r];
      if (!(z === 0 || z === 0n)) continue;
    }
    if (dchi2 && !(Number((dchi2.values as ArrayLike<number | bigint>)[r]) > sel.minDeltaChi2!)) continue;
    kept.push(r);
  }
  const rows = Int32Array.from(kept);
  const targetids = new BigInt64Array(rows.length);
  const seen = new Set<bigint>();
  rows.forEach((r, i) => {
    const id = ids[r];
    if (seen.has(id)) throw new DesiError('TARGET_MISMATCH', file, `TARGETID ${id} is selected twice`, hdu.name, 'TARGETID');
    seen.add(id);
    targetids[i] = id;
  });
  return { rows: info.rows, targetids, redshifts: rows.length ? gatherColumns(file, hdu, info, data, REDSHIFT_DEFS, rows) : [] };
}

/**
 * Finds each selected TARGETID in the coadd FIBERMAP (by value, never by row position) and gathers the
 * FIBERMAP output columns. Output rows follow FIBERMAP order, so the spectra reads run forward through the
 * file. A selected target absent from the coadd, or present twice, is a TARGET_MISMATCH error.
 */
export function matchTargets(file: string, hdu: Hdu, data: Uint8Array, targetids: BigInt64Array): MatchResult {
  const info = tableInfo(file, hdu);
  const col = findColumn(info, 'TARGETID');
  if (!col) throw new FitsError('MISSING_COLUMN', file, 'column TARGETID is missing', hdu.name, 'TARGETID');
  const tid = readColumn(file, hdu, info, col, data);
  if (tid.type !== 'int64' || tid.repeat !== 1) throw new DesiError('BAD_TYPE', file, `TARGETID must be one int64 (K) per row, found ${tid.type}`, hdu.name, 'TARGETID');
  const ids = tid.values as BigInt64Array;
  const wanted = new Map<bigint, number>();
  targetids.forEach((t, i) => wanted.set(t, i));
  const pairs: [number, number][] = [];
  const found = new Set<bigint>();
  for (let r = 0; r < ids.length; r++) {
    const i = wanted.get(ids[r]);
    if (i === undefined) continue;
    if (found.has(ids[r])) throw new DesiError('TARGET_MISMATCH', file, `TARGETID ${ids[r]} appears more than once in the coadd FIBERMAP`, hdu.name, 'TARGETID');
    found.add(ids[r]);
    pairs.push([r, i]);
  }
  if (found.size !== targetids.length) {
    const missing = [...targetids].filter((t) => !found.has(t));
    throw new DesiError('TARGET_MISMATCH', file, `${missing.length} selected REDSHIFTS TARGETID(s) are not in the coadd FIBERMAP (first: ${missing[0]})`, hdu.name, 'TARGETID');
  }
  const coaddRows = Int32Array.from(pairs, (p) => p[0]);
  const order = Int32Array.from(pairs, (p) => p[1]);
  return { nspec: info.rows, coaddRows, order, fibermap: gatherColumns(file, hdu, info, data, FIBERMAP_DEFS, coaddRows) };
}

/** Reorders catalog values (gathered in selection order) into output order. */
function reorder(v: CatalogValues, order: Int32Array): CatalogValues {
  if ('absent' in v) return v;
  if (v.type === 'utf8') return { ...v, values: Array.from(order, (i) => v.values[i]), valid: v.valid && Uint8Array.from(order, (i) => v.valid![i]) };
  const dst = gatherSame(v.values, order, v.width ?? 1);
  return { ...v, values: dst, valid: v.valid && Uint8Array.from(order, (i) => v.valid![i]) } as CatalogValues;
}

function toSpec(v: CatalogValues): ColumnSpec {
  if ('absent' in v) {
    const def = CATALOG_COLUMNS.find((c) => c.name === v.name);
    if (def?.list) return { name: v.name, kind: 'nullList', type: v.type === 'int64' ? 'int64' : 'float64' };
    return { name: v.name, kind: 'null', type: v.type };
  }
  if (v.type === 'utf8') return { name: v.name, kind: 'scalar', type: 'utf8', values: v.values, valid: v.valid };
  if (v.width !== undefined) return { name: v.name, kind: 'list', type: v.type === 'float64' ? 'float64' : v.type === 'int64' ? 'int64' : 'int32', values: v.values, width: v.width } as ColumnSpec;
  return { name: v.name, kind: 'scalar', type: v.type, values: v.values, valid: v.valid } as ColumnSpec;
}

/** Builds the tile's Arrow table: catalog columns in schema order, then the spectra per arm. */
export function buildTileTable(task: EncodeTask): { table: Table; rows: number; rawBytes: number } {
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
      if (def.name === 'HEALPIX') specs.push({ name: def.name, kind: 'scalar', type: 'int32', values: new Int32Array(n).fill(tile.healpix) });
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
    const values = gatherRows(task.coaddFile, fromWire(task.coaddFile, s.hdu), s.info, kind, s.chunks, match.coaddRows);
    rawBytes += values.byteLength;
    specs.push({ name: s.name, kind: 'list', type: kind.type, values, width: s.info.rowLength });
  }
  return { table: buildTable(n, specs), rows: n, rawBytes };
}

/**
 * The footer's key-value metadata: the task's FooterInfo plus each arm's wavelength grid, as one JSON
 * document under FOOTER_KEY. JSON numbers round-trip doubles exactly, so the grid is as lossless as the spectra.
 */
export function footerMetadata(task: EncodeTask): Record<string, string> {
  const wavelength: Record<string, number[]> = {};
  for (const w of task.wavelengths) {
    const hdu = fromWire(task.coaddFile, w.hdu);
    const values = decodeImage(task.coaddFile, hdu, imageInfo(task.coaddFile, hdu), w.bytes);
    if (!(values instanceof Float64Array || values instanceof Float32Array)) {
      throw new DesiError('BAD_TYPE', task.coaddFile, `expected floating-point wavelengths, found ${values.constructor.name}`, hdu.name, 'BITPIX');
    }
    wavelength[w.arm] = Array.from(values);
  }
  const info: FooterInfo = { ...task.metadata, wavelength };
  return { [FOOTER_KEY]: JSON.stringify(info) };
}
