/**
 * Target classes and their bits, per survey (desitarget's `data/targetmask.yaml`, `sv1/sv2/sv3` masks and
 * `cmx/data/cmx_targetmask.yaml`). Which FIBERMAP column holds a survey's bits follows desitarget's
 * `targets.main_cmx_or_sv` and LSS's `qso_cat_utils.desi_target_from_survey`: main reads DESI_TARGET, sv1/sv2/sv3
 * read SVn_DESI_TARGET, cmx reads CMX_TARGET; `special` has no target bits (every class test is false).
 */

export const TARGET_CLASSES = ['QSO', 'LRG', 'ELG', 'BGS_ANY', 'MWS_ANY', 'SCND_ANY'] as const;
export type TargetClass = (typeof TARGET_CLASSES)[number];

const bit = (...bits: number[]): bigint => bits.reduce((m, b) => m | (1n << BigInt(b)), 0n);

/** DESI_TARGET and SVn_DESI_TARGET share these bits. */
const DESI_BITS: Record<TargetClass, bigint> = {
  LRG: bit(0),
  ELG: bit(1),
  QSO: bit(2),
  BGS_ANY: bit(60),
  MWS_ANY: bit(61),
  SCND_ANY: bit(62),
};

/**
 * CMX_TARGET: SV0_BGS 8, SV0_MWS 9, SV0_LRG 10, SV0_ELG 11, SV0_QSO 12, SV0_QSO_Z5 14, MINI_SV_LRG 53,
 * MINI_SV_ELG 54, MINI_SV_QSO 55, MINI_SV_BGS_BRIGHT 56, SV0_MWS_FAINT 57 (cmx has no secondary programme).
 * As in desispec's tracer tables: QSO = MINI_SV_QSO|SV0_QSO|SV0_QSO_Z5.
 */
const CMX_BITS: Record<TargetClass, bigint> = {
  LRG: bit(10, 53),
  ELG: bit(11, 54),
  QSO: bit(12, 14, 55),
  BGS_ANY: bit(8, 56),
  MWS_ANY: bit(9, 57),
  SCND_ANY: 0n,
};

/**
 * LSS `qso_cat_utils.is_target_in_survey` for CMX uses narrower masks than the tracer tables: QSO is
 * SV0_QSO|MINI_SV_QSO (no SV0_QSO_Z5), BGS SV0_BGS|MINI_SV_BGS_BRIGHT, ELG SV0_ELG|MINI_SV_ELG. The QSO
 * catalog rules use these.
 */
const CMX_LSS_BITS = { QSO: bit(12, 55), BGS_ANY: bit(8, 56), ELG: bit(11, 54) } as const;

/** The FIBERMAP column of a survey's primary target bits; undefined for `special` (no bits: every test false). */
export function desiTargetColumn(survey: string): string | undefined {
  if (survey === 'main') return 'DESI_TARGET';
  if (survey === 'sv1' || survey === 'sv2' || survey === 'sv3') return `${survey.toUpperCase()}_DESI_TARGET`;
  if (survey === 'cmx') return 'CMX_TARGET';
  return undefined;
}

/** The mask of one class in the survey's target column (0n: the survey has no such class). */
export function classMask(survey: string, cls: TargetClass): bigint {
  if (survey === 'cmx') return CMX_BITS[cls];
  return desiTargetColumn(survey) === undefined ? 0n : DESI_BITS[cls];
}

/** The masks the QSO catalog (LSS qso_cat_utils) tests: QSO, ELG and BGS targets. */
export function lssMask(survey: string, cls: 'QSO' | 'ELG' | 'BGS_ANY'): bigint {
  if (survey === 'cmx') return CMX_LSS_BITS[cls];
  return classMask(survey, cls);
}

/**
 * The secondary WISE_VAR_QSO target: bit 35 of SCND_TARGET (main), SV1_SCND_TARGET and SV3_SCND_TARGET.
 * SV2, CMX and special have none (LSS falls back to an all-zero column).
 */
export function wiseVarQso(survey: string): { column: string; mask: bigint } | undefined {
  if (survey === 'main') return { column: 'SCND_TARGET', mask: bit(35) };
  if (survey === 'sv1' || survey === 'sv3') return { column: `${survey.toUpperCase()}_SCND_TARGET`, mask: bit(35) };
  return undefined;
}

/** Parses `--target QSO,LRG`: the classes, upper-cased, deduplicated, sorted in TARGET_CLASSES order. */
export function parseTargetClasses(raw: string): TargetClass[] {
  const names = raw
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter((s) => s.length > 0);
  if (names.length === 0) throw new Error(`--target ${JSON.stringify(raw)} names no class (one or more of ${TARGET_CLASSES.join(', ')})`);
  for (const n of names) {
    if (!(TARGET_CLASSES as readonly string[]).includes(n))
      throw new Error(`--target: ${JSON.stringify(n)} is not a target class (${TARGET_CLASSES.join(', ')})`);
  }
  return TARGET_CLASSES.filter((c) => names.includes(c));
}
