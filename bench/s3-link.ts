import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOCAL_S3_CREDENTIALS, startLocalS3, uploadTree, type LocalS3 } from '../src/dev/local-s3.js';
import { startLinkShaper } from '../src/dev/link-shaper.js';
import { makeS3Client } from '../src/storage/s3-client.js';
import { runCliMeasured, type CliRun } from './run-cli.js';
import { listParquet } from './files.js';

export const BUCKET = 'desidata';
export const PREFIX = 'dr1/spectro/redux/iron/healpix';

/** `desi-qad convert` of the uploaded dataset through `endpoint` (anonymous), into `out`, on `threads` threads. */
export function s3ConvertArgs(endpoint: string, out: string, threads: number): string[] {
  return ['convert', '--source', `s3://${BUCKET}/${PREFIX}`, '--endpoint', endpoint, '--no-sign-request', '--out', out, '--threads', String(threads)];
}

/**
 * The seed-shaped set in s3rver, kept under `cacheRoot/s3` and uploaded once per tree (a marker file names the
 * tree), so that the S3, scale-out and link sections share one upload whichever runs first.
 */
export async function servedDataset(cacheRoot: string, tree: string): Promise<LocalS3> {
  const s3dir = join(cacheRoot, 's3');
  const marker = join(s3dir, `.uploaded-${Buffer.from(tree).toString('hex').slice(-24)}`);
  await mkdir(s3dir, { recursive: true });
  const s3 = await startLocalS3({ dir: s3dir, buckets: [BUCKET] });
  try {
    if (!existsSync(marker)) {
      process.stderr.write('bench: uploading the dataset to the local S3 server (once)...\n');
      const client = makeS3Client({ endpoint: s3.endpoint, credentials: LOCAL_S3_CREDENTIALS, socketTimeoutMs: 600_000 }); // s3rver writes big objects slowly
      await uploadTree(client, tree, BUCKET, PREFIX, { concurrency: 8 });
      client.destroy();
      await writeFile(marker, new Date().toISOString());
    }
    return s3;
  } catch (err) {
    await s3.stop();
    throw err;
  }
}

export interface LinkRuns {
  runs: CliRun[];
  /** Whether each Parquet file of the `ranges` run is byte-identical to the `full` run's, per link. */
  identical: Record<string, boolean>;
}

/**
 * Serves the dataset from s3rver (objects kept under the cache, uploaded once), behind a link shaper with the
 * given bandwidth and round trip and also unshaped, and runs `desi-qad convert` with --fetch full and
 * --fetch ranges through each. Every run starts from an empty output.
 */
export async function measureLinks(
  cacheRoot: string,
  tree: string,
  shaped: { bandwidth: number; rttMs: number },
  threads: number,
  gaps: number[],
): Promise<LinkRuns> {
  const s3 = await servedDataset(cacheRoot, tree);
  const runs: CliRun[] = [];
  const identical: Record<string, boolean> = {};
  try {
    const port = Number(new URL(s3.endpoint).port);
    const work = join(cacheRoot, 'runs');
    const links: [string, { bandwidth: number; rttMs: number }][] = [
      [`shaped ${(shaped.bandwidth / 1e6).toFixed(0)} MB/s, ${shaped.rttMs} ms`, shaped],
      ['loopback, unshaped', { bandwidth: Infinity, rttMs: 0 }],
    ];
    for (const [name, link] of links) {
      const shaper = await startLinkShaper({ upstreamPort: port, bandwidth: link.bandwidth, rttMs: link.rttMs });
      try {
        const outs: Record<string, string> = {};
        const variants: [string, string[]][] = [
          ['full', ['--fetch', 'full']],
          ...gaps.map((g): [string, string[]] => [`ranges, gap ${g / 1024} KiB`, ['--fetch', 'ranges', '--gap-bytes', String(g)]]),
        ];
        for (const [mode, extra] of variants) {
          const out = join(work, `${name}-${mode}`.replace(/[^a-z0-9]+/gi, '-'));
          await rm(out, { recursive: true, force: true });
          process.stderr.write(`bench: ${name}, --fetch ${mode}...\n`);
          const args = s3ConvertArgs(shaper.endpoint, out, threads);
          runs.push(await runCliMeasured(`S3 ${name}, --fetch ${mode}`, [...args, ...extra], join(work, 'logs')));
          outs[mode] = out;
        }
        const full = outs.full;
        identical[name] = true;
        for (const [mode, out] of Object.entries(outs)) {
          if (mode !== 'full' && !(await sameParquet(full, out))) identical[name] = false;
        }
      } finally {
        await shaper.stop();
      }
    }
    await rm(work, { recursive: true, force: true });
  } finally {
    await s3.stop();
  }
  return { runs, identical };
}

/** Whether two dataset folders hold the same Parquet files, byte for byte. */
export async function sameParquet(a: string, b: string): Promise<boolean> {
  const fa = await listParquet(a);
  const fb = await listParquet(b);
  if (fa.join('\n') !== fb.join('\n')) return false;
  for (const f of fa) if (!(await readFile(join(a, f))).equals(await readFile(join(b, f)))) return false;
  return true;
}
