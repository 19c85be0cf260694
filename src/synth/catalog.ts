/**
 * The catalog side of a synthetic tile: who the targets are (FIBERMAP, EXP_FIBERMAP, SCORES, TSNR2) and
 * what redrock says about them (REDSHIFTS, in a different row order than FIBERMAP).
 */
import type { ColumnValues } from '../fits/encode.js';
import type { ColumnSpec } from '../fits/hdu-spec.js';
import { EXP_FIBERMAP_COLUMNS, fibermapColumnsOf, REDSHIFTS_COLUMNS, SCORES_COLUMNS, TSNR2_COLUMNS, TSNR2_NAMES, targetColumnsOf } from './columns.js';
import { HPX_NSIDE, pixelCenter } from './healpix.js';
import { exposuresOf, MAX_EXPOSURES } from './layout.js';
import { mixSeed, Rng } from './random.js';
import type { SynthTileSpec } from './types.js';

/** What redrock makes of a target: a good quasar (QSO, ZWARN 0), a flagged quasar, a galaxy or a star. */
export type TargetKind = 'goodQso' | 'badQso' | 'galaxy' | 'star';

export interface TileCatalog {
  /** Kind of each FIBERMAP row. */
  kinds: TargetKind[];
  /** Redshift of each FIBERMAP row (used to place emission lines in the spectra). */
  z: Float64Array;
  /** 1 for FIBERMAP rows whose spectra carry NaN, ±inf, -0.0 and denormal values. */
  specials: Uint8Array;
  /** REDSHIFTS row r describes FIBERMAP row redshiftsOrder[r]. */
  redshiftsOrder: Int32Array;
  fibermap: Record<string, ColumnValues>;
  expFibermap: Record<string, ColumnValues>;
  scores: Record<string, ColumnValues>;
  tsnr2: Record<string, ColumnValues>;
  redshifts: Record<string, ColumnValues>;
}

/** A stable 32-bit hash of a string (for mixing survey/program names into seeds). */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The root seed of a tile: its spec seed mixed with its identity. */
export function tileSeed(spec: SynthTileSpec): number {
  return mixSeed(spec.seed, spec.healpix, hashString(spec.survey), hashString(spec.program));
}

/** An empty column of `rows` rows of the array type the FITS writer takes for its TFORM. */
function allocate(c: ColumnSpec, rows: number): ColumnValues {
  const n = rows * (c.repeat ?? 1);
  switch (c.tform) {
    case 'L':
      return new Array<boolean>(n).fill(false);
    case 'B':
      return new Uint8Array(n);
    case 'I':
      return new Int16Array(n);
    case 'J':
      return new Int32Array(n);
    case 'K':
      return new BigInt64Array(n);
    case 'A':
      return new Array<string>(rows).fill('');
    case 'E':
      return new Float32Array(n);
    case 'D':
      return new Float64Array(n);
  }
}

function allocateAll(columns: ColumnSpec[], rows: number): Record<string, ColumnValues> {
  return Object.fromEntries(columns.map((c) => [c.name, allocate(c, rows)]));
}

type Num = Float32Array | Float64Array | Int16Array | Int32Array | Uint8Array;
const num = (t: Record<string, ColumnValues>, name: string): Num => t[name] as Num;
const big = (t: Record<string, ColumnValues>, name: string): BigInt64Array => t[name] as BigInt64Array;
const str = (t: Record<string, ColumnValues>, name: string): string[] => t[name] as string[];

/** Target bits used here (desitarget): LRG 0, ELG 1, QSO 2, BGS_ANY 60, MWS_ANY 61, SCND_ANY 62. */
const BIT = { LRG: 1n, ELG: 2n, QSO: 4n, BGS_ANY: 1n << 60n, MWS_ANY: 1n << 61n, SCND_ANY: 1n << 62n };

/** Which FIBERMAP rows are which kind: exactly `goodQso` good quasars, some flagged ones, galaxies, stars. */
function assignKinds(spec: SynthTileSpec, rng: Rng): TargetKind[] {
  const order = rng.shuffle(Array.from({ length: spec.targets }, (_, i) => i));
  const kinds = new Array<TargetKind>(spec.targets);
  order.forEach((row, k) => {
    if (k < spec.goodQso) kinds[row] = 'goodQso';
    else if (k === spec.goodQso)
      kinds[row] = 'badQso'; // at least one flagged QSO whenever there is room
    else {
      const u = rng.float();
      kinds[row] = u < 0.2 ? 'badQso' : u < 0.75 ? 'galaxy' : 'star';
    }
  });
  return kinds;
}

