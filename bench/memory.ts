import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOCAL_S3_CREDENTIALS, startLocalS3, uploadTree } from '../src/dev/local-s3.js';
import { makeS3Client } from '../src/storage/s3-client.js';
import { seedDryRunSpecs, synthTree, targetsForCoaddBytes, type SynthReport } from '../src/synth/index.js';
import { runCliMeasured, type CliRun } from './run-cli.js';

export interface MemoryRun extends CliRun {
  budgetBytes: number;
}

/**
 * Peak memory with a 2 GB coadd in the set: the seed-shaped tiles at 5% of their size plus one tile whose
 * coadd is about 2 GB (with 150 good quasars), served by s3rver on loopback; `--fetch full` holds whole files
 * (2 x their size is budgeted), `--fetch ranges` only the rows it keeps.
 */
export async function measureMemory(cacheRoot: string, threads: number): Promise<{ coaddBytes: number; runs: MemoryRun[] }> {
  const root = join(cacheRoot, 'memory-set');
  const marker = join(root, 'synth-report.json');
  let report: SynthReport;
  if (existsSync(marker)) report = JSON.parse(await readFile(marker, 'utf8')) as SynthReport;
  else {
    await rm(root, { recursive: true, force: true });
    process.stderr.write('bench: writing the memory set with a 2 GB coadd (once)...\n');
    const big = { survey: 'main', program: 'dark', healpix: 40000, seed: 77, mask: 'int32' as const };
    const specs = [...seedDryRunSpecs({ scale: 0.05 }), { ...big, targets: targetsForCoaddBytes(big, 2e9), goodQso: 150 }];
    report = await synthTree({ out: join(root, 'tree'), tiles: specs, wavelength: 'full' });
    await writeFile(marker, JSON.stringify(report));
  }
  const coaddBytes = Math.max(...report.tiles.map((t) => t.coaddBytes));
  const s3dir = join(root, 's3');
  await mkdir(s3dir, { recursive: true });
  const s3 = await startLocalS3({ dir: s3dir, buckets: ['mem'] });
  const runs: MemoryRun[] = [];
  try {
    if (!existsSync(join(s3dir, '.uploaded'))) {
      const client = makeS3Client({ endpoint: s3.endpoint, credentials: LOCAL_S3_CREDENTIALS, socketTimeoutMs: 600_000 }); // s3rver writes big objects slowly
      await uploadTree(client, join(root, 'tree'), 'mem', 'healpix', { concurrency: 4 });
      client.destroy();
      await writeFile(join(s3dir, '.uploaded'), 'yes');
    }
    for (const [mode, budget] of [
      ['full', 4.5e9],
      ['ranges', 0.5e9],
    ] as const) {
      const out = join(root, `out-${mode}`);
      await rm(out, { recursive: true, force: true });
      process.stderr.write(`bench: memory, --fetch ${mode}, --memory ${budget / 1e9} GB...\n`);
      const args = [
        'convert',
        '--source',
        's3://mem/healpix',
        '--endpoint',
        s3.endpoint,
        '--no-sign-request',
        '--out',
        out,
        '--threads',
        String(threads),
        '--fetch',
        mode,
        '--memory',
        String(budget),
      ];
      const r = await runCliMeasured(`S3 loopback, --fetch ${mode}, --memory ${budget / 1e9} GB`, args, join(root, 'logs'));
      runs.push({ ...r, budgetBytes: budget });
      await rm(out, { recursive: true, force: true });
    }
  } finally {
    await s3.stop();
  }
  return { coaddBytes, runs };
}
