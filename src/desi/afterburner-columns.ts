/**
 * The columns `--with qso_qn,qso_mgii,emline` adds to any selection: each afterburner's table columns (DESI's
 * data model, desi-science.md), matched to the output rows by TARGETID, in fixed lists so that one dataset has
 * one schema whatever a file holds (a column a file lacks is null, never an error).
 *
 * Naming: a column keeps its FITS name unless that name clashes, and then it is prefixed with its file kind
 * in capitals (`EMLINE_Z`, `QSO_QN_Z_RR`, `QSO_MGII_SPECTYPE`). A name clashes when it is a catalog column of
 * any column set (schema.ts, column-sets.ts: Z, ZWARN, SPECTYPE, DELTACHI2, OBJTYPE, TARGET_RA ...), a column
 * the QSO rules add that does not come from this file (Z_RR, ZERR_RR, QSO_MASKBITS), or a column of another
 * afterburner too (RA, DEC, SPECTYPE, Z_RR). The rule does not depend on the selection or on which afterburners
 * a run asks for: a column has the same name in every dataset. The columns the QSO rules of `--select
 * desi-qso-dr1`/`desi-qso` take from QN_RR and MGII (Z_NEW, ZERR_NEW, C_*, IS_QSO_QN_NEW_RR, IS_QSO_MGII) keep
 * their names and types here, so with those selections `--with` adds each of them once (refine.ts).
 *
 * Left out on purpose: TARGETID (the output has it), and the afterburners' copy of the survey's target column
 * (DESI_TARGET, SVn_DESI_TARGET or CMX_TARGET: its name changes with the survey, and the output already has
 * every survey's target columns from the FIBERMAP).
 *
 * Types are the FITS ones (D float64, E float32, K int64, J int32, L bool, A utf8 trimmed as astropy reads it,
 * nE a list of float32); a narrower integer or float in a file is widened losslessly, a wider one refused.
 */
import type { ColumnData } from '../fits/index.js';
import { findColumn, readColumn } from '../fits/index.js';
import type { ColumnSpec } from '../parquet/index.js';
import { gatherColumns, type CatalogValues } from './catalog.js';
import { DesiError } from './errors.js';
import { catalogColumns, type CatalogType } from './schema.js';
import type { AlignedTable } from './afterburners.js';
import type { AfterburnerKind } from './selection.js';

export type AfterburnerColumnType = Exclude<CatalogType, 'int16'> | 'bool';

/** One column of an afterburner's table as the output carries it. */
export interface AfterburnerColumn {
  /** Its name in the FITS table. */
  source: string;
  /** Its name in the output (source, or prefixed where it clashes). */
  name: string;
  type: AfterburnerColumnType;
  /** A fixed-length vector column (COEFFS): a list of `type`. */
  list?: boolean;
}

type Source = Omit<AfterburnerColumn, 'name'>;
const col = (type: AfterburnerColumnType, names: string[], list = false): Source[] => names.map((source) => ({ source, type, ...(list && { list }) }));

const QN_LINES = ['LYA', 'CIV', 'CIII', 'MgII', 'Hbeta', 'Halpha'];
/** The emission lines of EMLINEFIT and the quantities of each (all float32 but NDOF, int32). */
export const EMLINE_LINES = ['OII', 'HDELTA', 'HGAMMA', 'HBETA', 'OIII', 'HALPHA'] as const;
const EMLINE_QUANTITIES = ['FLUX', 'FLUX_IVAR', 'SIGMA', 'SIGMA_IVAR', 'CONT', 'CONT_IVAR', 'SHARE', 'SHARE_IVAR', 'EW', 'EW_IVAR', 'CHI2'];

