/**
 * Many `desi-qad convert` processes on one --out, as a scheduler or an impatient user starts them: two runs
 * with different selections race to create the dataset (one wins, the other is refused before it writes
 * anything), and identical runs started together end with the exact dataset, each tile converted once or
 * nearly once, no temporary file, claim or heartbeat left. On a local folder and on S3 (a real s3rver).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { LocalS3 } from '../../src/dev/local-s3.js';
import { readParquetFooter } from '../../src/parquet/footer.js';
import { mulberry32 } from '../../src/util/prng.js';
import { collect, FIXTURE_TREE, listFiles, runCli, startCli, type CliResult } from '../helpers/cli.js';
import { assertSameDataset } from '../helpers/dataset.js';
import { getObjectBytes, S3_TEST_TIMEOUT, signedClient, startS3 } from '../helpers/s3.js';

const ALL = ['--survey', 'main,sv3', '--program', 'dark,bright', '--quiet', '--threads', '2', '--batch-size', '2', '--downloads', '2'];
const ENV = { ...process.env, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', DESI_QAD_LEASE_MS: '3000' };
const rnd = mulberry32(20261202);
let work: string;
let reference: string;
let s3: LocalS3;
let client: S3Client;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'desi-qad-concurrent-'));
  s3 = await startS3(['results']);
  client = signedClient(s3.endpoint);
  reference = join(work, 'reference');
  const r = await runCli(['convert', '--source', FIXTURE_TREE, '--out', reference, '--log-dir', join(work, 'logs-ref'), ...ALL], undefined, ENV);
  assert.equal(r.code, 1, r.stderr); // one fixture tile lacks its redrock
});
after(async () => {
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Starts every command after its own delay, and collects them all. */
async function startTogether(commands: string[][], maxDelayMs: number): Promise<CliResult[]> {
  return Promise.all(
    commands.map(async (args) => {
      await new Promise((r) => setTimeout(r, Math.floor(rnd() * maxDelayMs)));
      return collect(startCli(args, undefined, ENV));
    }),
  );
}

/** The selection each Parquet file's footer names, by relative path. */
async function footerSelections(files: Map<string, Uint8Array>): Promise<Set<string>> {
  const found = new Set<string>();
  for (const bytes of files.values()) {
    const info = JSON.parse(readParquetFooter(bytes).keyValue.get('desi_qad') ?? '{}') as { selection?: string };
    found.add(String(info.selection));
  }
  return found;
}

/** The dataset-level tables (_wavelength/, _catalog/): not a selection's files. */
const isTablePath = (rel: string) => rel.startsWith('_');

async function localParquet(root: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const f of await listFiles(root)) if (f.endsWith('.parquet') && !isTablePath(f)) out.set(f, await readFile(join(root, f)));
  return out;
}

async function s3Keys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: 'results', Prefix: `${prefix}/`, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key.slice(prefix.length + 1));
    token = page.NextContinuationToken;
  } while (token);
  return keys.sort();
}

async function s3Parquet(prefix: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const k of await s3Keys(prefix)) if (k.endsWith('.parquet') && !isTablePath(k)) out.set(k, await getObjectBytes(client, 'results', `${prefix}/${k}`));
  return out;
}

/** Tiles journaled ok more than once (converted twice), from a local journal folder. */
async function localDuplicates(out: string): Promise<number> {
  const dir = join(out, '_desi-qad', 'journal');
  const oks = new Map<string, number>();
  for (const f of await readdir(dir)) {
    for (const line of (await readFile(join(dir, f), 'utf8')).split('\n')) {
      if (!line.includes('"type":"tile"')) continue;
      const r = JSON.parse(line) as { tile: string; status: string };
      if (r.status === 'ok') oks.set(r.tile, (oks.get(r.tile) ?? 0) + 1);
    }
  }
  return [...oks.values()].filter((n) => n > 1).length;
}

function s3Duplicates(keys: string[]): number {
  const oks = new Map<string, number>();
  for (const k of keys) {
    const m = /^_desi-qad\/journal\/.*_t_ok_([^_]+)/.exec(k);
    if (m) oks.set(m[1], (oks.get(m[1]) ?? 0) + 1);
  }
  return [...oks.values()].filter((n) => n > 1).length;
}

const codes = (rs: CliResult[]) => rs.map((r) => r.code).join(',');
const why = (rs: CliResult[]) => rs.map((r, i) => `run ${i}: exit ${r.code}\n${r.stderr.slice(-2000)}`).join('\n');

