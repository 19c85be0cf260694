/**
 * The dataset's output paths read back: which tile a relative path under --out belongs to. Stores use it to
 * tell the tool's own dataset files (and uploads) from anything else that lives under the same prefix.
 */
import { parseCumulativeOutputPath } from './cumulative.js';
import { isHealpix, outputPath, type TileId } from './layout.js';

/**
 * The tile of `{survey}/{program}/{pixgroup}/{survey}-{program}-{healpix}.parquet` (the inverse of
 * layout.ts's outputPath, pixgroup = floor(healpix / 100) checked); undefined for any other path: another
 * file name, a pixgroup that does not hold the pixel, a healpix with leading zeros or past nside 64's last.
 */
export function parseOutputPath(rel: string): TileId | undefined {
  // The tile layout's `cumulative/{TILEID}/cumulative-{TILEID}-{PETAL}.parquet`: the path does not say
  // LASTNIGHT (0 here); tileKey and outputPath of the result are the unit's.
  const unit = parseCumulativeOutputPath(rel);
  if (unit) return { survey: '', program: '', healpix: -1, cumulative: { ...unit, lastnight: 0 } };
  const segs = rel.split('/');
  if (segs.length !== 4) return undefined;
  const [survey, program, , file] = segs;
  if (survey === '' || program === '') return undefined;
  const stem = `${survey}-${program}-`;
  if (!file.startsWith(stem) || !file.endsWith('.parquet')) return undefined;
  const digits = file.slice(stem.length, -'.parquet'.length);
  if (!/^(?:0|[1-9]\d*)$/.test(digits)) return undefined;
  const healpix = Number(digits);
  if (!isHealpix(healpix)) return undefined;
  const tile = { survey, program, healpix };
  // The pixgroup folder, and every other part, must be exactly what outputPath writes.
  return outputPath(tile) === rel ? tile : undefined;
}