/** Each afterburner's columns in file order (desi-science.md), TARGETID and the survey's target column aside. */
const SOURCES: Record<AfterburnerKind, readonly Source[]> = {
  qso_qn: [
    ...col('float64', ['RA', 'DEC', 'Z_NEW']),
    ...col('float32', ['ZERR_NEW']),
    ...col('float32', ['COEFFS'], true),
    ...col('utf8', ['SPECTYPE']),
    ...col('float32', ['Z_RR', 'Z_QN']),
    ...col('bool', ['IS_QSO_QN_NEW_RR']),
    ...col(
      'float32',
      QN_LINES.map((l) => `C_${l}`),
    ),
    ...col(
      'float32',
      QN_LINES.map((l) => `Z_${l}`),
    ),
  ],
  qso_mgii: [
    ...col('float64', ['RA', 'DEC', 'Z_RR']),
    ...col('float32', ['ZERR']),
    ...col('bool', ['IS_QSO_MGII']),
    ...col('utf8', ['SPECTYPE']),
    ...col('float32', ['DELTA_CHI2', 'A', 'SIGMA', 'B', 'VAR_A', 'VAR_SIGMA', 'VAR_B']),
  ],
  emline: [
    ...col('float64', ['Z']),
    ...col('int64', ['ZWARN']),
    ...col('utf8', ['SPECTYPE']),
    ...col('float64', ['DELTACHI2', 'TARGET_RA', 'TARGET_DEC']),
    ...col('utf8', ['OBJTYPE']),
    ...EMLINE_LINES.flatMap((l) => [
      ...col(
        'float32',
        EMLINE_QUANTITIES.map((q) => `${l}_${q}`),
      ),
      ...col('int32', [`${l}_NDOF`]),
    ]),
  ],
};

/** Columns of the QSO rules (refine.ts) that are redrock's values, not an afterburner's. */
const RULE_COLUMNS = ['Z_RR', 'ZERR_RR', 'QSO_MASKBITS'];

/** Every name an afterburner column may not take as it is. */
function reservedFor(kind: AfterburnerKind): Set<string> {
  const names = new Set<string>(catalogColumns('all').map((c) => c.name.toUpperCase()));
  for (const n of RULE_COLUMNS) names.add(n);
  for (const other of Object.keys(SOURCES) as AfterburnerKind[]) if (other !== kind) for (const c of SOURCES[other]) names.add(c.source.toUpperCase());
  return names;
}

/** The output columns an afterburner adds, in file order, with their output names. */
export function afterburnerColumns(kind: AfterburnerKind): AfterburnerColumn[] {
  const reserved = reservedFor(kind);
  const prefix = kind.toUpperCase();
  return SOURCES[kind].map((c) => ({ ...c, name: reserved.has(c.source.toUpperCase()) ? `${prefix}_${c.source}` : c.source }));
}

/**
 * The afterburner's columns for the output rows: `rows[i]` is output row i's row in the table. A column the
 * file lacks is null; one of another type is a BAD_TYPE naming file, HDU and column.
 */
export function gatherAfterburnerColumns(kind: AfterburnerKind, t: AlignedTable, rows: Int32Array): ColumnSpec[] {
  return afterburnerColumns(kind).map((c) => {
    const found = findColumn(t.info, c.source);
    if (!found) return c.list ? { name: c.name, kind: 'nullList', type: listType(c) } : { name: c.name, kind: 'null', type: c.type };
    if (c.type === 'bool') return boolSpec(t, c, readColumn(t.file, t.hdu, t.info, found, t.data), rows);
    const [v] = gatherColumns(t.file, t.hdu, t.info, t.data, [{ name: c.source, from: 'redshifts', type: c.type, list: c.list }], rows);
    return toSpec(c, v);
  });
}

function listType(c: AfterburnerColumn): 'float32' | 'float64' | 'int32' | 'int64' {
  if (c.type === 'float32' || c.type === 'float64' || c.type === 'int32' || c.type === 'int64') return c.type;
  throw new Error(`internal: ${c.name} cannot be a list of ${c.type}`);
}

function toSpec(c: AfterburnerColumn, v: CatalogValues): ColumnSpec {
  if ('absent' in v) throw new Error(`internal: ${c.source} was found, then not gathered`);
  if (v.type === 'utf8') return { name: c.name, kind: 'scalar', type: 'utf8', values: v.values, valid: v.valid };
  if (c.list) return { name: c.name, kind: 'list', type: listType(c), values: v.values, width: v.width ?? 1 };
  return { name: c.name, kind: 'scalar', type: v.type, values: v.values, valid: v.valid };
}

/** A logical (L) column: true for 'T', false for 'F' and for a null byte (as astropy reads it). */
function boolSpec(t: AlignedTable, c: AfterburnerColumn, cd: ColumnData, rows: Int32Array): ColumnSpec {
  if (cd.type !== 'bool' || cd.repeat !== 1)
    throw new DesiError('BAD_TYPE', t.file, `${c.source} must be one logical (L) per row, found ${cd.type} with ${cd.repeat} per row`, t.hdu.name, c.source);
  return { name: c.name, kind: 'scalar', type: 'bool', values: Uint8Array.from(rows, (r) => (cd.values[r] === 1 ? 1 : 0)) };
}
