import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { seedDryRunSpecs, synthTree, type SynthReport } from '../src/synth/index.js';

/**
 * The bench's dataset, shaped like the seed's dry run (40 tiles, 1.5–880 MB coadds, 7.7 GB at scale 1, 0–234
 * good quasars per tile, 15 tiles with none). Built once per scale and cached under bench/.cache/.
 */
export async function benchDataset(cacheRoot: string, scale: number): Promise<{ root: string; report: SynthReport }> {
  const root = join(cacheRoot, `seed-dry-run-scale-${scale}`);
  const marker = join(root, 'synth-report.json');
  if (existsSync(marker)) return { root, report: JSON.parse(await readFile(marker, 'utf8')) as SynthReport };
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const t0 = Date.now();
  process.stderr.write(`bench: writing the seed-shaped dataset at scale ${scale} under ${root} (once)...\n`);
  const report = await synthTree({ out: join(root, 'tree'), tiles: seedDryRunSpecs({ scale }), wavelength: 'full' });
  await writeFile(marker, JSON.stringify(report));
  process.stderr.write(`bench: wrote ${(report.totalBytes / 1e9).toFixed(2)} GB in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return { root, report };
}
