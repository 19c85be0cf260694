import type { Hdu } from '../fits/index.js';
import { findColumn, readColumn, tableInfo } from '../fits/index.js';
import { FitsError } from '../fits/errors.js';
import { gatherColumns, type CatalogValues } from './catalog.js';
import { DesiError } from './errors.js';
import type { ColumnSpec } from '../parquet/index.js';
import type { ColumnSet } from './column-sets.js';
import { refineRows, type RefineInput } from './refine.js';
import { catalogColumns, type CatalogColumnDef } from './schema.js';
import { selectionColumns, type Selection } from './selection.js';

/**
 * The two row-finding steps of a tile's conversion: which REDSHIFTS rows the selection keeps, and where each
 * kept target is in the coadd's FIBERMAP. Both take the HDU's bytes already read; no I/O here.
 */

export interface SelectResult {
  rows: number; // REDSHIFTS rows in the file
  targetids: BigInt64Array; // selected, in REDSHIFTS order
  allTargetids: BigInt64Array; // every REDSHIFTS row's, in REDSHIFTS order (afterburners must hold exactly these)
  redshifts: CatalogValues[]; // output columns from REDSHIFTS, selected rows in REDSHIFTS order
}

export interface MatchResult {
  nspec: number; // FIBERMAP rows = spectra per image
  coaddRows: Int32Array; // FIBERMAP rows of the output rows, ascending (the output order)
  order: Int32Array; // for output row i, the index into the selected targetids
  fibermap: CatalogValues[]; // output columns from FIBERMAP, output order
  /** Columns a refined selection adds or replaces (QSO rules: QSO_MASKBITS, Z, ZERR, …), output order. */
  extra?: ColumnSpec[];
}

const defsFrom = (set: ColumnSet, from: CatalogColumnDef['from']) => catalogColumns(set).filter((c) => c.from === from);

/** The redrock's TSNR2 HDU and its data bytes, when the file has one. */
export interface Tsnr2Data {
  hdu: Hdu;
  data: Uint8Array;
}

/**
 * Evaluates the selection on a REDSHIFTS table and gathers the output's REDSHIFTS columns for the kept rows
 * (in file order). Columns the selection needs must exist; a TARGETID kept twice is an error, since the output
 * must hold every target once.
 */
