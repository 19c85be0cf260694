/**
 * The binary-table layouts the generator writes, in the DR1 ("iron") main file order of desi-format.md.
 */
import type { ColumnSpec, WritableTformCode } from '../fits/hdu-spec.js';

/** Parses "NAME:TFORM NAME:10D ..." into column specs (TFORM = optional repeat + one code letter). */
export function parseColumns(text: string, units: Partial<Record<string, string>> = {}): ColumnSpec[] {
  return text
    .trim()
    .split(/\s+/)
    .map((item) => {
      const m = /^([A-Z0-9_]+):(\d*)([LBIJKAED])$/.exec(item);
      if (!m) throw new Error(`synth: bad column item ${item}`);
      const [, name, repeat, code] = m as unknown as [string, string, string, WritableTformCode];
      const spec: ColumnSpec = { name, tform: code };
      if (repeat !== '') spec.repeat = Number(repeat);
      const unit = units[name];
      if (unit !== undefined) spec.unit = unit;
      return spec;
    });
}

const FLUX_UNITS: Record<string, string> = Object.fromEntries(
  ['G', 'R', 'Z', 'W1', 'W2'].flatMap((b) => [
    [`FLUX_${b}`, 'nanomaggy'],
    [`FLUX_IVAR_${b}`, 'nanomaggy^-2'],
  ]),
);

/** DR1 main coadd/redrock FIBERMAP: the 67 columns of desi-format.md. */
export const FIBERMAP_COLUMNS: ColumnSpec[] = parseColumns(
  `TARGETID:K COADD_FIBERSTATUS:J TARGET_RA:D TARGET_DEC:D PMRA:E PMDEC:E REF_EPOCH:E FA_TARGET:K FA_TYPE:B
   OBJTYPE:3A SUBPRIORITY:D OBSCONDITIONS:J RELEASE:I BRICKNAME:8A BRICKID:J BRICK_OBJID:J MORPHTYPE:4A EBV:E
   FLUX_G:E FLUX_R:E FLUX_Z:E FLUX_W1:E FLUX_W2:E FLUX_IVAR_G:E FLUX_IVAR_R:E FLUX_IVAR_Z:E FLUX_IVAR_W1:E
   FLUX_IVAR_W2:E FIBERFLUX_G:E FIBERFLUX_R:E FIBERFLUX_Z:E FIBERTOTFLUX_G:E FIBERTOTFLUX_R:E FIBERTOTFLUX_Z:E
   MASKBITS:I SERSIC:E SHAPE_R:E SHAPE_E1:E SHAPE_E2:E REF_ID:K REF_CAT:2A GAIA_PHOT_G_MEAN_MAG:E
   GAIA_PHOT_BP_MEAN_MAG:E GAIA_PHOT_RP_MEAN_MAG:E PARALLAX:E PHOTSYS:1A PRIORITY_INIT:K NUMOBS_INIT:K
   DESI_TARGET:K BGS_TARGET:K MWS_TARGET:K SCND_TARGET:K PLATE_RA:D PLATE_DEC:D COADD_NUMEXP:I
   COADD_EXPTIME:E COADD_NUMNIGHT:I COADD_NUMTILE:I MEAN_DELTA_X:E RMS_DELTA_X:E MEAN_DELTA_Y:E RMS_DELTA_Y:E
   MEAN_FIBER_RA:D STD_FIBER_RA:E MEAN_FIBER_DEC:D STD_FIBER_DEC:E MEAN_PSF_TO_FIBER_SPECFLUX:E`,
  { TARGET_RA: 'deg', TARGET_DEC: 'deg', PMRA: 'mas yr-1', PMDEC: 'mas yr-1', REF_EPOCH: 'yr', EBV: 'mag', ...FLUX_UNITS },
);

const MAIN_TARGETS = ['DESI_TARGET', 'BGS_TARGET', 'MWS_TARGET', 'SCND_TARGET'];

