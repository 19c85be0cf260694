/**
 * The second step of a selection that needs more than REDSHIFTS (--target, --fiberstatus, --objtype, and the
 * QSO catalog rules of --select desi-qso-dr1 / desi-qso): run in the match task, on the coadd FIBERMAP rows of
 * the REDSHIFTS candidates and, for the QSO rules, on the afterburner tables. It says which of the matched
 * rows stay, and gives the columns the rules add (QSO_MASKBITS, Z_RR, ZERR_RR, the afterburner values that
 * decided, and Z/ZERR replaced where QuasarNET's rerun applies).
 */
import type { Hdu, TableInfo } from '../fits/index.js';
import { findColumn, readColumn } from '../fits/index.js';
import { FitsError } from '../fits/errors.js';
import type { ColumnSpec } from '../parquet/index.js';
import { alignByTargetid, gatherAligned, gatherFlag, QN_CONFIDENCES, QN_NUMERIC, type AlignedTable } from './afterburners.js';
import { gatherAfterburnerColumns } from './afterburner-columns.js';
import { gatherSame, type CatalogValues } from './catalog.js';
import { DesiError } from './errors.js';
import { applyQsoRules } from './qso-rules.js';
import type { AfterburnerKind, Selection } from './selection.js';
import { classMask, desiTargetColumn, lssMask, wiseVarQso } from './targets.js';

export interface AfterburnerTable {
  kind: AfterburnerKind;
  file: string;
  hdu: Hdu;
  data: Uint8Array;
}

export interface RefineInput {
  selection: Selection;
  survey: string;
  redrockFile: string;
  /** The REDSHIFTS candidates (in selection order): their TARGETIDs and output columns from REDSHIFTS. */
  targetids: BigInt64Array;
  /** Every REDSHIFTS TARGETID (an afterburner must hold exactly these); default `targetids`. */
  redshiftTargetids?: BigInt64Array;
  /** `--with`: the afterburners whose columns are added (afterburner-columns.ts), whatever the selection. */
  with?: AfterburnerKind[];
  redshifts: CatalogValues[];
  afterburners: AfterburnerTable[];
}

export interface RefineResult {
  /** Indices of the matched output rows that stay, ascending. */
  keep: Int32Array;
  /** Columns the selection adds (or replaces: Z, ZERR), for the kept rows, in output order. */
  extra: ColumnSpec[];
}

/**
 * Evaluates the FIBERMAP and afterburner parts of the selection on the matched rows (`coaddRows[i]` is output
 * row i's FIBERMAP row, `order[i]` its index among the candidates).
 */
