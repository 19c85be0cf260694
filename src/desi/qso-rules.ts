/**
 * DESI's quasar catalog rules (desihub/LSS `py/LSS/qso_cat_utils.py`, `qso_catalog_maker`), row by row, on
 * arrays already matched by TARGETID. Two rule sets:
 *
 * - `desi-qso-dr1` ("up to iron", DR1): QN threshold T = 0.95, COADD_FIBERSTATUS in {0, 2^23, 2^24}, no ZWARN
 *   cut, then the z-bump veto on the final Z: (3.65 < Z < 3.9 or 5.15 < Z < 5.35) and (C_LYA < 0.95 or
 *   C_CIV < 0.95) sets QSO_MASKBITS to 0.
 * - `desi-qso` (after iron): T = 0.99, OBJTYPE == 'TGT' and COADD_FIBERSTATUS in {0, 2^3}, no veto.
 *
 * The bits, in LSS's order of evaluation (later redshift replacements win):
 *   5  BGS target, not ELG, not QSO, SPECTYPE == 'QSO' and (maxC > 0.6 or IS_QSO_MGII);
 *      Z, ZERR := Z_NEW, ZERR_NEW where IS_QSO_QN_NEW_RR (QuasarNET's own flag, before the T cut)
 *   6  ELG target, not QSO, SPECTYPE == 'QSO' and maxC > 0.6; the same replacement
 *   then IS_QSO_QN_NEW_RR &= maxC > T, and
 *   1  QSO target and SPECTYPE == 'QSO'
 *   2  QSO target and IS_QSO_MGII
 *   3  QSO target and maxC > T
 *   4  QSO target and IS_QSO_QN_NEW_RR; Z, ZERR := Z_NEW, ZERR_NEW
 *   7  WISE_VAR_QSO secondary target and (SPECTYPE == 'QSO' or IS_QSO_MGII or maxC > T); the replacement
 *      where IS_QSO_QN_NEW_RR (LSS's iron-era code lost the target test of bit 7 by reusing a variable; this
 *      follows the rule as written in its comment, in desi-science.md and in the later code)
 *
 * maxC = max(C_LYA, C_CIV, C_CIII, C_MgII, C_Hbeta, C_Halpha), NaN when any is NaN (numpy's max). The C_*
 * columns are float32 and numpy compares a float32 array with a Python float in float32, so the thresholds
 * here are the float32 nearest 0.6, 0.95 and 0.99 (a C of exactly float32(0.95) is not > 0.95, and not < 0.95).
 */
import type { QsoRuleSet } from './selection.js';

export interface QsoRuleInput {
  n: number;
  /** Target tests, per row (from the survey's target columns, targets.ts). */
  isQso: Uint8Array;
  isElg: Uint8Array;
  isBgs: Uint8Array;
  isWiseVar: Uint8Array;
  /** Redrock's SPECTYPE (trimmed), Z and ZERR. */
  spectype: readonly string[];
  z: Float64Array;
  zerr: Float64Array;
  coaddFiberstatus: ArrayLike<number>;
  /** FIBERMAP OBJTYPE (trimmed); needed by desi-qso only. */
  objtype?: readonly string[];
  /** QuasarNET (QN_RR) and MgII (MGII) afterburners, matched by TARGETID. */
  zNew: Float64Array;
  zerrNew: Float64Array;
  isQsoQnNewRr: Uint8Array;
  /** C_LYA, C_CIV, C_CIII, C_MgII, C_Hbeta, C_Halpha, in that order. */
  c: readonly Float32Array[];
  isQsoMgii: Uint8Array;
}

export interface QsoRuleOutput {
  maskbits: Int32Array;
  z: Float64Array;
  zerr: Float64Array;
}

const f32 = Math.fround;

export const QSO_RULES: Record<QsoRuleSet, { threshold: number; fiberOk: readonly number[]; objtypeTgt: boolean; veto: boolean }> = {
  'desi-qso-dr1': { threshold: 0.95, fiberOk: [0, 2 ** 23, 2 ** 24], objtypeTgt: false, veto: true },
  'desi-qso': { threshold: 0.99, fiberOk: [0, 2 ** 3], objtypeTgt: true, veto: false },
};

export function applyQsoRules(rules: QsoRuleSet, x: QsoRuleInput): QsoRuleOutput {
  const r = QSO_RULES[rules];
  const t = f32(r.threshold);
  const t06 = f32(0.6);
  const t095 = f32(0.95);
  const out: QsoRuleOutput = { maskbits: new Int32Array(x.n), z: Float64Array.from(x.z), zerr: Float64Array.from(x.zerr) };
  for (let i = 0; i < x.n; i++) {
    const maxC = Math.max(x.c[0][i], x.c[1][i], x.c[2][i], x.c[3][i], x.c[4][i], x.c[5][i]);
    const qn06 = maxC > t06;
    const qnT = maxC > t;
    const isQsoRr = x.spectype[i] === 'QSO';
    const mgii = x.isQsoMgii[i] === 1;
    const qso = x.isQso[i] === 1;
    const elg = x.isElg[i] === 1;
    const bgs = x.isBgs[i] === 1;
    let newRr = x.isQsoQnNewRr[i] === 1;
    let bits = 0;
    const replace = () => {
      out.z[i] = x.zNew[i];
      out.zerr[i] = x.zerrNew[i];
    };
    if (bgs && !elg && !qso && isQsoRr && (qn06 || mgii)) {
      bits |= 1 << 5;
      if (newRr) replace();
    }
    if (elg && !qso && isQsoRr && qn06) {
      bits |= 1 << 6;
      if (newRr) replace();
    }
    newRr = newRr && qnT;
    if (qso) {
      if (isQsoRr) bits |= 1 << 1;
      if (mgii) bits |= 1 << 2;
      if (qnT) bits |= 1 << 3;
      if (newRr) {
        bits |= 1 << 4;
        replace();
      }
    }
    if (x.isWiseVar[i] === 1 && (isQsoRr || mgii || qnT)) {
      bits |= 1 << 7;
      if (newRr) replace();
    }
    if (!r.fiberOk.includes(x.coaddFiberstatus[i])) bits = 0;
    if (r.objtypeTgt && x.objtype?.[i] !== 'TGT') bits = 0;
    if (r.veto) {
      const z = out.z[i];
      if (((z > 3.65 && z < 3.9) || (z > 5.15 && z < 5.35)) && (x.c[0][i] < t095 || x.c[1][i] < t095)) bits = 0;
    }
    out.maskbits[i] = bits;
  }
  return out;
}
