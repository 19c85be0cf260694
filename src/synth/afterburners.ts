/**
 * The QSO afterburner files of a synthetic tile, beside its coadd and redrock: `qso_qn-S-P-N.fits` (HDU
 * QN_RR: QuasarNET's confidences and redrock's rerun with a QN prior) and `qso_mgii-S-P-N.fits` (HDU MGII;
 * in a tile tree `qso_qn-PETAL-TILEID-thruLASTNIGHT.fits`, as DESI names them there),
 * with DESI's columns (desi-science.md). Their rows are in an order of their own (neither FIBERMAP's nor
 * REDSHIFTS'), so a reader must match them by TARGETID.
 *
 * With `spec.qsoCases`, `plantQsoCases` first rewrites some catalog rows (target bits, COADD_FIBERSTATUS,
 * OBJTYPE, SPECTYPE, Z) so that every rule of DESI's quasar catalog meets a case: each QSO_MASKBITS bit, the
 * fibre statuses each rule set keeps or drops, the z-bump veto's edges, float32 thresholds hit exactly, and
 * a QuasarNET rerun whose Z_NEW is NaN. Such a tile's `goodQso` is then no longer a truth of redrock-qso.
 */
import type { ColumnValues } from '../fits/encode.js';
import type { ColumnSpec } from '../fits/hdu-spec.js';
import type { TileCatalog } from './catalog.js';
import { parseColumns } from './columns.js';
import { writeTableFile } from './files.js';
import { mixSeed, Rng } from './random.js';
import type { SynthTileSpec } from './types.js';

const LINES = ['LYA', 'CIV', 'CIII', 'MgII', 'Hbeta', 'Halpha'] as const;

/** The survey's primary target column, as the afterburners copy it (LSS desi_target_from_survey). */
function targetColumn(survey: string): string {
  if (survey === 'main') return 'DESI_TARGET';
  if (survey === 'cmx') return 'CMX_TARGET';
  if (/^sv[123]$/.test(survey)) return `${survey.toUpperCase()}_DESI_TARGET`;
  return 'SV2_DESI_TARGET';
}

export function qnColumns(survey: string): ColumnSpec[] {
  // QuasarNET's line names are mixed case (C_MgII), which parseColumns does not take: added as they are.
  const lines = (prefix: string): ColumnSpec[] => LINES.map((l) => ({ name: `${prefix}_${l}`, tform: 'E' }));
  return [
    ...parseColumns(`TARGETID:K RA:D DEC:D Z_NEW:D ZERR_NEW:E ${targetColumn(survey)}:K COEFFS:10E SPECTYPE:10A Z_RR:E Z_QN:E IS_QSO_QN_NEW_RR:L`),
    ...lines('C'),
    ...lines('Z'),
  ];
}

export function mgiiColumns(survey: string): ColumnSpec[] {
  return parseColumns(
    `TARGETID:K RA:D DEC:D Z_RR:D ZERR:E IS_QSO_MGII:L ${targetColumn(survey)}:K SPECTYPE:10A DELTA_CHI2:E A:E SIGMA:E B:E VAR_A:E VAR_SIGMA:E VAR_B:E`,
  );
}

/** The per-target truths of the afterburners, in FIBERMAP order. */
export interface AfterburnerTruth {
  c: Float32Array[]; // one per line, LINES order
  newRr: Uint8Array;
  zNew: Float64Array;
  zerrNew: Float32Array;
  mgii: Uint8Array;
}

const f32 = Math.fround;
const QSO = 1n << 2n;
const ELG = 1n << 1n;
const BGS = 1n << 60n;
const WISE_VAR_QSO = 1n << 35n;

interface PlantedCase {
  target?: bigint;
  scnd?: bigint;
  fiberstatus?: number;
  objtype?: string;
  spectype?: string;
  z?: number;
  c?: number[]; // all six confidences, or [maxC] for all six equal
  newRr?: boolean;
  zNew?: number;
  mgii?: boolean;
}