/** A permutation of 0..n-1 that is not the identity when n > 1. */
function shuffledOrder(n: number, rng: Rng): Int32Array {
  const order = Int32Array.from(rng.shuffle(Array.from({ length: n }, (_, i) => i)));
  if (n > 1 && order.every((v, i) => v === i)) [order[0], order[1]] = [order[1], order[0]];
  return order;
}

function brickName(ra: number, dec: number): string {
  const r = String(Math.floor(ra * 10) % 3600).padStart(4, '0');
  return `${r}${dec >= 0 ? 'p' : 'm'}${String(Math.min(999, Math.floor(Math.abs(dec) * 10))).padStart(3, '0')}`;
}

/** Builds every table of a tile from its spec; deterministic for the spec. */
export function buildCatalog(spec: SynthTileSpec, nwaveTotal: number): TileCatalog {
  const n = spec.targets;
  const rng = new Rng(tileSeed(spec));
  const kinds = assignKinds(spec, rng);
  const center = pixelCenter(HPX_NSIDE, spec.healpix);
  const cosDec = Math.max(0.05, Math.cos((center.dec * Math.PI) / 180));
  const bright = spec.program === 'bright';

  const fm = allocateAll(fibermapColumnsOf(spec.survey), n);
  const targetColumns = targetColumnsOf(spec.survey);
  const z = new Float64Array(n);
  const specials = new Uint8Array(n);
  const nexp = Int32Array.from({ length: n }, (_, i) => exposuresOf(spec, i));
  const brickBase = 300000 + rng.int(300000);
  let objid = 100 + rng.int(5000);
  let firstGood = true;

  for (let i = 0; i < n; i++) {
    const kind = kinds[i];
    const isQso = kind === 'goodQso' || kind === 'badQso';
    const south = rng.float() < 0.6;
    const release = south ? 9010 : 9011;
    const brickid = brickBase + rng.int(4);
    objid += 1 + rng.int(400);
    // Most TARGETIDs are Legacy Surveys ones (RELEASE << 42 | BRICKID << 22 | OBJID), far above 2^53;
    // a few secondary targets without imaging get small ones.
    const small = i % 17 === 5;
    const targetid = small ? (BigInt(brickid) << 22n) | BigInt(objid) : (BigInt(release) << 42n) | (BigInt(brickid) << 22n) | BigInt(objid);
    big(fm, 'TARGETID')[i] = targetid;

    const ra = (((center.ra + rng.range(-0.4, 0.4) / cosDec) % 360) + 360) % 360;
    const dec = Math.max(-89.99, Math.min(89.99, center.dec + rng.range(-0.4, 0.4)));
    num(fm, 'TARGET_RA')[i] = ra;
    num(fm, 'TARGET_DEC')[i] = dec;
    num(fm, 'PLATE_RA')[i] = ra + rng.normal() * 1e-6;
    num(fm, 'PLATE_DEC')[i] = dec + rng.normal() * 1e-6;
    num(fm, 'MEAN_FIBER_RA')[i] = ra + rng.normal() * 2e-5;
    num(fm, 'MEAN_FIBER_DEC')[i] = dec + rng.normal() * 2e-5;
    num(fm, 'STD_FIBER_RA')[i] = Math.abs(rng.normal()) * 1e-5;
    num(fm, 'STD_FIBER_DEC')[i] = Math.abs(rng.normal()) * 1e-5;
    num(fm, 'COADD_FIBERSTATUS')[i] = rng.float() < 0.9 ? 0 : rng.pick([1 << 8, 1 << 23, 1 << 24, (1 << 23) | 4]);

    let desi = 0n;
    let bgs = 0n;
    let mws = 0n;
    let scnd = 0n;
    if (isQso) desi = BIT.QSO;
    else if (kind === 'galaxy') desi = bright ? BIT.BGS_ANY : rng.pick([BIT.LRG, BIT.ELG, BIT.ELG | (1n << 5n)]);
    else desi = BIT.MWS_ANY;
    if (bright && kind === 'galaxy') bgs = rng.pick([1n, 2n, 4n]);
    if (kind === 'star') mws = rng.pick([1n, 2n, 1n << 8n, 1n << 33n]);
    if (rng.float() < 0.1) {
      desi |= BIT.SCND_ANY;
      scnd = rng.pick([1n, 1n << 7n, 1n << 40n]);
    }
    writeTargets(fm, targetColumns, i, [desi, bgs, mws, scnd]);
    big(fm, 'FA_TARGET')[i] = desi;
    num(fm, 'FA_TYPE')[i] = kind === 'star' ? 4 : 1;
    str(fm, 'OBJTYPE')[i] = 'TGT';
    num(fm, 'SUBPRIORITY')[i] = rng.float();
    num(fm, 'OBSCONDITIONS')[i] = bright ? 4 : spec.program === 'backup' ? 8 : 3;
    num(fm, 'RELEASE')[i] = small ? 0 : release;
    str(fm, 'BRICKNAME')[i] = brickName(ra, dec);
    num(fm, 'BRICKID')[i] = brickid;
    num(fm, 'BRICK_OBJID')[i] = objid;
    const pointLike = kind !== 'galaxy';
    str(fm, 'MORPHTYPE')[i] = pointLike ? 'PSF' : rng.pick(['REX', 'EXP', 'DEV', 'SER']);
    num(fm, 'EBV')[i] = rng.range(0.005, 0.12);
    const bands = ['G', 'R', 'Z', 'W1', 'W2'];
    const brightness = Math.exp(rng.range(-1, 3.5));
    bands.forEach((b, k) => {
      num(fm, `FLUX_${b}`)[i] = brightness * (0.6 + 0.25 * k) + rng.normal() * 0.1;
      num(fm, `FLUX_IVAR_${b}`)[i] = rng.range(5, 800) / (1 + k * k);
    });
    for (const b of ['G', 'R', 'Z']) {
      num(fm, `FIBERFLUX_${b}`)[i] = num(fm, `FLUX_${b}`)[i] * (pointLike ? 0.78 : rng.range(0.2, 0.6));
      num(fm, `FIBERTOTFLUX_${b}`)[i] = num(fm, `FIBERFLUX_${b}`)[i] * rng.range(1, 1.2);
    }
    num(fm, 'MASKBITS')[i] = rng.float() < 0.85 ? 0 : rng.pick([2, 2048, 4096, 8192]);
    num(fm, 'SERSIC')[i] = pointLike ? 0 : rng.range(0.5, 6);
    num(fm, 'SHAPE_R')[i] = pointLike ? 0 : rng.range(0.3, 4);
    num(fm, 'SHAPE_E1')[i] = pointLike ? 0 : rng.range(-0.4, 0.4);
    num(fm, 'SHAPE_E2')[i] = pointLike ? 0 : rng.range(-0.4, 0.4);
    const gaia = kind === 'star' || rng.float() < 0.1;
    // Gaia source ids are above 2^53 too.
    big(fm, 'REF_ID')[i] = gaia ? 1000000000000000000n + BigInt(rng.u32()) * 1000003n + BigInt(i) : -1n;
    str(fm, 'REF_CAT')[i] = gaia ? 'G2' : '';
    num(fm, 'GAIA_PHOT_G_MEAN_MAG')[i] = gaia ? rng.range(14, 20.5) : 0;
    num(fm, 'GAIA_PHOT_BP_MEAN_MAG')[i] = gaia ? rng.range(14, 21) : 0;
    num(fm, 'GAIA_PHOT_RP_MEAN_MAG')[i] = gaia ? rng.range(13, 20) : 0;
    num(fm, 'PARALLAX')[i] = gaia ? rng.range(-0.5, 3) : 0;
    num(fm, 'PMRA')[i] = kind === 'star' ? rng.normal() * 10 : 0;
    num(fm, 'PMDEC')[i] = kind === 'star' ? rng.normal() * 10 : 0;
    num(fm, 'REF_EPOCH')[i] = gaia ? 2015.5 : 0;
    str(fm, 'PHOTSYS')[i] = south ? 'S' : 'N';
    big(fm, 'PRIORITY_INIT')[i] = isQso ? 3400n : kind === 'galaxy' ? 3200n : 1500n;
    big(fm, 'NUMOBS_INIT')[i] = isQso ? 4n : 1n;
    const e = nexp[i];
    num(fm, 'COADD_NUMEXP')[i] = e;
    num(fm, 'COADD_EXPTIME')[i] = e * rng.range(800, 1100);
    num(fm, 'COADD_NUMNIGHT')[i] = Math.max(1, e - rng.int(2));
    num(fm, 'COADD_NUMTILE')[i] = Math.max(1, e - 1 - rng.int(2));
    num(fm, 'MEAN_DELTA_X')[i] = rng.normal() * 0.002;
    num(fm, 'RMS_DELTA_X')[i] = Math.abs(rng.normal()) * 0.004;
    num(fm, 'MEAN_DELTA_Y')[i] = rng.normal() * 0.002;
    num(fm, 'RMS_DELTA_Y')[i] = Math.abs(rng.normal()) * 0.004;
    num(fm, 'MEAN_PSF_TO_FIBER_SPECFLUX')[i] = pointLike ? rng.range(0.75, 0.8) : rng.range(0.3, 0.7);

    z[i] = kind === 'goodQso' || kind === 'badQso' ? rng.range(0.4, 4.2) : kind === 'galaxy' ? rng.range(0.02, 1.6) : rng.normal() * 3e-4;
    // Special float values in some spectra, always in the first good quasar so a selection meets them.
    specials[i] = (kind === 'goodQso' && firstGood) || rng.float() < 0.25 ? 1 : 0;
    if (kind === 'goodQso') firstGood = false;
  }

  return {
    kinds,
    z,
    specials,
    fibermap: fm,
    expFibermap: buildExpFibermap(spec, fm, nexp, rng),
    ...buildScores(fm, n, rng),
    ...buildRedshifts(spec, fm, kinds, z, nwaveTotal, rng),
  };
}

