/**
 * The costs fixture of N tiles served by the lean S3 server (src/dev/lean-s3-server.ts, read-only over a
 * folder), so that the S3 rows of the costs section can be timed against a server that is not the
 * bottleneck as well as against s3rver. The folder `{base}/lean/` holds hard links to the local fixture's
 * tree and Parquet files (same sizes and times, no copies) and an S3 journal segment: the lean server's
 * ETags are its own (not s3rver's MD5s), so the journal's source fingerprints are taken from a discovery
 * through the lean server itself, then the server is started again over the folder with the segment in it.
 */
import { existsSync } from 'node:fs';
import { link, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOCAL_S3_CREDENTIALS } from '../src/dev/local-s3.js';
import { startLeanS3, type LeanS3 } from '../src/dev/lean-s3-server.js';
import { tileKey } from '../src/desi/layout.js';
import { sourceFingerprint } from '../src/desi/fingerprint.js';
import type { JournalRecord } from '../src/storage/journal-store.js';
import { makeS3Client } from '../src/storage/s3-client.js';
import { recordName, segmentOf, timeStamp } from '../src/storage/s3-journal.js';
import { S3TileStore } from '../src/storage/s3-tree.js';
import { COST_BUCKET, COST_PROGRAMS, COST_SURVEYS, type CostFixture } from './cost-fixture.js';

/** Hard-links every file under `from` into `to` (same tree), but the folders named in `skip`. */
async function linkTree(from: string, to: string, skip: ReadonlySet<string>): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const d of await readdir(from, { withFileTypes: true })) {
    if (skip.has(d.name)) continue;
    if (d.isDirectory()) await linkTree(join(from, d.name), join(to, d.name), skip);
    else if (d.isFile()) await link(join(from, d.name), join(to, d.name));
  }
}

export interface LeanFixture {
  server: LeanS3;
  /** s3:// URLs of the tree and the output on it. */
  tree: string;
  out: string;
}

/** Builds (once) the lean folder of `fx` and starts the lean server over it; stop it when done. */
export async function leanFixture(fx: CostFixture): Promise<LeanFixture> {
  const base = join(fx.tree, '..');
  const folder = join(base, 'lean');
  const prefix = `n${fx.tiles}`;
  const tree = `s3://${COST_BUCKET}/${prefix}/tree`;
  const out = `s3://${COST_BUCKET}/${prefix}/out`;
  const marker = join(base, 'lean-done');
  const start = () => startLeanS3({ folder, bucket: COST_BUCKET, prefix });
  if (existsSync(marker)) return { server: await start(), tree, out };
  process.stderr.write(`bench: costs: linking the lean server's folder of ${fx.tiles} tiles (once)...\n`);
  await rm(folder, { recursive: true, force: true });
  await linkTree(fx.tree, join(folder, 'tree'), new Set());
  await linkTree(fx.out, join(folder, 'out'), new Set(['_desi-qad']));
  // The lean server's ETags of the tree, from a discovery through it, for the records' fingerprints.
  let server = await start();
  const client = makeS3Client({ endpoint: server.endpoint, credentials: LOCAL_S3_CREDENTIALS, socketTimeoutMs: 300_000 });
  let tiles;
  try {
    tiles = (await new S3TileStore(client, tree).discover({ surveys: COST_SURVEYS, programs: COST_PROGRAMS })).tiles;
  } finally {
    client.destroy();
    await server.stop();
  }
  const byKey = new Map(tiles.map((t) => [tileKey(t), t]));
  const journalDir = join(fx.out, '_desi-qad', 'journal');
  const [file] = (await readdir(journalDir)).filter((f) => f.endsWith('.jsonl'));
  const records = (await readFile(join(journalDir, file), 'utf8'))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as JournalRecord);
  const remote = records.map((rec): JournalRecord => {
    if (rec.type === 'run') return { ...rec, source: tree };
    if (rec.type !== 'tile') return rec;
    const t = byKey.get(rec.tile);
    if (!t) throw new Error(`bench: costs: the lean server's discovery has no tile ${rec.tile}`);
    return { ...rec, sources: sourceFingerprint(t) };
  });
  const named = new Map(remote.map((rec, seq) => [recordName(rec, timeStamp(rec.time), '0badc0de', seq), rec] as const));
  const segment = segmentOf(named, [], '0badc0de', remote.length);
  const segDir = join(folder, 'out', '_desi-qad', 'journal');
  await mkdir(segDir, { recursive: true });
  await writeFile(join(segDir, segment.name), segment.body);
  await writeFile(marker, 'yes');
  server = await start();
  return { server, tree, out };
}