/** The planted rows, FIBERMAP rows 0, 1, ... (a tile with fewer targets plants the first ones). */
export const PLANTED_CASES: readonly PlantedCase[] = [
  { target: QSO, spectype: 'QSO', c: [0.1], mgii: false, newRr: false }, // bit 1 only
  { target: QSO, spectype: 'GALAXY', c: [0.1], mgii: true, newRr: false }, // bit 2 only
  { target: QSO, spectype: 'GALAXY', c: [0.96], mgii: false, newRr: false }, // bit 3 with T = 0.95, nothing with 0.99
  { target: QSO, spectype: 'GALAXY', c: [0.999], mgii: false, newRr: true, zNew: 2.5 }, // bits 3, 4; Z := Z_NEW
  { target: BGS, spectype: 'QSO', c: [0.7], mgii: false, newRr: true, zNew: 1.1 }, // bit 5, Z := Z_NEW
  { target: ELG, spectype: 'QSO', c: [0.7], mgii: false, newRr: true, zNew: 1.3 }, // bit 6, Z := Z_NEW
  { target: 0n, scnd: WISE_VAR_QSO, spectype: 'QSO', c: [0.1], mgii: false, newRr: false }, // bit 7
  { target: QSO, spectype: 'QSO', fiberstatus: 2 ** 23, c: [0.1] }, // DR1 keeps, current drops
  { target: QSO, spectype: 'QSO', fiberstatus: 2 ** 24, c: [0.1] }, // DR1 keeps, current drops
  { target: QSO, spectype: 'QSO', fiberstatus: 2 ** 3, c: [0.1] }, // DR1 drops, current keeps
  { target: QSO, spectype: 'QSO', fiberstatus: 2 ** 8, c: [0.1] }, // both drop
  { target: QSO, spectype: 'QSO', z: 3.7, c: [0.5, 0.99, 0.2, 0.2, 0.2, 0.2], newRr: false }, // vetoed (DR1)
  { target: QSO, spectype: 'QSO', z: 3.65, c: [0.5], newRr: false }, // veto edge: not > 3.65
  { target: QSO, spectype: 'QSO', z: 3.9, c: [0.5], newRr: false }, // veto edge: not < 3.9
  { target: QSO, spectype: 'QSO', z: 5.2, c: [0.96, 0.96, 0.1, 0.1, 0.1, 0.1], newRr: false }, // in the bump, confident: kept
  { target: QSO, spectype: 'QSO', z: 3.7, c: [f32(0.95), f32(0.95), 0.1, 0.1, 0.1, 0.1], newRr: false }, // C == float32(0.95): not < 0.95
  { target: QSO, spectype: 'GALAXY', c: [0.999], newRr: true, zNew: NaN }, // Z_NEW NaN replaces Z
  { target: QSO, spectype: 'GALAXY', c: [f32(0.95)], newRr: true, zNew: 2.2 }, // maxC == float32(0.95): no bit 3, no bit 4
  { target: QSO, spectype: 'QSO', objtype: 'SKY', c: [0.1] }, // current drops (OBJTYPE)
  { target: QSO | ELG, spectype: 'QSO', c: [0.7], newRr: true, zNew: 0.9 }, // QSO target: not bit 6; no bit 4 (maxC < T)
  { target: BGS | ELG, spectype: 'QSO', c: [0.7], newRr: false }, // ELG decides: bit 6, not 5
  { target: BGS, spectype: 'QSO', c: [0.3], mgii: true, newRr: false }, // bit 5 through MgII
  { target: BGS, spectype: 'GALAXY', c: [0.999], mgii: true, newRr: true, zNew: 0.5 }, // not QSO for redrock: nothing
  { target: 0n, scnd: WISE_VAR_QSO, spectype: 'GALAXY', c: [0.999], newRr: true, zNew: 1.7 }, // bit 7 through QN, Z := Z_NEW
  { target: QSO, spectype: 'QSO', z: 5.3, c: [0.99, 0.5, 0.99, 0.1, 0.1, 0.1], newRr: false }, // vetoed through C_CIV
];

