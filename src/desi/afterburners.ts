/**
 * The afterburner files of a tile (same folder as its coadd and redrock): QuasarNET's
 * `qso_qn-{survey}-{program}-{healpix}.fits` (HDU QN_RR, older files QN+RR), the MgII fit's
 * `qso_mgii-….fits` (HDU MGII) and the emission-line fits' `emline-….fits` (HDU EMLINEFIT). Their rows are matched to REDSHIFTS by TARGETID, whatever their order; a
 * file whose set of TARGETIDs differs from REDSHIFTS' is a TARGET_MISMATCH naming both files.
 */
import type { ColumnData, Hdu, TableInfo } from '../fits/index.js';
import { findColumn, readColumn, tableInfo } from '../fits/index.js';
import { FitsError } from '../fits/errors.js';
import { gatherColumns, type CatalogValues } from './catalog.js';
import { DesiError } from './errors.js';
import type { CatalogColumnDef } from './schema.js';
import type { AfterburnerKind } from './selection.js';

/** `{kind}-{survey}-{program}-{healpix}.fits`: an afterburner's file name in the tile's folder. */
export function afterburnerFileName(kind: AfterburnerKind, t: { survey: string; program: string; healpix: number }): string {
  return `${kind}-${t.survey}-${t.program}-${t.healpix}.fits`;
}

/** `{kind}-{PETAL}-{TILEID}-thru{LASTNIGHT}.fits`: an afterburner's file name in a tile-layout LASTNIGHT folder. */
export function cumulativeAfterburnerFileName(kind: AfterburnerKind, c: { tileid: number; petal: number; lastnight: number }): string {
  return `${kind}-${c.petal}-${c.tileid}-thru${c.lastnight}.fits`;
}

export const AFTERBURNER_KINDS: readonly AfterburnerKind[] = ['qso_qn', 'qso_mgii', 'emline'];

/** The tile with only the afterburner files the selection reads (so the others stay out of its fingerprint). */
export function withAfterburners<T extends { afterburners?: Partial<Record<AfterburnerKind, unknown>> }>(tile: T, needed: readonly AfterburnerKind[]): T {
  if (!tile.afterburners) return tile;
  const { afterburners, ...rest } = tile;
  const kept = Object.fromEntries(needed.filter((k) => afterburners[k] !== undefined).map((k) => [k, afterburners[k]]));
  return (Object.keys(kept).length > 0 ? { ...rest, afterburners: kept } : rest) as T;
}

/** The HDU names of each afterburner, newest first. */
export const AFTERBURNER_HDUS: Record<AfterburnerKind, readonly string[]> = { qso_qn: ['QN_RR', 'QN+RR'], qso_mgii: ['MGII'], emline: ['EMLINEFIT'] };

/** The QuasarNET confidences, in the order qso-rules.ts takes them. */
export const QN_CONFIDENCES = ['C_LYA', 'C_CIV', 'C_CIII', 'C_MgII', 'C_Hbeta', 'C_Halpha'] as const;

/** Output columns taken from QN_RR (numeric, widened losslessly like the catalog) besides the boolean flag. */
export const QN_NUMERIC: readonly CatalogColumnDef[] = [
  { name: 'Z_NEW', from: 'redshifts', type: 'float64' },
  { name: 'ZERR_NEW', from: 'redshifts', type: 'float32' },
  ...QN_CONFIDENCES.map((name): CatalogColumnDef => ({ name, from: 'redshifts', type: 'float32' })),
];

/** The afterburner's HDU among `hdus`: the first of its names found, or MISSING_HDU naming them all. */
export function afterburnerHdu(kind: AfterburnerKind, file: string, hdus: Hdu[]): Hdu {
  for (const name of AFTERBURNER_HDUS[kind]) {
    const found = hdus.filter((h) => h.name.toUpperCase() === name);
    if (found.length === 1) return found[0];
    if (found.length > 1) throw new FitsError('DUPLICATE_HDU', file, `${found.length} HDUs are named ${name}`, name);
  }
  const names = hdus.map((h) => h.name || `#${h.index}`).join(', ');
  throw new FitsError('MISSING_HDU', file, `no HDU named ${AFTERBURNER_HDUS[kind].join(' or ')} (HDUs read: ${names || 'none'})`, AFTERBURNER_HDUS[kind][0]);
}