/**
 * Writes a target's masks (main's DESI, BGS, MWS, SCND values) under the survey's column names: SVn_*_TARGET
 * take the same values (known truths for the tests, not sv bit meanings); cmx's one CMX_TARGET takes the
 * DESI_TARGET value.
 */
function writeTargets(fm: Record<string, ColumnValues>, names: string[], i: number, values: bigint[]): void {
  names.forEach((name, k) => (big(fm, name)[i] = values[k]));
}

/** One EXP_FIBERMAP row per (exposure, target), grouped by exposure like desispec writes them. */
function buildExpFibermap(spec: SynthTileSpec, fm: Record<string, ColumnValues>, nexp: Int32Array, rng: Rng): Record<string, ColumnValues> {
  const n = nexp.length;
  const rows = nexp.reduce((s, v) => s + v, 0);
  const t = allocateAll(EXP_FIBERMAP_COLUMNS, rows);
  const baseExpid = 70000 + rng.int(100000);
  const baseNight = 20210514 + rng.int(15);
  const tileid = 1000 + rng.int(40000);
  const fiber = Int32Array.from({ length: n }, () => rng.int(5000));
  let r = 0;
  for (let e = 0; e < MAX_EXPOSURES; e++) {
    const mjd = 59348.1 + e * 1.05 + rng.float() * 0.1;
    for (let i = 0; i < n; i++) {
      if (nexp[i] <= e) continue;
      const f = fiber[i];
      big(t, 'TARGETID')[r] = big(fm, 'TARGETID')[i];
      num(t, 'PRIORITY')[r] = Number(big(fm, 'PRIORITY_INIT')[i]);
      num(t, 'SUBPRIORITY')[r] = num(fm, 'SUBPRIORITY')[i];
      num(t, 'NIGHT')[r] = baseNight + e;
      num(t, 'EXPID')[r] = baseExpid + e * 7;
      num(t, 'MJD')[r] = mjd;
      num(t, 'TILEID')[r] = tileid + (e >> 1);
      num(t, 'EXPTIME')[r] = rng.range(800, 1100);
      num(t, 'PETAL_LOC')[r] = Math.floor(f / 500);
      num(t, 'DEVICE_LOC')[r] = f % 500;
      big(t, 'LOCATION')[r] = BigInt(Math.floor(f / 500) * 1000 + (f % 500));
      num(t, 'FIBER')[r] = f;
      num(t, 'FIBERSTATUS')[r] = rng.float() < 0.95 ? 0 : 1 << 8;
      num(t, 'FIBERASSIGN_X')[r] = rng.range(-400, 400);
      num(t, 'FIBERASSIGN_Y')[r] = rng.range(-400, 400);
      num(t, 'LAMBDA_REF')[r] = 5400;
      num(t, 'PLATE_RA')[r] = num(fm, 'PLATE_RA')[i];
      num(t, 'PLATE_DEC')[r] = num(fm, 'PLATE_DEC')[i];
      big(t, 'NUM_ITER')[r] = 2n;
      num(t, 'FIBER_X')[r] = rng.range(-400, 400);
      num(t, 'FIBER_Y')[r] = rng.range(-400, 400);
      num(t, 'DELTA_X')[r] = rng.normal() * 0.003;
      num(t, 'DELTA_Y')[r] = rng.normal() * 0.003;
      num(t, 'FIBER_RA')[r] = num(fm, 'TARGET_RA')[i] + rng.normal() * 2e-5;
      num(t, 'FIBER_DEC')[r] = num(fm, 'TARGET_DEC')[i] + rng.normal() * 2e-5;
      num(t, 'PSF_TO_FIBER_SPECFLUX')[r] = rng.range(0.3, 0.8);
      r++;
    }
  }
  return t;
}

