/**
 * The emission-line afterburner of a synthetic tile, beside its coadd and redrock: `emline-S-P-N.fits`, HDU
 * EMLINEFIT, with DESI's columns (desi-science.md): TARGETID, Z, ZWARN, SPECTYPE, DELTACHI2, TARGET_RA/DEC,
 * OBJTYPE, then per line (OII HDELTA HGAMMA HBETA OIII HALPHA) eleven float32 fit values and NDOF (int32).
 * Its rows are in a shuffled order of their own (seeded: neither FIBERMAP's, REDSHIFTS' nor the QSO
 * afterburners'), so a reader must match them by TARGETID. The values are random but known (seeded), with
 * NaNs and negative zeros among them, so an exact reader is told from a loose one.
 *
 * `spec.emline === 'mismatch'` writes a file whose TARGETID set differs from REDSHIFTS' (its last row's
 * TARGETID replaced by one no target has): a converter reading it must fail the tile naming both files.
 */
import type { ColumnValues } from '../fits/encode.js';
import type { ColumnSpec } from '../fits/hdu-spec.js';
import type { TileCatalog } from './catalog.js';
import { parseColumns } from './columns.js';
import { writeTableFile } from './files.js';
import { afterburnerStem } from './afterburners.js';
import { mixSeed, Rng } from './random.js';
import type { SynthTileSpec } from './types.js';

export const EMLINE_LINES = ['OII', 'HDELTA', 'HGAMMA', 'HBETA', 'OIII', 'HALPHA'] as const;
const FLOATS = ['FLUX', 'FLUX_IVAR', 'SIGMA', 'SIGMA_IVAR', 'CONT', 'CONT_IVAR', 'SHARE', 'SHARE_IVAR', 'EW', 'EW_IVAR', 'CHI2'];

export function emlineColumns(): ColumnSpec[] {
  const lines = EMLINE_LINES.map((l) => [...FLOATS.map((q) => `${l}_${q}:E`), `${l}_NDOF:J`].join(' ')).join(' ');
  return parseColumns(`TARGETID:K Z:D ZWARN:K SPECTYPE:6A DELTACHI2:D TARGET_RA:D TARGET_DEC:D OBJTYPE:3A ${lines}`);
}

/** A seeded shuffle of the rows (Fisher–Yates). */
function shuffled(n: number, rng: Rng): Int32Array {
  const p = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** Writes the tile's emline file into `dir`; returns its size in bytes. */
export async function writeEmline(dir: string, spec: SynthTileSpec, catalog: TileCatalog): Promise<number> {
  const n = spec.targets;
  const rng = new Rng(mixSeed(spec.seed, spec.healpix, 0xe311, n));
  const order = shuffled(n, rng);
  const rowOf = new Int32Array(n);
  catalog.redshiftsOrder.forEach((i, r) => (rowOf[i] = r));
  const fm = catalog.fibermap;
  const rs = catalog.redshifts;
  const tid = BigInt64Array.from(order, (i) => (fm.TARGETID as BigInt64Array)[i]);
  if (spec.emline === 'mismatch' && n > 0) tid[n - 1] = 7_000_000_000_000_000n + BigInt(spec.healpix);
  const f64 = (f: (i: number) => number) => Float64Array.from(order, (i) => f(i));
  const values: Record<string, ColumnValues> = {
    TARGETID: tid,
    Z: f64((i) => (rs.Z as Float64Array)[rowOf[i]] + 1e-5),
    ZWARN: BigInt64Array.from(order, (i) => (rs.ZWARN as BigInt64Array | undefined)?.[rowOf[i]] ?? 0n),
    SPECTYPE: Array.from(order, (i) => (rs.SPECTYPE as string[])[rowOf[i]].slice(0, 6)),
    DELTACHI2: f64((i) => (rs.DELTACHI2 as Float64Array | undefined)?.[rowOf[i]] ?? 0),
    TARGET_RA: f64((i) => (fm.TARGET_RA as Float64Array)[i]),
    TARGET_DEC: f64((i) => (fm.TARGET_DEC as Float64Array)[i]),
    OBJTYPE: Array.from(order, (i) => (fm.OBJTYPE as string[] | undefined)?.[i] ?? 'TGT'),
  };
  for (const l of EMLINE_LINES) {
    for (const q of FLOATS) {
      values[`${l}_${q}`] = Float32Array.from(order, () => {
        const u = rng.float();
        // A few NaNs (a failed fit) and negative zeros: an exact reader keeps both as they are.
        return u < 0.04 ? NaN : u < 0.06 ? -0 : rng.range(-5, 50);
      });
    }
    values[`${l}_NDOF`] = Int32Array.from(order, () => rng.int(200));
  }
  return writeTableFile(`${dir}/emline-${afterburnerStem(spec)}`, { extname: 'EMLINEFIT', columns: emlineColumns(), nrows: n }, values);
}