/** Rewrites the planted rows of the catalog (FIBERMAP target bits, status, OBJTYPE; REDSHIFTS SPECTYPE, Z). */
export function plantQsoCases(spec: SynthTileSpec, catalog: TileCatalog): void {
  const fm = catalog.fibermap;
  const col = targetColumn(spec.survey);
  const rowOf = new Int32Array(spec.targets);
  catalog.redshiftsOrder.forEach((i, r) => (rowOf[i] = r));
  PLANTED_CASES.slice(0, spec.targets).forEach((c, i) => {
    if (c.target !== undefined && fm[col]) (fm[col] as BigInt64Array)[i] = c.target;
    if (fm.SCND_TARGET && spec.survey === 'main') (fm.SCND_TARGET as BigInt64Array)[i] = c.scnd ?? 0n;
    (fm.COADD_FIBERSTATUS as Int32Array)[i] = c.fiberstatus ?? 0;
    (fm.OBJTYPE as string[])[i] = c.objtype ?? 'TGT';
    const r = rowOf[i];
    if (c.spectype !== undefined) (catalog.redshifts.SPECTYPE as string[])[r] = c.spectype;
    if (c.z !== undefined) {
      (catalog.redshifts.Z as Float64Array)[r] = c.z;
      catalog.z[i] = c.z;
    }
  });
}

/** The afterburner values of every target (FIBERMAP order): random, then the planted cases with qsoCases. */
export function afterburnerTruth(spec: SynthTileSpec, catalog: TileCatalog): AfterburnerTruth {
  const n = spec.targets;
  const rng = new Rng(mixSeed(spec.seed, spec.healpix, 0x9a5, n));
  const t: AfterburnerTruth = {
    c: LINES.map(() => new Float32Array(n)),
    newRr: new Uint8Array(n),
    zNew: new Float64Array(n).fill(NaN),
    zerrNew: new Float32Array(n).fill(NaN),
    mgii: new Uint8Array(n),
  };
  for (let i = 0; i < n; i++) {
    const qsoLike = catalog.kinds[i] === 'goodQso' || catalog.kinds[i] === 'badQso';
    const high = qsoLike ? rng.float() < 0.7 : rng.float() < 0.1;
    for (const c of t.c) c[i] = high ? rng.range(0.5, 1) : rng.range(0, 0.6);
    if (rng.float() < 0.03) t.c[rng.int(LINES.length)][i] = NaN;
    t.mgii[i] = rng.float() < (qsoLike ? 0.5 : 0.05) ? 1 : 0;
    t.newRr[i] = high && rng.float() < 0.4 ? 1 : 0;
    if (t.newRr[i]) {
      t.zNew[i] = catalog.z[i] + rng.normal() * 0.01;
      t.zerrNew[i] = rng.range(1e-4, 1e-3);
    }
  }
  if (spec.qsoCases) {
    PLANTED_CASES.slice(0, n).forEach((c, i) => {
      const cs = c.c ? (c.c.length === 1 ? LINES.map(() => c.c![0]) : c.c) : undefined;
      if (cs) cs.forEach((v, k) => (t.c[k][i] = v));
      if (c.mgii !== undefined) t.mgii[i] = c.mgii ? 1 : 0;
      if (c.newRr !== undefined) {
        t.newRr[i] = c.newRr ? 1 : 0;
        t.zNew[i] = c.newRr ? (c.zNew ?? NaN) : NaN;
        t.zerrNew[i] = c.newRr ? 2e-4 : NaN;
      }
    });
  }
  return t;
}

/** A permutation of the rows: reversed, then rotated, so it is neither FIBERMAP's nor REDSHIFTS' order. */
function fileOrder(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, k) => (2 * n - 1 - k + Math.floor(n / 3)) % n);
}

