/**
 * The two column sets a dataset can be made with (`--columns default|all`). Both are fixed lists, so every
 * file of a dataset has the same schema whatever its source file holds: a column a file lacks (SV1_* in a
 * main file, DESI_TARGET in a cmx one, TSNR2 in a redrock file without that HDU) is null, never an error.
 * The catalog columns of schema.ts come first, unchanged, then the groups below in this order.
 */
import type { CatalogColumnDef, CatalogType } from './schema.js';

export type ColumnSet = 'default' | 'all';
export const COLUMN_SETS: readonly ColumnSet[] = ['default', 'all'];

const fm = (type: CatalogType, names: string[]): CatalogColumnDef[] => names.map((name) => ({ name, from: 'fibermap', type }));
const BANDS = ['G', 'R', 'Z', 'W1', 'W2'];
const OPTICAL = ['G', 'R', 'Z'];
const ARMS = ['B', 'R', 'Z'];
const TSNR2_CLASSES = ['BGS', 'ELG', 'GPBBACKUP', 'GPBBRIGHT', 'GPBDARK', 'LRG', 'LYA', 'QSO'];

/** The 32 columns of redrock's TSNR2 HDU (TARGETID aside): per arm, then summed over the arms. */
export const TSNR2_NAMES: readonly string[] = [...ARMS.flatMap((a) => TSNR2_CLASSES.map((c) => `TSNR2_${c}_${a}`)), ...TSNR2_CLASSES.map((c) => `TSNR2_${c}`)];

/** Every survey's target masks: main's four are in schema.ts; SV1, SV2, SV3 have their own, commissioning one. */
const SURVEY_TARGETS = [...['SV1', 'SV2', 'SV3'].flatMap((s) => ['DESI', 'BGS', 'MWS', 'SCND'].map((k) => `${s}_${k}_TARGET`)), 'CMX_TARGET'];

/** What the default set adds to schema.ts's columns: photometry, imaging bits, target masks of every survey, TSNR2. */
export const DEFAULT_EXTRA_COLUMNS: readonly CatalogColumnDef[] = [
  ...fm('utf8', ['OBJTYPE', 'PHOTSYS']),
  ...fm('int16', ['MASKBITS']),
  ...fm(
    'float32',
    BANDS.map((b) => `FLUX_IVAR_${b}`),
  ),
  ...fm('float32', [...OPTICAL.map((b) => `FIBERFLUX_${b}`), ...OPTICAL.map((b) => `FIBERTOTFLUX_${b}`)]),
  ...fm('int64', SURVEY_TARGETS),
  ...TSNR2_NAMES.map((name): CatalogColumnDef => ({ name, from: 'tsnr2', type: 'float32' })),
];

/**
 * What `all` adds on top of the default: the rest of DR1's coadd FIBERMAP (desi-format.md's 67 columns), in
 * file order, then the four columns later productions add (DESINAME, MIN/MAX/MEAN_MJD; null in DR1 files).
 * Types are the widest DR1 writes (FA_TYPE is uint8 in FITS: int16 here, which holds it losslessly).
 */
export const ALL_EXTRA_COLUMNS: readonly CatalogColumnDef[] = [
  ...fm('float32', ['PMRA', 'PMDEC', 'REF_EPOCH']),
  ...fm('int64', ['FA_TARGET']),
  ...fm('int16', ['FA_TYPE']),
  ...fm('float64', ['SUBPRIORITY']),
  ...fm('int32', ['OBSCONDITIONS']),
  ...fm('int16', ['RELEASE']),
  ...fm('utf8', ['BRICKNAME']),
  ...fm('int32', ['BRICKID', 'BRICK_OBJID']),
  ...fm('utf8', ['MORPHTYPE']),
  ...fm('float32', ['SERSIC', 'SHAPE_R', 'SHAPE_E1', 'SHAPE_E2']),
  ...fm('int64', ['REF_ID']),
  ...fm('utf8', ['REF_CAT']),
  ...fm('float32', ['GAIA_PHOT_G_MEAN_MAG', 'GAIA_PHOT_BP_MEAN_MAG', 'GAIA_PHOT_RP_MEAN_MAG', 'PARALLAX']),
  ...fm('int64', ['PRIORITY_INIT', 'NUMOBS_INIT']),
  ...fm('float64', ['PLATE_RA', 'PLATE_DEC']),
  ...fm('int16', ['COADD_NUMNIGHT', 'COADD_NUMTILE']),
  ...fm('float32', ['MEAN_DELTA_X', 'RMS_DELTA_X', 'MEAN_DELTA_Y', 'RMS_DELTA_Y']),
  ...fm('float64', ['MEAN_FIBER_RA']),
  ...fm('float32', ['STD_FIBER_RA']),
  ...fm('float64', ['MEAN_FIBER_DEC']),
  ...fm('float32', ['STD_FIBER_DEC', 'MEAN_PSF_TO_FIBER_SPECFLUX']),
  ...fm('utf8', ['DESINAME']),
  ...fm('float64', ['MIN_MJD', 'MAX_MJD', 'MEAN_MJD']),
];

/** Parses `--columns`; throws a plain Error (a usage error) naming the choices. */
export function parseColumnSet(v: string | undefined): ColumnSet {
  const s = (v ?? 'default').trim().toLowerCase();
  if ((COLUMN_SETS as readonly string[]).includes(s)) return s as ColumnSet;
  throw new Error(`--columns ${JSON.stringify(v)} is not a column set: use ${COLUMN_SETS.join(' or ')}`);
}
