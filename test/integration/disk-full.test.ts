/**
 * A full disk (ENOSPC) under the output or under the journal stops the run cleanly (exit 4) after the tiles in
 * flight; the journal reads back whole; once space is back, the same run completes the dataset.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SELECTION } from '../../src/desi/selection.js';
import { EXIT, runConvert, type RunOptions } from '../../src/pipeline/run.js';
import type { JournalRecord } from '../../src/storage/journal-store.js';
import { LocalJournalStore } from '../../src/storage/journal-local.js';
import { LocalTileStore } from '../../src/storage/local-tree.js';
import { LocalOutputStore, TEMP_MARK } from '../../src/storage/output-local.js';
import type { WrittenFile } from '../../src/storage/output-store.js';
import { LocalIdentityStore } from '../../src/storage/identity-local.js';
import { LocalRegistry } from '../../src/storage/registry-local.js';
import { newRunId } from '../../src/storage/run-id.js';
import { FIXTURE_TREE, listFiles, readLocalJournal, runCli } from '../helpers/cli.js';
import { assertSameDataset } from '../helpers/dataset.js';

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });

/** The local output, until `okWrites` files have been written; then the disk is "full". */
class FillingDisk extends LocalOutputStore {
  writes = 0;
  constructor(
    root: string,
    private readonly okWrites: number,
  ) {
    super(root);
  }
  override async writeAtomic(rel: string, bytes: Uint8Array): Promise<WrittenFile> {
    if (this.writes >= this.okWrites) throw enospc();
    this.writes += 1;
    return super.writeAtomic(rel, bytes);
  }
}

/** The local journal, until `okAppends` records; then its disk is "full". */
class FillingJournal extends LocalJournalStore {
  appends = 0;
  constructor(
    path: string,
    private readonly okAppends: number,
  ) {
    super(path, newRunId());
  }
  override async append(rec: JournalRecord): Promise<void> {
    if (this.appends >= this.okAppends) throw enospc();
    this.appends += 1;
    return super.append(rec);
  }
}

function options(out: LocalOutputStore, journal: LocalJournalStore, logDir: string): RunOptions {
  const run = newRunId();
  return {
    store: new LocalTileStore(FIXTURE_TREE),
    out,
    journal,
    identity: new LocalIdentityStore(out.root),
    registry: new LocalRegistry(out.root, run),
    run,
    selection: DEFAULT_SELECTION,
    surveys: ['main', 'sv3'],
    programs: ['dark', 'bright'],
    seed: 42,
    batchSize: 8,
    threads: 2,
    downloads: 1,
    logDir,
    maxFailureRate: 1,
    minReduction: 0,
    fetch: 'ranges',
    gapBytes: 65536,
    memoryBytes: 2 ** 28,
    version: 'test',
    quiet: true,
  };
}

test('ENOSPC on the output stops the run with exit 4; the journal is intact; the rerun completes the dataset', async () => {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-enospc-'));
  const clean = join(work, 'clean');
  assert.equal(
    (
      await runCli([
        'convert',
        '--source',
        FIXTURE_TREE,
        '--out',
        clean,
        '--log-dir',
        join(work, 'l0'),
        '--survey',
        'main,sv3',
        '--program',
        'dark,bright',
        '--quiet',
      ])
    ).code,
    1,
  );

  const outDir = join(work, 'out');
  const jpath = join(outDir, '_desi-qad/journal');
  const full = await runConvert(options(new FillingDisk(outDir, 2), new LocalJournalStore(jpath, newRunId()), join(work, 'l1')));
  assert.equal(full.exitCode, EXIT.fatal);
  const failed = full.outcomes.filter((o) => o.status === 'failed');
  assert.equal(failed.length, 1, 'stopped right after the first write that failed (one tile in flight)');
  assert.equal(failed[0].errorClass, 'IO_ENOSPC');
  assert.ok(full.outcomes.length < 7, 'tiles after it were not started');
  const recs = await readLocalJournal(outDir);
  assert.equal(recs.filter((r) => r.type === 'tile' && r.status === 'ok').length, 2);
  assert.ok(!(await listFiles(outDir)).some((f) => f.includes(TEMP_MARK)), 'no temporary file left');
  assert.match(await readFile(full.logPath, 'utf8'), /the output cannot take more data; stopping after the tiles in flight/);

  const again = await runConvert(options(new LocalOutputStore(outDir), new LocalJournalStore(jpath, newRunId()), join(work, 'l2')));
  assert.equal(again.exitCode, EXIT.someFailed, 'done but for the missing-source tile');
  await assertSameDataset(clean, outDir, 5);
});

test('ENOSPC on the journal stops the run with exit 4 and leaves a journal that reads back whole', async () => {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-enospc-j-'));
  const outDir = join(work, 'out');
  const jpath = join(outDir, '_desi-qad/journal');
  const r = await runConvert(options(new LocalOutputStore(outDir), new FillingJournal(jpath, 3), join(work, 'l1')));
  assert.equal(r.exitCode, EXIT.fatal);
  const recs = await readLocalJournal(outDir);
  assert.equal(recs.length, 3, 'the run record and two tiles, each whole');
  const again = await runConvert(options(new LocalOutputStore(outDir), new LocalJournalStore(jpath, newRunId()), join(work, 'l2')));
  assert.equal(again.exitCode, EXIT.someFailed);
  assert.match(await readFile(again.logPath, 'utf8'), /Found 2 completed tiles\./);
});