export function refineRows(
  fmFile: string,
  fmHdu: Hdu,
  fmInfo: TableInfo,
  fmData: Uint8Array,
  coaddRows: Int32Array,
  order: Int32Array,
  inp: RefineInput,
): RefineResult {
  const sel = inp.selection;
  const n = coaddRows.length;
  const fm = (name: string) => {
    const col = findColumn(fmInfo, name);
    return col ? readColumn(fmFile, fmHdu, fmInfo, col, fmData) : undefined;
  };
  const bigs = (name: string, required: boolean): BigInt64Array => {
    const cd = fm(name);
    if (!cd) {
      if (required) throw new FitsError('MISSING_COLUMN', fmFile, `column ${name} is missing (the selection needs it)`, fmHdu.name, name);
      return new BigInt64Array(n);
    }
    if (cd.repeat !== 1 || !['int64', 'int32', 'int16', 'uint8', 'uint64'].includes(cd.type))
      throw new DesiError('BAD_TYPE', fmFile, `${name} must be one integer per row, found ${cd.type}`, fmHdu.name, name);
    const v = cd.values as ArrayLike<number | bigint>;
    return BigInt64Array.from(coaddRows, (r) => BigInt.asIntN(64, BigInt(v[r])));
  };
  const ints = (name: string): Int32Array => {
    const cd = fm(name);
    if (!cd) throw new FitsError('MISSING_COLUMN', fmFile, `column ${name} is missing (the selection needs it)`, fmHdu.name, name);
    if (cd.repeat !== 1 || !['int32', 'int16', 'uint8', 'int8', 'uint16'].includes(cd.type))
      throw new DesiError('BAD_TYPE', fmFile, `${name} must be one 32-bit or narrower integer per row, found ${cd.type}`, fmHdu.name, name);
    const v = cd.values as ArrayLike<number>;
    return Int32Array.from(coaddRows, (r) => v[r]);
  };
  const strings = (name: string): string[] => {
    const cd = fm(name);
    if (!cd) throw new FitsError('MISSING_COLUMN', fmFile, `column ${name} is missing (the selection needs it)`, fmHdu.name, name);
    if (cd.type !== 'string' || cd.repeat !== 1)
      throw new DesiError('BAD_TYPE', fmFile, `${name} must be one character string (A) per row, found ${cd.type}`, fmHdu.name, name);
    return Array.from(coaddRows, (r) => cd.values[r].trim());
  };
  const targetCol = desiTargetColumn(inp.survey);
  const has = (bitsOf: BigInt64Array, mask: bigint) => Uint8Array.from(bitsOf, (b) => ((b & mask) !== 0n ? 1 : 0));

  const keepMask = new Uint8Array(n).fill(1);
  if (sel.targets !== undefined) {
    const bitsOf = targetCol === undefined ? new BigInt64Array(n) : bigs(targetCol, true);
    const mask = sel.targets.reduce((m, c) => m | classMask(inp.survey, c), 0n);
    bitsOf.forEach((b, i) => {
      if ((b & mask) === 0n) keepMask[i] = 0;
    });
  }
  if (sel.fiberstatus !== undefined) {
    const fs = ints('COADD_FIBERSTATUS');
    const mask = sel.fiberstatus === 'good' ? 0xffffffff : sel.fiberstatus;
    fs.forEach((v, i) => {
      if ((v & mask) >>> 0 !== 0) keepMask[i] = 0;
    });
  }
  if (sel.objtypeTgt) {
    strings('OBJTYPE').forEach((v, i) => {
      if (v !== 'TGT') keepMask[i] = 0;
    });
  }
  const extra: ColumnSpec[] = [];
  if (sel.rules !== undefined) {
    const table = (kind: AfterburnerKind): AlignedTable => {
      const t = inp.afterburners.find((a) => a.kind === kind);
      if (!t) throw new Error(`internal: the ${kind} afterburner was not read`);
      return alignByTargetid(t.file, t.hdu, t.data, inp.redshiftTargetids ?? inp.targetids, inp.redrockFile, inp.targetids);
    };
    const qn = table('qso_qn');
    const mgii = table('qso_mgii');
    const qnValues = gatherAligned(qn, QN_NUMERIC, order);
    const num = (name: string) =>
      qnValues.find((v) => v.name === name) as Extract<CatalogValues, { values: unknown }> & { values: Float64Array | Float32Array };
    const newRr = gatherFlag(qn, 'IS_QSO_QN_NEW_RR', order);
    const isMgii = gatherFlag(mgii, 'IS_QSO_MGII', order);
    const rs = (name: string) => inp.redshifts.find((v) => v.name === name);
    const zv = rs('Z');
    const zerrv = rs('ZERR');
    const stv = rs('SPECTYPE');
    if (!zv || 'absent' in zv || !zerrv || 'absent' in zerrv || !stv || 'absent' in stv || stv.type !== 'utf8')
      throw new FitsError('MISSING_COLUMN', inp.redrockFile, 'Z, ZERR and SPECTYPE are needed by the QSO rules', 'REDSHIFTS');
    const zRr = gatherSame(zv.values as Float64Array, order, 1);
    const zerrRr = gatherSame(zerrv.values as Float64Array, order, 1);
    const targets = bigs(targetCol ?? 'DESI_TARGET', false);
    const wise = wiseVarQso(inp.survey);
    const scnd = wise ? bigs(wise.column, false) : new BigInt64Array(n);
    const res = applyQsoRules(sel.rules, {
      n,
      isQso: has(targets, targetCol ? lssMask(inp.survey, 'QSO') : 0n),
      isElg: has(targets, targetCol ? lssMask(inp.survey, 'ELG') : 0n),
      isBgs: has(targets, targetCol ? lssMask(inp.survey, 'BGS_ANY') : 0n),
      isWiseVar: has(scnd, wise?.mask ?? 0n),
      spectype: Array.from(order, (k) => stv.values[k].trim()),
      z: zRr,
      zerr: zerrRr,
      coaddFiberstatus: ints('COADD_FIBERSTATUS'),
      objtype: sel.rules === 'desi-qso' ? strings('OBJTYPE') : undefined,
      zNew: Float64Array.from(num('Z_NEW').values),
      zerrNew: Float64Array.from(num('ZERR_NEW').values),
      isQsoQnNewRr: newRr,
      c: QN_CONFIDENCES.map((name) => num(name).values as Float32Array),
      isQsoMgii: isMgii,
    });
    res.maskbits.forEach((b, i) => {
      if (b === 0) keepMask[i] = 0;
    });
    const keep = indices(keepMask);
    const pick = <T extends Float64Array | Float32Array | Int32Array>(a: T): T => gatherSame(a, keep, 1);
    extra.push(
      { name: 'Z', kind: 'scalar', type: 'float64', values: pick(res.z) },
      { name: 'ZERR', kind: 'scalar', type: 'float64', values: pick(res.zerr) },
      { name: 'QSO_MASKBITS', kind: 'scalar', type: 'int32', values: pick(res.maskbits) },
      { name: 'Z_RR', kind: 'scalar', type: 'float64', values: pick(zRr) },
      { name: 'ZERR_RR', kind: 'scalar', type: 'float64', values: pick(zerrRr) },
      { name: 'Z_NEW', kind: 'scalar', type: 'float64', values: pick(num('Z_NEW').values as Float64Array) },
      { name: 'ZERR_NEW', kind: 'scalar', type: 'float32', values: pick(num('ZERR_NEW').values as Float32Array) },
      { name: 'IS_QSO_QN_NEW_RR', kind: 'scalar', type: 'bool', values: Uint8Array.from(keep, (i) => newRr[i]) },
      ...QN_CONFIDENCES.map((name): ColumnSpec => ({ name, kind: 'scalar', type: 'float32', values: pick(num(name).values as Float32Array) })),
      { name: 'IS_QSO_MGII', kind: 'scalar', type: 'bool', values: Uint8Array.from(keep, (i) => isMgii[i]) },
    );
    return { keep, extra: [...extra, ...withColumns(inp, keep, order, extra)] };
  }
  const keep = indices(keepMask);
  return { keep, extra: withColumns(inp, keep, order, extra) };
}