/** SCORES (coadd) and TSNR2 (redrock) with the same TSNR2_* values. */
function buildScores(fm: Record<string, ColumnValues>, n: number, rng: Rng): { scores: Record<string, ColumnValues>; tsnr2: Record<string, ColumnValues> } {
  const scores = allocateAll(SCORES_COLUMNS, n);
  const tsnr2 = allocateAll(TSNR2_COLUMNS, n);
  (scores.TARGETID as BigInt64Array).set(fm.TARGETID as BigInt64Array);
  (tsnr2.TARGETID as BigInt64Array).set(fm.TARGETID as BigInt64Array);
  for (const c of SCORES_COLUMNS) {
    if (c.name === 'TARGETID') continue;
    const col = scores[c.name] as Float32Array;
    for (let i = 0; i < n; i++) col[i] = Math.exp(rng.range(-2, 6));
  }
  for (const name of TSNR2_NAMES) (tsnr2[name] as Float32Array).set(scores[name] as Float32Array);
  return { scores, tsnr2 };
}

const STAR_SUBTYPES = ['K', 'G', 'F', 'M', 'WD', 'A'];
/** ZWARN values of flagged quasars: SMALL_DELTA_CHI2, +Z_FITLIMIT, NODATA, BAD_MINFIT, LOW_DEL_CHI2, BAD_PETALQA. */
const BAD_ZWARN = [4n, 4n | 32n, 512n, 1024n, 1n << 16n, 1n << 19n];

