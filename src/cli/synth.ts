import type { Argv } from 'yargs';
import { seedDryRunSpecs, smallSpecs, synthTree, tileLayoutSpecs } from '../synth/index.js';
import { mb } from '../pipeline/format.js';
import { EXIT } from '../pipeline/run.js';

export function synthOptions(y: Argv) {
  return y
    .option('out', { type: 'string', demandOption: true, describe: 'root of the healpix tree to write' })
    .option('preset', {
      choices: ['small', 'seed-dry-run'] as const,
      default: 'small' as const,
      describe: "small: a few tiles of a few targets; seed-dry-run: the seed's 40 tiles, 1.5–880 MB each, 7.7 GB in all",
    })
    .option('tiles', { type: 'number', default: 8, describe: 'tiles of the small preset' })
    .option('scale', { type: 'number', default: 1, describe: "multiplies the seed-dry-run preset's sizes (0 < scale <= 1)" })
    .option('seed', { type: 'number', default: 1, describe: 'random seed (same seed, same bytes)' })
    .option('layout', {
      choices: ['healpix', 'tiles'] as const,
      default: 'healpix' as const,
      describe:
        'healpix: {survey}/{program}/{pixgroup}/{pixnum}/; tiles: a tiles/cumulative tree {TILEID}/{LASTNIGHT}/ of the small preset (three petals per tile, one superseded night)',
    })
    .option('short', { type: 'boolean', default: false, describe: 'tiny wavelength grids (tests)' })
    .check((a) => {
      if (!(a.scale > 0 && a.scale <= 1)) throw new Error('--scale must be in (0, 1]');
      if (!Number.isInteger(a.tiles) || a.tiles < 1) throw new Error('--tiles must be a positive integer');
      return true;
    });
}

type SynthArgs = Awaited<ReturnType<typeof synthOptions>['argv']>;

export async function synthCommand(a: SynthArgs): Promise<number> {
  if (a.layout === 'tiles' && a.preset !== 'small') {
    process.stderr.write('desi-qad synth: --layout tiles writes the small preset only (pass --preset small)\n');
    return EXIT.usage;
  }
  const tiles =
    a.layout === 'tiles'
      ? tileLayoutSpecs({ tiles: a.tiles, seed: a.seed, superseded: true })
      : a.preset === 'seed-dry-run'
        ? seedDryRunSpecs({ scale: a.scale, seed: a.seed })
        : smallSpecs({ tiles: a.tiles, seed: a.seed });
  const report = await synthTree({ out: a.out, tiles, wavelength: a.short ? 'short' : 'full' });
  process.stdout.write(`Wrote ${report.tiles.length} tiles (${mb(report.totalBytes)} MB) under ${a.out}\n`);
  return EXIT.ok;
}