export function selectRows(file: string, hdu: Hdu, data: Uint8Array, sel: Selection, columns: ColumnSet = 'default', tsnr2?: Tsnr2Data): SelectResult {
  const info = tableInfo(file, hdu);
  for (const name of selectionColumns(sel)) {
    if (!findColumn(info, name)) throw new FitsError('MISSING_COLUMN', file, `column ${name} is missing (the selection needs it)`, hdu.name, name);
  }
  const read = (name: string) => readColumn(file, hdu, info, findColumn(info, name)!, data);
  const tid = read('TARGETID');
  if (tid.type !== 'int64' || tid.repeat !== 1)
    throw new DesiError('BAD_TYPE', file, `TARGETID must be one int64 (K) per row, found ${tid.type}`, hdu.name, 'TARGETID');
  const ids = tid.values as BigInt64Array;
  const spectype = sel.spectypes === 'any' ? undefined : read('SPECTYPE');
  if (spectype && (spectype.type !== 'string' || spectype.repeat !== 1 || spectype.values.length !== info.rows)) {
    throw new DesiError(
      'BAD_TYPE',
      file,
      `SPECTYPE must be one character string (A) per row, found ${spectype.type} with ${spectype.repeat} per row`,
      hdu.name,
      'SPECTYPE',
    );
  }
  const zwarn = sel.zwarnZero ? read('ZWARN') : undefined;
  const dchi2 = sel.minDeltaChi2 !== undefined ? read('DELTACHI2') : undefined;
  for (const [name, c] of [
    ['ZWARN', zwarn],
    ['DELTACHI2', dchi2],
  ] as const) {
    if (c && (c.repeat !== 1 || c.type === 'string' || c.type === 'bool' || c.type === 'bits' || c.type === 'varlen' || c.type.startsWith('complex'))) {
      throw new DesiError('BAD_TYPE', file, `${name} must be one number per row, found ${c.type}`, hdu.name, name);
    }
  }
  const wanted = sel.spectypes === 'any' ? undefined : new Set(sel.spectypes);
  const kept: number[] = [];
  for (let r = 0; r < info.rows; r++) {
    if (wanted && !wanted.has(spectype!.values[r].trim().toUpperCase())) continue;
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
  if (rows.length === 0) return { rows: info.rows, targetids, allTargetids: ids, redshifts: [] };
  const redshifts = gatherColumns(file, hdu, info, data, defsFrom(columns, 'redshifts'), rows);
  return { rows: info.rows, targetids, allTargetids: ids, redshifts: [...redshifts, ...tsnr2Columns(file, ids, targetids, columns, tsnr2)] };
}

/**
 * The TSNR2 columns of the selected targets, in selection order (like the REDSHIFTS ones). TSNR2 rows are
 * matched by TARGETID, whatever their order, and must describe exactly REDSHIFTS' targets, each once: any
 * other TSNR2 table is a TARGET_MISMATCH naming the file and HDU. A redrock without a TSNR2 HDU (older
 * productions) gives null columns.
 */
function tsnr2Columns(file: string, redshiftIds: BigInt64Array, selected: BigInt64Array, columns: ColumnSet, tsnr2?: Tsnr2Data): CatalogValues[] {
  const defs = defsFrom(columns, 'tsnr2');
  if (defs.length === 0) return [];
  if (!tsnr2) return defs.map((d) => ({ name: d.name, type: d.type, absent: true }));
  const { hdu, data } = tsnr2;
  const info = tableInfo(file, hdu);
  const col = findColumn(info, 'TARGETID');
  if (!col) throw new FitsError('MISSING_COLUMN', file, 'column TARGETID is missing', hdu.name, 'TARGETID');
  const tid = readColumn(file, hdu, info, col, data);
  if (tid.type !== 'int64' || tid.repeat !== 1)
    throw new DesiError('BAD_TYPE', file, `TARGETID must be one int64 (K) per row, found ${tid.type}`, hdu.name, 'TARGETID');
  const ids = tid.values as BigInt64Array;
  const mismatch = (why: string) =>
    new DesiError('TARGET_MISMATCH', file, `the TSNR2 table does not describe the REDSHIFTS targets: ${why}`, hdu.name, 'TARGETID');
  if (ids.length !== redshiftIds.length) throw mismatch(`${ids.length} TSNR2 rows for ${redshiftIds.length} REDSHIFTS rows`);
  const rowOf = new Map<bigint, number>();
  ids.forEach((id, r) => {
    if (rowOf.has(id)) throw mismatch(`TARGETID ${id} appears more than once`);
    rowOf.set(id, r);
  });
  const missing = redshiftIds.find((id) => !rowOf.has(id));
  if (missing !== undefined) throw mismatch(`REDSHIFTS TARGETID ${missing} has no TSNR2 row`);
  const rows = Int32Array.from(selected, (id) => rowOf.get(id)!);
  return gatherColumns(file, hdu, info, data, defs, rows);
}

/**
 * Finds each selected TARGETID in the coadd FIBERMAP (by value, never by row position) and gathers the
 * FIBERMAP output columns. Output rows follow FIBERMAP order, so the spectra reads run forward through the
 * file. A selected target absent from the coadd, or present twice, is a TARGET_MISMATCH error.
 */
export function matchTargets(
  file: string,
  hdu: Hdu,
  data: Uint8Array,
  targetids: BigInt64Array,
  columns: ColumnSet = 'default',
  refine?: RefineInput,
): MatchResult {
  const FIBERMAP_DEFS = defsFrom(columns, 'fibermap');
  const info = tableInfo(file, hdu);
  const col = findColumn(info, 'TARGETID');
  if (!col) throw new FitsError('MISSING_COLUMN', file, 'column TARGETID is missing', hdu.name, 'TARGETID');
  const tid = readColumn(file, hdu, info, col, data);
  if (tid.type !== 'int64' || tid.repeat !== 1)
    throw new DesiError('BAD_TYPE', file, `TARGETID must be one int64 (K) per row, found ${tid.type}`, hdu.name, 'TARGETID');
  const ids = tid.values as BigInt64Array;
  const wanted = new Map<bigint, number>();
  targetids.forEach((t, i) => wanted.set(t, i));
  const pairs: [number, number][] = [];
  const found = new Set<bigint>();
  for (let r = 0; r < ids.length; r++) {
    const i = wanted.get(ids[r]);
    if (i === undefined) continue;
    if (found.has(ids[r]))
      throw new DesiError('TARGET_MISMATCH', file, `TARGETID ${ids[r]} appears more than once in the coadd FIBERMAP`, hdu.name, 'TARGETID');
    found.add(ids[r]);
    pairs.push([r, i]);
  }
  if (found.size !== targetids.length) {
    const missing = [...targetids].filter((t) => !found.has(t));
    throw new DesiError(
      'TARGET_MISMATCH',
      file,
      `${missing.length} selected REDSHIFTS TARGETID(s) are not in the coadd FIBERMAP (first: ${missing[0]})`,
      hdu.name,
      'TARGETID',
    );
  }
  let coaddRows = Int32Array.from(pairs, (p) => p[0]);
  let order = Int32Array.from(pairs, (p) => p[1]);
  if (refine) {
    // The FIBERMAP (and afterburner) part of the selection: only the rows it keeps are output.
    const { keep, extra } = refineRows(file, hdu, info, data, coaddRows, order, refine);
    coaddRows = Int32Array.from(keep, (k) => coaddRows[k]);
    order = Int32Array.from(keep, (k) => order[k]);
    const fibermap = coaddRows.length ? gatherColumns(file, hdu, info, data, FIBERMAP_DEFS, coaddRows) : [];
    return { nspec: info.rows, coaddRows, order, fibermap, extra };
  }
  return { nspec: info.rows, coaddRows, order, fibermap: gatherColumns(file, hdu, info, data, FIBERMAP_DEFS, coaddRows) };
}
