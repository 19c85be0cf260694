/**
 * `npm run demo`: the whole run on this machine, with no network. Starts an S3 server on loopback (s3rver,
 * in a child process), fills it with generated DESI-format tiles laid out like DESI's public bucket
 * (s3://desidata/dr1/spectro/redux/iron/healpix/...), runs `desi-qad convert` against it with the progress
 * bar, and ends by printing where the output is and a DuckDB query that reads it.
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { mkdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { smallSpecs, seedDryRunSpecs, synthTree } from '../src/synth/index.js';
import { LOCAL_S3_CREDENTIALS, startLocalS3, uploadTree } from '../src/dev/local-s3.js';
import { makeS3Client } from '../src/storage/s3-client.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(REPO, 'bin', 'desi-qad.js');
const BUCKET = 'desidata';
const PREFIX = 'dr1/spectro/redux/iron/healpix';

async function main(): Promise<void> {
  const root = join(process.cwd(), 'demo');
  const tree = join(root, 'tree');
  const out = join(root, 'out');
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  // A mix: the seed dry run's shape at 2% of its size (40 tiles, 15 without a good quasar) and a few
  // small tiles of other surveys and programs.
  const specs = [...seedDryRunSpecs({ scale: 0.02 }), ...smallSpecs({ tiles: 6, seed: 9 }).filter((s) => s.survey !== 'main' || s.program !== 'dark')];
  const synth = await synthTree({ out: tree, tiles: specs, wavelength: 'full' });
  say(`Generated ${synth.tiles.length} DESI-format tiles (${(synth.totalBytes / 1e6).toFixed(1)} MB of FITS).`);

  const s3 = await startLocalS3({ dir: join(root, 's3'), buckets: [BUCKET] });
  try {
    const client = makeS3Client({ region: 'us-west-2', endpoint: s3.endpoint, credentials: LOCAL_S3_CREDENTIALS });
    await uploadTree(client, tree, BUCKET, PREFIX);
    client.destroy();
    say(`Started an S3 server at ${s3.endpoint} holding them under s3://${BUCKET}/${PREFIX}/`);
    const surveys = [...new Set(specs.map((s) => s.survey))].join(',');
    const programs = [...new Set(specs.map((s) => s.program))].join(',');
    const args = [
      'convert',
      '--source',
      `s3://${BUCKET}/${PREFIX}`,
      '--endpoint',
      s3.endpoint,
      '--no-sign-request',
      '--out',
      out,
      '--survey',
      surveys,
      '--program',
      programs,
      '--threads',
      String(availableParallelism()),
      '--log-dir',
      join(root, 'logs'),
    ];
    say(`desi-qad ${args.join(' ')}`);
    const code: number | null = await new Promise((resolve) => spawn(process.execPath, [BIN, ...args], { stdio: 'inherit' }).on('close', resolve));
    if (code !== 0 && code !== 1) throw new Error(`desi-qad convert exited with ${code}`);
  } finally {
    await s3.stop();
  }
  const rel = relative(process.cwd(), out) || '.';
  say(`The dataset is in ${out} (the log in ${join(root, 'logs')}).`);
  say(
    `Read it with DuckDB, for example:\n\n  SELECT SURVEY, PROGRAM, count(*) AS quasars, round(avg(Z), 3) AS mean_z\n  FROM read_parquet('${rel}/*/*/*/*.parquet') GROUP BY ALL ORDER BY quasars DESC;\n`,
  );
  await showQuery(
    `SELECT SURVEY, PROGRAM, count(*) AS quasars, round(avg(Z), 3) AS mean_z FROM read_parquet('${out}/*/*/*/*.parquet') GROUP BY ALL ORDER BY quasars DESC`,
  );
}

/** Runs the query with DuckDB (a dev dependency) when it is installed, and prints the rows. */
async function showQuery(sql: string): Promise<void> {
  try {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    const reader = await conn.runAndReadAll(sql);
    say('DuckDB says:');
    console.table(reader.getRowObjectsJson());
    conn.closeSync();
  } catch (err) {
    say(`(DuckDB is not installed here: ${(err as Error).message.split('\n')[0]})`);
  }
}

function say(msg: string): void {
  process.stdout.write(`[demo] ${msg}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