/**
 * The target-mask columns a survey's FIBERMAP has in place of main's four: SV1_DESI_TARGET ... for sv1, sv2
 * and sv3, one CMX_TARGET for cmx, main's own for every other survey (main, special).
 */
export function targetColumnsOf(survey: string): string[] {
  const s = survey.toLowerCase();
  if (s === 'cmx') return ['CMX_TARGET'];
  if (s === 'sv1' || s === 'sv2' || s === 'sv3') return MAIN_TARGETS.map((c) => `${s.toUpperCase()}_${c}`);
  return MAIN_TARGETS;
}

/** A survey's FIBERMAP: DR1 main's columns with the survey's target masks where main's four are. */
export function fibermapColumnsOf(survey: string): ColumnSpec[] {
  const names = targetColumnsOf(survey);
  if (names === MAIN_TARGETS) return FIBERMAP_COLUMNS;
  const at = FIBERMAP_COLUMNS.findIndex((c) => c.name === MAIN_TARGETS[0]);
  const out = FIBERMAP_COLUMNS.filter((c) => !MAIN_TARGETS.includes(c.name));
  out.splice(at, 0, ...names.map((name): ColumnSpec => ({ name, tform: 'K' })));
  return out;
}

/** DR1 EXP_FIBERMAP: 26 columns, one row per exposure of a target. */
export const EXP_FIBERMAP_COLUMNS: ColumnSpec[] = parseColumns(
  `TARGETID:K PRIORITY:J SUBPRIORITY:D NIGHT:J EXPID:J MJD:D TILEID:J EXPTIME:D PETAL_LOC:I DEVICE_LOC:J
   LOCATION:K FIBER:J FIBERSTATUS:J FIBERASSIGN_X:E FIBERASSIGN_Y:E LAMBDA_REF:E PLATE_RA:D PLATE_DEC:D
   NUM_ITER:K FIBER_X:D FIBER_Y:D DELTA_X:D DELTA_Y:D FIBER_RA:D FIBER_DEC:D PSF_TO_FIBER_SPECFLUX:D`,
);

const ARMS = ['B', 'R', 'Z'] as const;
const TSNR2_CLASSES = ['BGS', 'ELG', 'GPBBACKUP', 'GPBBRIGHT', 'GPBDARK', 'LRG', 'LYA', 'QSO'];

/** The 32 TSNR2_* names: per arm then summed. */
export const TSNR2_NAMES: string[] = [...ARMS.flatMap((arm) => TSNR2_CLASSES.map((c) => `TSNR2_${c}_${arm}`)), ...TSNR2_CLASSES.map((c) => `TSNR2_${c}`)];

/** Coadd SCORES: TARGETID + 41 float columns. */
export const SCORES_COLUMNS: ColumnSpec[] = [
  { name: 'TARGETID', tform: 'K' },
  ...ARMS.flatMap((arm) => [`INTEG_COADD_FLUX_${arm}`, `MEDIAN_COADD_FLUX_${arm}`, `MEDIAN_COADD_SNR_${arm}`]).map((name): ColumnSpec => ({
    name,
    tform: 'E',
  })),
  ...TSNR2_NAMES.map((name): ColumnSpec => ({ name, tform: 'E' })),
];

/** Redrock TSNR2: TARGETID + 32 float columns. */
export const TSNR2_COLUMNS: ColumnSpec[] = [{ name: 'TARGETID', tform: 'K' }, ...TSNR2_NAMES.map((name): ColumnSpec => ({ name, tform: 'E' }))];

/** DR1 REDSHIFTS (NAXIS1 = 170). */
export const REDSHIFTS_COLUMNS: ColumnSpec[] = parseColumns(
  'TARGETID:K Z:D ZERR:D ZWARN:K CHI2:D COEFF:10D NPIXELS:K SPECTYPE:6A SUBTYPE:20A NCOEFF:K DELTACHI2:D',
).map((c) => (c.name === 'COEFF' ? { ...c, tdim: [10] } : c));
