/**
 * The hostile-FITS corpus (test/hostile/, made by scripts/make-hostile-fits.py): its index, and a runnable
 * tile tree written from it. The committed files are gzip-compressed and hold only each tile's broken file;
 * the other file of every tile is the base partner. `node dist/test/hostile/corpus.js DIR` writes the tree
 * that `desi-qad convert --source DIR` reads.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** test/hostile/ in the source tree, from dist/test/hostile/ or test/hostile/. */
export const HOSTILE_DIR = fileURLToPath(new URL(import.meta.url.includes('/dist/test/') ? '../../../test/hostile/' : './', import.meta.url));

export type HostileRole = 'coadd' | 'redrock';

/** One case: a tile whose `file` is broken as `case` says; `expect` lists the right outcomes. */
export interface HostileCase {
  id: string;
  /** "main/dark/1000" */
  tile: string;
  file: HostileRole;
  case: string;
  /** Error classes (FitsError/DesiError codes) that are right, or ["ok"] / ["empty"]. */
  expect: string[];
  /** For failures: the file the message must name, and names of the HDU (any one of them) it must hold. */
  message?: { file: HostileRole; hdu: string[] };
  note?: string;
  /** The broken file, relative to test/hostile/, gzip-compressed. */
  path: string;
  /** Size and sha256 of the uncompressed broken file. */
  bytes: number;
  sha256: string;
}

export interface HostileIndex {
  about: string;
  base: Record<HostileRole, { path: string; bytes: number; sha256: string }>;
  cases: HostileCase[];
}

/** The parsed test/hostile/index.json. */
export async function loadHostileIndex(): Promise<HostileIndex> {
  return JSON.parse(await readFile(join(HOSTILE_DIR, 'index.json'), 'utf8')) as HostileIndex;
}

/** The healpix number of a case's tile. */
export function casePixel(c: HostileCase): number {
  return Number(c.tile.split('/')[2]);
}

/** The file name of a case's coadd or redrock ("coadd-main-dark-1000.fits"). */
export function caseFileName(c: HostileCase, role: HostileRole): string {
  const [survey, program, pixel] = c.tile.split('/');
  return `${role}-${survey}-${program}-${pixel}.fits`;
}

/** A case's file relative to a tree root: {survey}/{program}/{pixgroup}/{pixnum}/{role}-….fits. */
export function caseFilePath(c: HostileCase, role: HostileRole): string {
  const [survey, program, pixel] = c.tile.split('/');
  return `${survey}/${program}/${Math.floor(Number(pixel) / 100)}/${pixel}/${caseFileName(c, role)}`;
}

async function gunzipChecked(rel: string, sha256: string, bytes: number): Promise<Buffer> {
  const data = gunzipSync(await readFile(join(HOSTILE_DIR, rel)));
  const sum = createHash('sha256').update(data).digest('hex');
  if (data.byteLength !== bytes || sum !== sha256) {
    throw new Error(`${rel}: ${data.byteLength} bytes with sha256 ${sum}, the index says ${bytes} and ${sha256}: regenerate with scripts/make-hostile-fits.py`);
  }
  return data;
}

/**
 * The uncompressed (coadd, redrock) bytes of a case's tile: its broken file and the base partner. Each file
 * is checked against the index's size and sha256, so a corpus edited by hand is caught.
 */
export async function caseFiles(index: HostileIndex, c: HostileCase): Promise<Record<HostileRole, Buffer>> {
  const partner: HostileRole = c.file === 'coadd' ? 'redrock' : 'coadd';
  const b = index.base[partner];
  const [broken, other] = await Promise.all([gunzipChecked(c.path, c.sha256, c.bytes), gunzipChecked(b.path, b.sha256, b.bytes)]);
  return c.file === 'coadd' ? { coadd: broken, redrock: other } : { coadd: other, redrock: broken };
}

/** The uncompressed base pair (the partner of every case), checked against the index. */
export async function baseFiles(index: HostileIndex): Promise<Record<HostileRole, Buffer>> {
  const [coadd, redrock] = await Promise.all(
    (['coadd', 'redrock'] as const).map((r) => gunzipChecked(index.base[r].path, index.base[r].sha256, index.base[r].bytes)),
  );
  return { coadd, redrock };
}

/**
 * Writes the runnable tile tree of the given cases (all by default) under `dest`, laid out like DESI's
 * healpix tree, and returns the cases written.
 */
export async function materializeHostileTree(dest: string, cases?: HostileCase[]): Promise<HostileCase[]> {
  const index = await loadHostileIndex();
  const chosen = cases ?? index.cases;
  for (const c of chosen) {
    const files = await caseFiles(index, c);
    for (const role of ['coadd', 'redrock'] as const) {
      const path = join(dest, caseFilePath(c, role));
      await mkdir(resolve(path, '..'), { recursive: true });
      await writeFile(path, files[role]);
    }
  }
  return chosen;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const dest = process.argv[2];
  if (!dest) {
    process.stderr.write('usage: node dist/test/hostile/corpus.js DEST-DIR\n');
    process.exit(2);
  }
  materializeHostileTree(dest).then(
    (written) => process.stdout.write(`${written.length} tiles written under ${resolve(dest)} (survey main, program dark)\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
