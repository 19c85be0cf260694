import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, writeFile, mkdir, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { outputPath } from '../../src/desi/layout.js';
import { parseOutputPath } from '../../src/desi/output-path.js';
import { LocalOutputStore, TEMP_MARK, temporaryOwner } from '../../src/storage/output-local.js';
import { LocalRegistry } from '../../src/storage/registry-local.js';
import { isRunId, newRunId } from '../../src/storage/run-id.js';

test('writeAtomic puts the whole file in place and leaves no temporary behind', async () => {
  const root = await mkdtemp(join(tmpdir(), 'out-'));
  const out = new LocalOutputStore(root);
  const bytes = new Uint8Array(100_000).map((_, i) => i % 251);
  await out.writeAtomic('main/dark/230/main-dark-23040.parquet', bytes);
  assert.deepEqual(new Uint8Array(await readFile(join(root, 'main/dark/230/main-dark-23040.parquet'))), bytes);
  assert.deepEqual(await readdir(join(root, 'main/dark/230')), ['main-dark-23040.parquet']);
});

test('paths that would land outside --out are refused', async () => {
  const root = await mkdtemp(join(tmpdir(), 'out-'));
  const out = new LocalOutputStore(root);
  for (const bad of ['../escape.parquet', 'a/../../escape.parquet', '/etc/passwd', '', '.', 'a\0b']) {
    await assert.rejects(out.writeAtomic(bad, new Uint8Array(1)), /outside|not a relative path/, bad);
  }
});

test('sweepTemporaries removes the temporaries of gone runs only, and old ones without a run id', async () => {
  const root = await mkdtemp(join(tmpdir(), 'out-'));
  const dir = join(root, 'main/dark/1');
  await mkdir(dir, { recursive: true });
  const live = new LocalRegistry(root, newRunId());
  await live.start();
  const out = new LocalOutputStore(root, { run: newRunId() });
  const deadRun = newRunId(); // no heartbeat: provably gone
  const names = {
    live: `${TEMP_MARK}${live.run}.0a1b2c3d4e5f`,
    own: `${TEMP_MARK}${out.run}.0a1b2c3d4e5f`,
    dead: `${TEMP_MARK}${deadRun}.0a1b2c3d4e5f`,
    oldFormatOld: `${TEMP_MARK}abc123abc123`,
    oldFormatRecent: `${TEMP_MARK}def456def456`,
  };
  for (const n of Object.values(names)) await writeFile(join(dir, n), 'partial');
  await writeFile(join(dir, 'keep.parquet'), 'whole');
  const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
  await utimes(join(dir, names.oldFormatOld), twoHoursAgo, twoHoursAgo);
  const asked: string[] = [];
  const owners = {
    isGone: async (run: string) => {
      asked.push(run);
      return run === out.run || live.isGone(run); // claims its own run is gone: the store must not believe it
    },
    heldByOther: () => Promise.resolve(true),
  };
  assert.equal(await out.sweepTemporaries(owners), 2);
  assert.deepEqual((await readdir(dir)).sort(), ['keep.parquet', names.live, names.own, names.oldFormatRecent].sort());
  assert.ok(!asked.includes(out.run), 'its own temporaries are never asked about');
  await live.stop();
  // Once the live run has stopped, its leftovers go too.
  assert.equal(await out.sweepTemporaries({ isGone: (run) => live.isGone(run), heldByOther: () => Promise.resolve(false) }), 1);
  assert.ok(!(await readdir(dir)).includes(names.live));
});

test('sweepTemporaries leaves the heartbeat temporary of a run that is starting, and removes it once it is an hour old', async () => {
  const root = await mkdtemp(join(tmpdir(), 'out-'));
  const runs = join(root, '_desi-qad/runs');
  await mkdir(runs, { recursive: true });
  const starting = newRunId(); // writing its first heartbeat: no record yet, so isGone says gone
  const fresh = `${TEMP_MARK}${starting}.0a1b2c3d4e5f`;
  const stale = `${TEMP_MARK}${newRunId()}.0a1b2c3d4e5f`;
  await writeFile(join(runs, fresh), '{"run"');
  await writeFile(join(runs, stale), '{"run"');
  const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
  await utimes(join(runs, stale), twoHoursAgo, twoHoursAgo);
  const out = new LocalOutputStore(root, { run: newRunId() });
  assert.equal(await out.sweepTemporaries({ isGone: () => Promise.resolve(true), heldByOther: () => Promise.resolve(false) }), 1);
  assert.deepEqual(await readdir(runs), [fresh]);
});