/**
 * The columns of the --with afterburners for the kept rows, but those the selection's own columns already
 * hold (the QSO rules' Z_NEW, C_* ...: the same values of the same file, under the same name and type).
 */
function withColumns(inp: RefineInput, keep: Int32Array, order: Int32Array, already: readonly ColumnSpec[]): ColumnSpec[] {
  const have = new Set(already.map((c) => c.name));
  const out: ColumnSpec[] = [];
  for (const kind of inp.with ?? []) {
    const t = inp.afterburners.find((a) => a.kind === kind);
    if (!t) throw new Error(`internal: the ${kind} afterburner was not read`);
    const aligned = alignByTargetid(t.file, t.hdu, t.data, inp.redshiftTargetids ?? inp.targetids, inp.redrockFile, inp.targetids);
    // Output row i is candidate order[keep[i]], which is row aligned.rows[order[keep[i]]] of the afterburner.
    const rows = Int32Array.from(keep, (k) => aligned.rows[order[k]]);
    for (const c of gatherAfterburnerColumns(kind, aligned, rows)) if (!have.has(c.name)) out.push(c);
  }
  return out;
}

function indices(mask: Uint8Array): Int32Array {
  const out: number[] = [];
  mask.forEach((m, i) => {
    if (m) out.push(i);
  });
  return Int32Array.from(out);
}

/** The given rows (indices) of catalog values gathered in output order. */
export function pickValues(v: CatalogValues, idx: Int32Array): CatalogValues {
  if ('absent' in v) return v;
  const valid = v.valid && Uint8Array.from(idx, (i) => v.valid![i]);
  if (v.type === 'utf8') return { ...v, values: Array.from(idx, (i) => v.values[i]), valid };
  return { ...v, values: gatherSame(v.values, idx, v.width ?? 1), valid };
}
