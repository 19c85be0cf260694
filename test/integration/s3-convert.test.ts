/**
 * The conversion run with S3 on both sides, against a real S3 server (s3rver): the fixture tree uploaded to
 * one bucket, converted with `runConvert` to another bucket, and compared with the local conversion of the
 * same tree: same tiles, statuses and rows, same Parquet keys, same column data; the journal in S3 makes a
 * second run skip every finished tile.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FOOTER_KEY, type FooterInfo } from '../../src/desi/schema.js';
import { DEFAULT_SELECTION } from '../../src/desi/selection.js';
import { WAVELENGTH_REL } from '../../src/desi/wavelength.js';
import { uploadTree, type LocalS3 } from '../../src/dev/local-s3.js';
import { runConvert, type RunOptions } from '../../src/pipeline/run.js';
import { LocalJournalStore } from '../../src/storage/journal-local.js';
import { LocalTileStore } from '../../src/storage/local-tree.js';
import { LocalOutputStore } from '../../src/storage/output-local.js';
import { journalUrlFor, S3JournalStore } from '../../src/storage/s3-journal.js';
import { S3OutputStore } from '../../src/storage/s3-output.js';
import { S3TileStore } from '../../src/storage/s3-tree.js';
import { LocalIdentityStore } from '../../src/storage/identity-local.js';
import { S3IdentityStore } from '../../src/storage/identity-s3.js';
import { LocalRegistry } from '../../src/storage/registry-local.js';
import { S3Registry } from '../../src/storage/registry-s3.js';
import { newRunId } from '../../src/storage/run-id.js';
import { FIXTURE_TREE, listFiles } from '../helpers/cli.js';
import { columnDigest, readArrow } from '../helpers/parquet-bits.js';
import { anonClient, FAST_RETRY, getObjectBytes, S3_TEST_TIMEOUT, signedClient, startS3 } from '../helpers/s3.js';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';

let s3: LocalS3;
let work: string;

before(async () => {
  s3 = await startS3(['desi-conv-src', 'desi-conv-out']);
  work = await mkdtemp(join(tmpdir(), 'desi-qad-s3-convert-'));
  await uploadTree(signedClient(s3.endpoint), FIXTURE_TREE, 'desi-conv-src', 'dr1/healpix');
});
after(async () => {
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function options(o: Pick<RunOptions, 'store' | 'out' | 'journal' | 'identity' | 'registry' | 'run'>, logDir: string): RunOptions {
  return {
    ...o,
    selection: DEFAULT_SELECTION,
    surveys: ['main', 'sv3'],
    programs: ['dark', 'bright'],
    seed: 42,
    batchSize: 4,
    threads: 2,
    downloads: 4,
    logDir,
    maxFailureRate: 1,
    minReduction: 0,
    fetch: 'ranges',
    gapBytes: 1 << 20,
    memoryBytes: 256 * 1024 * 1024,
    version: 'test',
    quiet: true,
  };
}

test('S3 source to S3 output gives the dataset the local run gives, and resumes from the S3 journal', { timeout: S3_TEST_TIMEOUT * 2 }, async () => {
  const localOut = join(work, 'local-out');
  const localRun = newRunId();
  const local = await runConvert(
    options(
      {
        store: new LocalTileStore(FIXTURE_TREE),
        out: new LocalOutputStore(localOut, { run: localRun }),
        journal: new LocalJournalStore(join(localOut, '_desi-qad/journal'), localRun),
        identity: new LocalIdentityStore(localOut),
        registry: new LocalRegistry(localOut, localRun),
        run: localRun,
      },
      join(work, 'logs-local'),
    ),
  );

  const src = anonClient(s3.endpoint);
  const dst = signedClient(s3.endpoint);
  const s3Options = (run = newRunId()) =>
    options(
      {
        store: new S3TileStore(src, 's3://desi-conv-src/dr1/healpix', { retry: FAST_RETRY }),
        out: new S3OutputStore(dst, 's3://desi-conv-out/qso', { retry: FAST_RETRY, run }),
        journal: new S3JournalStore(dst, journalUrlFor('s3://desi-conv-out/qso'), { retry: FAST_RETRY }),
        identity: new S3IdentityStore(dst, 's3://desi-conv-out/qso', { retry: FAST_RETRY }),
        registry: new S3Registry(dst, 's3://desi-conv-out/qso', run, { retry: FAST_RETRY }),
        run,
      },
      join(work, 'logs-s3'),
    );
  const remote = await runConvert(s3Options());

  assert.equal(remote.exitCode, local.exitCode);
  const summary = (r: typeof local) => r.outcomes.map((o) => `${o.key} ${o.status} ${o.rows} ${o.path ?? ''} ${o.errorClass ?? ''}`).sort();
  assert.deepEqual(summary(remote), summary(local), JSON.stringify(remote.outcomes.map((o) => o.error)));
  assert.ok(remote.outcomes.some((o) => o.status === 'ok' && o.rows > 0));
  const ok = remote.outcomes.filter((o) => o.status === 'ok');
  for (const o of ok) assert.ok(o.fetchedBytes > 0 && o.fetchedBytes <= o.fitsBytes, `${o.key}: fetched ${o.fetchedBytes} of ${o.fitsBytes}`);

  const localFiles = (await listFiles(localOut)).filter((f) => f.endsWith('.parquet'));
  const listed = await dst.send(new ListObjectsV2Command({ Bucket: 'desi-conv-out', Prefix: 'qso/' }));
  const remoteKeys = (listed.Contents ?? []).map((c) => c.Key!.slice('qso/'.length));
  assert.deepEqual(remoteKeys.filter((k) => k.endsWith('.parquet')).sort(), localFiles);
  assert.ok(
    remoteKeys.every(
      (k) => k.endsWith('.parquet') || k.startsWith('_desi-qad/journal/') || k.startsWith('_desi-qad/identity/') || k === '_desi-qad/dataset.json',
    ),
    remoteKeys.join(', '),
  );

  for (const f of localFiles) {
    const path = join(work, 'remote.parquet');
    await writeFile(path, await getObjectBytes(dst, 'desi-conv-out', `qso/${f}`));
    const a = await readArrow(join(localOut, f));
    const b = await readArrow(path);
    assert.deepEqual(
      b.schema.fields.map((x) => `${x.name}:${x.type}`),
      a.schema.fields.map((x) => `${x.name}:${x.type}`),
    );
    assert.equal(b.numRows, a.numRows);
    for (const field of a.schema.fields) assert.equal(columnDigest(b, field.name), columnDigest(a, field.name), `${f} ${field.name}`);
    if (f === WAVELENGTH_REL) {
      // The dataset's wavelength table: the same bytes whichever store it went to (a function of the grid).
      assert.deepEqual(new Uint8Array(await readFile(path)), new Uint8Array(await readFile(join(localOut, f))), `${f}: identical`);
      continue;
    }
    const footer = JSON.parse(b.schema.metadata.get(FOOTER_KEY) ?? '{}') as Partial<FooterInfo>;
    assert.equal(footer.sources?.length, 2, `${f}: footer sources`);
    for (const s of footer.sources) {
      assert.match(s.name, /^s3:\/\/desi-conv-src\/dr1\/healpix\/(main|sv3)\/(dark|bright)\/\d+\/\d+\/(coadd|redrock)-[a-z0-9-]+\.fits$/);
      assert.match(s.etag ?? '', /^[0-9a-f]{32}$/);
    }
  }

  // The second run reads the journal from S3: every finished tile is skipped.
  const again = await runConvert(s3Options());
  const done = remote.outcomes
    .filter((o) => o.status === 'ok' || o.status === 'empty')
    .map((o) => o.key)
    .sort();
  assert.ok(
    again.outcomes.every((o) => !done.includes(o.key)),
    'finished tiles are not redone',
  );
  assert.match(await readFile(again.logPath, 'utf8'), new RegExp(`Found ${done.length} completed tiles\\.`));
});