test('writeAtomic returns the size and names its temporary for its run', async () => {
  const root = await mkdtemp(join(tmpdir(), 'out-'));
  const out = new LocalOutputStore(root);
  assert.ok(isRunId(out.run));
  assert.deepEqual(await out.writeAtomic('main/dark/230/main-dark-23040.parquet', new Uint8Array(77)), { size: 77 });
  // A write that cannot be renamed into place (a folder is in the way) shows the temporary's name in its error.
  await mkdir(join(root, 'main/dark/230/main-dark-23041.parquet/x'), { recursive: true });
  await assert.rejects(out.writeAtomic('main/dark/230/main-dark-23041.parquet', new Uint8Array(5)), (err: Error) => {
    assert.ok(err.message.includes(`${TEMP_MARK}${out.run}.`), err.message);
    return true;
  });
  assert.ok(!(await readdir(join(root, 'main/dark/230'))).some((n) => n.startsWith(TEMP_MARK)), 'the failed temporary was removed');
  assert.equal(temporaryOwner(`${TEMP_MARK}${out.run}.00ff`), out.run);
  assert.equal(temporaryOwner(`${TEMP_MARK}00ff00ff00ff`), undefined);
  assert.equal(temporaryOwner('main-dark-1.parquet'), undefined);
});

test('listFiles: every dataset .parquet file with its size, nothing of _desi-qad/ or temporaries', async () => {
  const root = await mkdtemp(join(tmpdir(), 'out-'));
  const out = new LocalOutputStore(root);
  await out.writeAtomic('main/dark/230/main-dark-23040.parquet', new Uint8Array(10));
  await out.writeAtomic('sv3/bright/0/sv3-bright-7.parquet', new Uint8Array(3));
  await out.writeAtomic('_desi-qad/claims/x/y.parquet', new Uint8Array(1));
  await out.writeAtomic('main/dark/230/notes.txt', new Uint8Array(1));
  await writeFile(join(root, 'main/dark/230', `${TEMP_MARK}${out.run}.abcd`), 'partial.parquet');
  assert.deepEqual([...(await out.listFiles())].sort(), [
    ['main/dark/230/main-dark-23040.parquet', 10],
    ['sv3/bright/0/sv3-bright-7.parquet', 3],
  ]);
  assert.deepEqual([...(await new LocalOutputStore(join(root, 'missing')).listFiles())], []);
});

test('readTail: the last n bytes, the whole of a shorter file, undefined when missing', async () => {
  const root = await mkdtemp(join(tmpdir(), 'out-'));
  const out = new LocalOutputStore(root);
  const bytes = new Uint8Array(1000).map((_, i) => i % 256);
  await out.writeAtomic('a/b.parquet', bytes);
  assert.deepEqual(await out.readTail('a/b.parquet', 8), bytes.subarray(992));
  assert.deepEqual(await out.readTail('a/b.parquet', 5000), bytes);
  assert.equal(await out.readTail('a/missing.parquet', 8), undefined);
  await assert.rejects(out.readTail('../x', 8), /outside/);
});

test('parseOutputPath is the inverse of outputPath and refuses everything else', () => {
  for (const t of [
    { survey: 'main', program: 'dark', healpix: 23040 },
    { survey: 'sv1', program: 'other', healpix: 0 },
    { survey: 'special', program: 'backup', healpix: 49151 },
  ]) {
    assert.deepEqual(parseOutputPath(outputPath(t)), t);
  }
  for (const bad of [
    'main/dark/231/main-dark-23040.parquet', // wrong pixgroup
    'main/dark/230/main-bright-23040.parquet',
    'main/dark/230/main-dark-023040.parquet',
    'main/dark/491/main-dark-49152.parquet', // past nside 64
    'main/dark/230/main-dark-23040.parquet.tmp',
    'x/main/dark/230/main-dark-23040.parquet',
    '_desi-qad/journal/x.json',
    'main/dark/230/.desi-qad-tmp-abc',
    '',
  ]) {
    assert.equal(parseOutputPath(bad), undefined, bad);
  }
});