/** Writes the tile's qso_qn and qso_mgii files into `dir`; returns their sizes. */
export async function writeAfterburners(
  dir: string,
  spec: SynthTileSpec,
  catalog: TileCatalog,
): Promise<{ qn: number; mgii: number; truth: AfterburnerTruth }> {
  const n = spec.targets;
  const truth = afterburnerTruth(spec, catalog);
  const fm = catalog.fibermap;
  const col = targetColumn(spec.survey);
  const order = fileOrder(n);
  const rowOf = new Int32Array(n);
  catalog.redshiftsOrder.forEach((i, r) => (rowOf[i] = r));
  const rs = catalog.redshifts;
  const tid = fm.TARGETID as BigInt64Array;
  const target = (fm[col] as BigInt64Array | undefined) ?? new BigInt64Array(n);
  const ra = fm.TARGET_RA as Float64Array;
  const dec = fm.TARGET_DEC as Float64Array;
  const spectype = (i: number) => (rs.SPECTYPE as string[])[rowOf[i]];
  const zrr = (i: number) => (rs.Z as Float64Array)[rowOf[i]];
  const zerr = (i: number) => (rs.ZERR as Float64Array)[rowOf[i]];
  const pick = <T>(f: (i: number) => T): T[] => Array.from(order, (i) => f(i));
  const f32s = (f: (i: number) => number) => Float32Array.from(order, (i) => f(i));
  const qn: Record<string, ColumnValues> = {
    TARGETID: BigInt64Array.from(order, (i) => tid[i]),
    RA: Float64Array.from(order, (i) => ra[i]),
    DEC: Float64Array.from(order, (i) => dec[i]),
    Z_NEW: Float64Array.from(order, (i) => truth.zNew[i]),
    ZERR_NEW: f32s((i) => truth.zerrNew[i]),
    [col]: BigInt64Array.from(order, (i) => target[i]),
    COEFFS: Float32Array.from({ length: n * 10 }, (_, k) => (k % 10) * 0.5),
    SPECTYPE: pick(spectype),
    Z_RR: f32s(zrr),
    Z_QN: f32s((i) => zrr(i) + 0.01),
    IS_QSO_QN_NEW_RR: pick((i) => truth.newRr[i] === 1),
  };
  LINES.forEach((l, k) => {
    qn[`C_${l}`] = f32s((i) => truth.c[k][i]);
    qn[`Z_${l}`] = f32s((i) => zrr(i) + 0.001 * k);
  });
  const mgii: Record<string, ColumnValues> = {
    TARGETID: BigInt64Array.from(order, (i) => tid[i]),
    RA: Float64Array.from(order, (i) => ra[i]),
    DEC: Float64Array.from(order, (i) => dec[i]),
    Z_RR: Float64Array.from(order, (i) => zrr(i)),
    ZERR: f32s(zerr),
    IS_QSO_MGII: pick((i) => truth.mgii[i] === 1),
    [col]: BigInt64Array.from(order, (i) => target[i]),
    SPECTYPE: pick(spectype),
  };
  for (const name of ['DELTA_CHI2', 'A', 'SIGMA', 'B', 'VAR_A', 'VAR_SIGMA', 'VAR_B']) mgii[name] = f32s((i) => (i % 7) + name.length * 0.25);
  const stem = afterburnerStem(spec);
  const qnBytes = await writeTableFile(`${dir}/qso_qn-${stem}`, { extname: 'QN_RR', columns: qnColumns(spec.survey), nrows: n }, qn);
  const mgiiBytes = await writeTableFile(`${dir}/qso_mgii-${stem}`, { extname: 'MGII', columns: mgiiColumns(spec.survey), nrows: n }, mgii);
  return { qn: qnBytes, mgii: mgiiBytes, truth };
}

/** What follows `{kind}-` in an afterburner's name: `S-P-N.fits` in a healpix tree, `PETAL-TILEID-thruLASTNIGHT.fits` in a tile tree. */
export function afterburnerStem(spec: Pick<SynthTileSpec, 'survey' | 'program' | 'healpix' | 'cumulative'>): string {
  const c = spec.cumulative;
  return c ? `${c.petal}-${c.tileid}-thru${c.lastnight}.fits` : `${spec.survey}-${spec.program}-${spec.healpix}.fits`;
}