test('two runs with different selections race on one local --out: one dataset, one selection, the other run refused', async () => {
  for (let round = 0; round < 6; round++) {
    const out = join(work, `race-local-${round}`);
    const rs = await startTogether(
      [
        ['convert', '--source', FIXTURE_TREE, '--out', out, '--log-dir', join(work, `logs-race-${round}-a`), ...ALL],
        ['convert', '--source', FIXTURE_TREE, '--out', out, '--log-dir', join(work, `logs-race-${round}-b`), '--spectype', 'QSO,GALAXY', ...ALL],
      ],
      300,
    );
    const refused = rs.filter((r) => r.code === 2);
    assert.equal(refused.length, 1, `round ${round}: exit codes ${codes(rs)}\n${why(rs)}`);
    assert.equal(rs.filter((r) => r.code === 1).length, 1, `round ${round}: ${codes(rs)}\n${why(rs)}`);
    assert.match(refused[0].stderr, /another selection or source/);
    const selections = await footerSelections(await localParquet(out));
    assert.equal(selections.size, 1, `round ${round}: files of ${[...selections].join(' and ')}`);
    assert.ok(!(await listFiles(out)).some((f) => f.includes('.desi-qad-tmp-')), 'no temporary file left');
  }
});

test(
  'two runs with different selections race on one S3 --out: one selection in every file, the other run refused',
  { timeout: S3_TEST_TIMEOUT * 3 },
  async () => {
    for (let round = 0; round < 4; round++) {
      const prefix = `race-${round}`;
      const out = `s3://results/${prefix}`;
      const s3args = ['--endpoint', s3.endpoint];
      const rs = await startTogether(
        [
          ['convert', '--source', FIXTURE_TREE, '--out', out, ...s3args, '--log-dir', join(work, `logs-s3race-${round}-a`), ...ALL],
          ['convert', '--source', FIXTURE_TREE, '--out', out, ...s3args, '--log-dir', join(work, `logs-s3race-${round}-b`), '--spectype', 'QSO,GALAXY', ...ALL],
        ],
        300,
      );
      assert.equal(rs.filter((r) => r.code === 2).length, 1, `round ${round}: exit codes ${codes(rs)}\n${why(rs)}`);
      assert.equal(rs.filter((r) => r.code === 1).length, 1, `round ${round}: ${codes(rs)}\n${why(rs)}`);
      const selections = await footerSelections(await s3Parquet(prefix));
      assert.equal(selections.size, 1, `round ${round}: files of ${[...selections].join(' and ')}`);
    }
  },
);

test('three identical runs started together on a local --out: the exact dataset, no tile converted at once twice, nothing left behind', async () => {
  let duplicates = 0;
  for (let round = 0; round < 3; round++) {
    const out = join(work, `same-local-${round}`);
    const rs = await startTogether(
      [0, 1, 2].map((i) => ['convert', '--source', FIXTURE_TREE, '--out', out, '--log-dir', join(work, `logs-same-${round}-${i}`), ...ALL]),
      200,
    );
    assert.deepEqual(
      rs.map((r) => r.code),
      [1, 1, 1],
      why(rs),
    );
    await assertSameDataset(reference, out, 5);
    const left = (await listFiles(out)).filter((f) => f.includes('.desi-qad-tmp-') || f.startsWith('_desi-qad/claims/') || f.startsWith('_desi-qad/runs/'));
    assert.deepEqual(left, [], 'no temporary file, claim or heartbeat left');
    duplicates += await localDuplicates(out);
  }
  console.log(`identical local runs: ${duplicates} tile(s) converted twice over 3 rounds of 3 runs`);
});

test('three identical runs started together on an S3 --out: the exact dataset, nothing left behind', { timeout: S3_TEST_TIMEOUT * 3 }, async () => {
  let duplicates = 0;
  for (let round = 0; round < 2; round++) {
    const prefix = `same-${round}`;
    const rs = await startTogether(
      [0, 1, 2].map((i) => [
        'convert',
        '--source',
        FIXTURE_TREE,
        '--out',
        `s3://results/${prefix}`,
        '--endpoint',
        s3.endpoint,
        '--log-dir',
        join(work, `logs-s3same-${round}-${i}`),
        ...ALL,
      ]),
      200,
    );
    assert.deepEqual(
      rs.map((r) => r.code),
      [1, 1, 1],
      why(rs),
    );
    const got = await s3Parquet(prefix);
    const want = await localParquet(reference);
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    for (const [k, bytes] of want) assert.ok(Buffer.from(bytes).equals(Buffer.from(got.get(k)!)), `${k}: the same bytes as the reference run`);
    const keys = await s3Keys(prefix);
    assert.deepEqual(
      keys.filter((k) => k.startsWith('_desi-qad/claims/') || k.startsWith('_desi-qad/runs/')),
      [],
      'no claim or heartbeat left',
    );
    duplicates += s3Duplicates(keys);
  }
  console.log(`identical S3 runs: ${duplicates} tile(s) converted twice over 2 rounds of 3 runs`);
});