/** One afterburner table, decoded, with its rows lined up with the given TARGETIDs. */
export interface AlignedTable {
  file: string;
  hdu: Hdu;
  info: TableInfo;
  data: Uint8Array;
  /** For each wanted TARGETID (in the order given), its row in this table. */
  rows: Int32Array;
}

/**
 * Lines the table's rows up with `targetids` (every REDSHIFTS TARGETID): each must be there once, and the
 * table must hold no other, or the tile fails naming both files. The rows given back are those of `selected`
 * (a subset of `targetids`, in its order; default all of them).
 */
export function alignByTargetid(
  file: string,
  hdu: Hdu,
  data: Uint8Array,
  targetids: BigInt64Array,
  redrockFile: string,
  selected: BigInt64Array = targetids,
): AlignedTable {
  const info = tableInfo(file, hdu);
  const col = findColumn(info, 'TARGETID');
  if (!col) throw new FitsError('MISSING_COLUMN', file, 'column TARGETID is missing', hdu.name, 'TARGETID');
  const tid = readColumn(file, hdu, info, col, data);
  if (tid.type !== 'int64' || tid.repeat !== 1)
    throw new DesiError('BAD_TYPE', file, `TARGETID must be one int64 (K) per row, found ${tid.type}`, hdu.name, 'TARGETID');
  const ids = tid.values as BigInt64Array;
  const rowOf = new Map<bigint, number>();
  for (let r = 0; r < ids.length; r++) {
    if (rowOf.has(ids[r])) throw new DesiError('TARGET_MISMATCH', file, `TARGETID ${ids[r]} appears more than once`, hdu.name, 'TARGETID');
    rowOf.set(ids[r], r);
  }
  const rows = new Int32Array(targetids.length);
  const missing: bigint[] = [];
  targetids.forEach((t, i) => {
    const r = rowOf.get(t);
    if (r === undefined) missing.push(t);
    else rows[i] = r;
  });
  if (missing.length > 0 || ids.length !== targetids.length) {
    const wanted = new Set(targetids);
    const extra = [...ids].filter((t) => !wanted.has(t));
    const parts = [
      missing.length > 0 && `${missing.length} of its TARGETIDs are missing (first: ${missing[0]})`,
      extra.length > 0 && `${extra.length} are not in REDSHIFTS (first: ${extra[0]})`,
    ].filter(Boolean);
    throw new DesiError(
      'TARGET_MISMATCH',
      file,
      `its TARGETIDs differ from the REDSHIFTS TARGETIDs of ${redrockFile}: ${parts.join(', ')}`,
      hdu.name,
      'TARGETID',
    );
  }
  return { file, hdu, info, data, rows: selected === targetids ? rows : Int32Array.from(selected, (t) => rowOf.get(t)!) };
}

/** Numeric columns of an aligned table, for the output rows (`pick[i]`: the index into the aligned targetids). */
export function gatherAligned(t: AlignedTable, defs: readonly CatalogColumnDef[], pick: Int32Array): CatalogValues[] {
  const rows = Int32Array.from(pick, (k) => t.rows[k]);
  const out = gatherColumns(t.file, t.hdu, t.info, t.data, defs, rows);
  for (const v of out)
    if ('absent' in v) throw new FitsError('MISSING_COLUMN', t.file, `column ${v.name} is missing (the selection needs it)`, t.hdu.name, v.name);
  return out;
}

/** A logical (L) column of an aligned table, 0/1 per output row; a missing or non-logical column is an error. */
export function gatherFlag(t: AlignedTable, name: string, pick: Int32Array): Uint8Array {
  const cd = column(t, name);
  if (cd.type !== 'bool' || cd.repeat !== 1)
    throw new DesiError('BAD_TYPE', t.file, `${name} must be one logical (L) per row, found ${cd.type}`, t.hdu.name, name);
  return Uint8Array.from(pick, (k) => (cd.values[t.rows[k]] === 1 ? 1 : 0));
}

function column(t: AlignedTable, name: string): ColumnData {
  const col = findColumn(t.info, name);
  if (!col) throw new FitsError('MISSING_COLUMN', t.file, `column ${name} is missing (the selection needs it)`, t.hdu.name, name);
  return readColumn(t.file, t.hdu, t.info, col, t.data);
}
