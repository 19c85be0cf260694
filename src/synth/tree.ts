/**
 * `synthTree`: writes DESI-format healpix tiles (coadd + redrock) under a root directory, in DESI's
 * layout {survey}/{program}/{pixgroup}/{pixnum}/.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { plantQsoCases, writeAfterburners } from './afterburners.js';
import { buildCatalog, tileSeed } from './catalog.js';
import { writeEmline } from './emline.js';
import { writeCoadd, writeRedrock } from './files.js';
import { armGrids, type WavelengthMode } from './grids.js';
import { tileDir } from './healpix.js';
import { checkSpec } from './layout.js';
import type { SynthOptions, SynthReport, SynthTileReport, SynthTileSpec } from './types.js';

/** The two file paths of a tile under `root`. */
export function tilePaths(
  root: string,
  spec: Pick<SynthTileSpec, 'survey' | 'program' | 'healpix' | 'cumulative'>,
): { dir: string; coadd: string; redrock: string } {
  const c = spec.cumulative;
  if (c) {
    // The tile layout, written independently of src/desi/cumulative.ts (the oracle discovery is compared with).
    const cdir = join(root, String(c.tileid), String(c.lastnight));
    const cstem = `${c.petal}-${c.tileid}-thru${c.lastnight}.fits`;
    return { dir: cdir, coadd: join(cdir, `coadd-${cstem}`), redrock: join(cdir, `redrock-${cstem}`) };
  }
  const dir = join(root, tileDir(spec.survey, spec.program, spec.healpix));
  const stem = `${spec.survey}-${spec.program}-${spec.healpix}.fits`;
  return { dir, coadd: join(dir, `coadd-${stem}`), redrock: join(dir, `redrock-${stem}`) };
}

/** Writes one tile's coadd and redrock files; returns what was written. */
export async function synthTile(root: string, spec: SynthTileSpec, mode: WavelengthMode = 'full'): Promise<SynthTileReport> {
  checkSpec(spec);
  const paths = tilePaths(root, spec);
  await mkdir(paths.dir, { recursive: true });
  const nwaveTotal = armGrids(mode).reduce((s, g) => s + g.nwave, 0);
  const catalog = buildCatalog(spec, nwaveTotal);
  if (spec.qsoCases) plantQsoCases(spec, catalog);
  await writeAfterburners(paths.dir, spec, catalog);
  if (spec.emline !== 'none') await writeEmline(paths.dir, spec, catalog);
  const coaddBytes = await writeCoadd(paths.coadd, spec, mode, catalog, tileSeed(spec));
  const redrockBytes = await writeRedrock(paths.redrock, spec, catalog);
  return {
    ...(spec.cumulative ? { cumulative: { ...spec.cumulative } } : {}),
    survey: spec.survey,
    program: spec.program,
    healpix: spec.healpix,
    coaddPath: paths.coadd,
    redrockPath: paths.redrock,
    coaddBytes,
    redrockBytes,
    targets: spec.targets,
    goodQso: spec.goodQso,
  };
}

/**
 * Writes every tile of `opts.tiles` under `opts.out` (one after the other: the disk is the bottleneck)
 * and reports the paths and sizes. Same specs, same bytes.
 */
export async function synthTree(opts: SynthOptions): Promise<SynthReport> {
  const seen = new Set<string>();
  for (const spec of opts.tiles) {
    checkSpec(spec);
    const c = spec.cumulative;
    const key = c ? `tile ${c.tileid} petal ${c.petal} thru ${c.lastnight}` : `${spec.survey}/${spec.program}/${spec.healpix}`;
    if (seen.has(key)) throw new Error(`synth: tile ${key} is listed twice`);
    seen.add(key);
  }
  const tiles: SynthTileReport[] = [];
  for (const spec of opts.tiles) tiles.push(await synthTile(opts.out, spec, opts.wavelength ?? 'full'));
  return { tiles, totalBytes: tiles.reduce((s, t) => s + t.coaddBytes + t.redrockBytes, 0) };
}