/** REDSHIFTS rows in a shuffled order (never FIBERMAP's), exactly the good quasars with QSO and ZWARN 0. */
function buildRedshifts(
  spec: SynthTileSpec,
  fm: Record<string, ColumnValues>,
  kinds: TargetKind[],
  z: Float64Array,
  nwaveTotal: number,
  rng: Rng,
): { redshifts: Record<string, ColumnValues>; redshiftsOrder: Int32Array } {
  const n = spec.targets;
  const order = shuffledOrder(n, rng);
  const t = allocateAll(REDSHIFTS_COLUMNS, n);
  for (let r = 0; r < n; r++) {
    const i = order[r];
    const kind = kinds[i];
    big(t, 'TARGETID')[r] = big(fm, 'TARGETID')[i];
    num(t, 'Z')[r] = z[i];
    num(t, 'ZERR')[r] = Math.exp(rng.range(-11, -6)) * (1 + z[i]);
    let zwarn = 0n;
    if (kind === 'badQso') zwarn = rng.pick(BAD_ZWARN);
    else if (kind !== 'goodQso' && rng.float() < 0.1) zwarn = 4n;
    big(t, 'ZWARN')[r] = zwarn;
    num(t, 'CHI2')[r] = rng.range(0.8, 1.3) * nwaveTotal;
    const ncoeff = kind === 'galaxy' ? 10 : kind === 'star' ? 5 : 4;
    const coeff = t.COEFF as Float64Array;
    for (let k = 0; k < 10; k++) coeff[r * 10 + k] = k < ncoeff ? rng.normal() * 100 : 0;
    big(t, 'NPIXELS')[r] = BigInt(Math.max(0, nwaveTotal - rng.int(Math.ceil(nwaveTotal * 0.02) + 1)));
    str(t, 'SPECTYPE')[r] = kind === 'galaxy' ? 'GALAXY' : kind === 'star' ? 'STAR' : 'QSO';
    str(t, 'SUBTYPE')[r] = kind === 'star' ? rng.pick(STAR_SUBTYPES) : '';
    big(t, 'NCOEFF')[r] = BigInt(ncoeff);
    // Flagged ones mostly have a small ΔChi²; a few good quasars sit between 9 and 25 (kept by ZWARN==0,
    // dropped by a DELTACHI2 > 25 cut).
    const dchi2 = zwarn & 4n ? rng.range(0.5, 9) : kind === 'goodQso' && rng.float() < 0.15 ? rng.range(9, 25) : Math.exp(rng.range(3.3, 9));
    num(t, 'DELTACHI2')[r] = dchi2;
  }
  return { redshifts: t, redshiftsOrder: order };
}
