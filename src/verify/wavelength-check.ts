/**
 * The dataset's wavelength table (`_wavelength/wavelength.parquet`) against its files: it is there when any
 * file is, it decodes and holds the grid its footer names, and every file's footer names that grid's hash.
 * Reads the table whole (a few tens of KB) and nothing else: the files' footers were read before.
 */
import { gridSha256, readWavelengthFile, WAVELENGTH_REL } from '../desi/wavelength.js';
import { S3Error } from '../storage/s3-client.js';
import type { OkTile } from './checks.js';
import type { DatasetFiles, ListedFile } from './dataset-files.js';
import { finding, type Finding } from './findings.js';

export async function checkWavelengths(files: DatasetFiles, listing: ReadonlyMap<string, ListedFile>, okTiles: Iterable<OkTile>): Promise<Finding[]> {
  const withFooters = [...okTiles].filter((t) => t.info !== undefined).sort((a, b) => (a.path < b.path ? -1 : 1));
  const listed = listing.get(WAVELENGTH_REL);
  if (!listed) {
    if (withFooters.length === 0) return [];
    return [finding('wavelength-missing', `${withFooters.length} file(s) hold spectra, but the dataset has no wavelength table`, { path: WAVELENGTH_REL })];
  }
  let sha: string;
  try {
    const file = await files.open(WAVELENGTH_REL, listed);
    let bytes: Uint8Array;
    try {
      bytes = await file.slice(0, listed.size);
    } finally {
      await file.close();
    }
    const table = readWavelengthFile(bytes, WAVELENGTH_REL);
    sha = gridSha256(table.grids);
    if (sha !== table.footerSha256) {
      return [finding('bad-wavelength', `it holds grids of sha256 ${sha}, its footer names ${table.footerSha256}`, { path: WAVELENGTH_REL })];
    }
  } catch (err) {
    if (err instanceof S3Error && err.fatal) throw err;
    return [finding('bad-wavelength', (err as Error).message, { path: WAVELENGTH_REL })];
  }
  const findings: Finding[] = [];
  for (const t of withFooters) {
    const named = t.info!.wavelengthSha256;
    if (named === sha) continue;
    findings.push(
      finding(
        'wavelength-mismatch',
        named === undefined
          ? `its footer names no wavelength grid (a file of an older version, whose footer held the grid itself), the dataset's table is ${sha.slice(0, 16)}…`
          : `its footer names the wavelength grid ${named.slice(0, 16)}…, the dataset's table holds ${sha.slice(0, 16)}…`,
        { tile: t.rec.tile, path: t.path },
      ),
    );
  }
  return findings;
}
