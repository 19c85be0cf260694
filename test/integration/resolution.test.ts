/**
 * `convert --with resolution` end to end on the fixture tree: the resolution rows are read by ranges (never
 * the whole coadd), a tile whose RESOLUTION HDU has the wrong shape fails naming the file and HDU while the
 * others finish, the same tile converts without the option (RESOLUTION is then never read), verify accepts
 * the dataset, and a run without the option on a dataset made with it is refused (one dataset, one schema).
 * The values themselves are checked against astropy in columns-oracle.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURE_TREE, readLocalJournal, runCli } from '../helpers/cli.js';
import { setCard } from '../helpers/corrupt.js';
import { listRow, readArrow } from '../helpers/parquet-bits.js';
import type { TileRecord } from '../../src/storage/journal-store.js';

// --gap-bytes 0: only the selected rows' bytes are read, so what --with resolution adds is exactly their RESOLUTION rows.
const ALL = ['--survey', 'main', '--program', 'dark', '--quiet', '--threads', '1', '--gap-bytes', '0'];

async function latestRecords(out: string): Promise<Map<string, TileRecord>> {
  const latest = new Map<string, TileRecord>();
  for (const rec of await readLocalJournal(out)) if (rec.type === 'tile') latest.set(rec.tile, rec);
  return latest;
}

test('--with resolution: ranged reads, a misshapen RESOLUTION fails its tile only, verify holds, and the option is part of the dataset', async () => {
  const work = await mkdtemp(join(tmpdir(), 'desi-qad-resolution-'));
  try {
    const tree = join(work, 'tree');
    await cp(FIXTURE_TREE, tree, { recursive: true });
    // B_RESOLUTION of 23040 says (11, 40) per spectrum instead of (40, 11): the same bytes, the wrong shape.
    const broken = join(tree, 'main/dark/230/23040/coadd-main-dark-23040.fits');
    await setCard(broken, 'B_RESOLUTION', 'NAXIS1', '11');
    await setCard(broken, 'B_RESOLUTION', 'NAXIS2', '40');

    const out = join(work, 'out');
    const r = await runCli(['convert', '--source', tree, '--out', out, '--log-dir', join(work, 'logs'), '--with', 'resolution', ...ALL]);
    assert.equal(r.code, 1, `done with a failed (and a missing-source) tile\n${r.stderr}`);
    const latest = await latestRecords(out);
    const bad = latest.get('main/dark/23040');
    assert.equal(bad?.status, 'failed', JSON.stringify(bad));
    assert.equal(bad.errorClass, 'SHAPE_MISMATCH');
    assert.match(bad.error!, /coadd-main-dark-23040\.fits: HDU B_RESOLUTION: NAXIS1: has 11 wavelengths \(NAXIS1\) but the WAVELENGTH HDU has 40/);

    const good = latest.get('main/dark/27247');
    assert.equal(good?.status, 'ok', JSON.stringify(good));
    const table = await readArrow(join(out, 'main/dark/272/main-dark-27247.parquet'));
    const names = table.schema.fields.map((f) => f.name);
    assert.deepEqual(names.slice(-4), ['Z_MASK', 'B_RESOLUTION', 'R_RESOLUTION', 'Z_RESOLUTION']);
    for (const [arm, nwave] of [
      ['B', 40],
      ['R', 30],
      ['Z', 35],
    ] as const) {
      const row = listRow(table, `${arm}_RESOLUTION`, 0);
      assert.ok(row instanceof Float32Array);
      assert.equal(row.length, 11 * nwave);
    }

    // verify: the footers say --with resolution and the files have the columns.
    const v = await runCli(['verify', '--json', '--out', out]);
    assert.doesNotMatch(v.stdout, /schema-mismatch/, v.stdout);
    // verify --deep converts the ok tile again with the dataset's --with, so the bytes are the same.
    const deep = await runCli(['verify', '--json', '--out', out, '--source', tree, '--deep', '5']);
    const report = JSON.parse(deep.stdout) as { checked: { deep?: number } };
    assert.ok((report.checked.deep ?? 0) >= 1, deep.stdout);
    assert.doesNotMatch(deep.stdout, /deep-mismatch|deep-failed/, deep.stdout);

    // The same --out without the option: refused before anything is read, saying why.
    const again = await runCli(['convert', '--source', tree, '--out', out, '--log-dir', join(work, 'logs2'), ...ALL]);
    assert.equal(again.code, 2, again.stderr);
    assert.match(again.stdout + again.stderr, /--with resolution: with B\/R\/Z_RESOLUTION in the dataset, without in this run/);

    // Without --with resolution the broken tile converts: its RESOLUTION HDUs are never read.
    const plain = join(work, 'plain');
    const p = await runCli(['convert', '--source', tree, '--out', plain, '--log-dir', join(work, 'logs3'), ...ALL]);
    assert.equal(p.code, 1, `the fixture's 27248 has no redrock: missing-source\n${p.stderr}`);
    assert.equal((await latestRecords(plain)).get('main/dark/23040')?.status, 'ok');
    const t = await readArrow(join(plain, 'main/dark/230/main-dark-23040.parquet'));
    assert.equal(t.numRows, 4);
    assert.ok(!t.schema.fields.some((f) => f.name.endsWith('_RESOLUTION')));
    // Ranged reads of the selected rows only: the 2 rows of 27247 add 2 x 11 x (40 + 30 + 35) float32, not
    // the RESOLUTION HDUs' 12 rows.
    const without = (await latestRecords(plain)).get('main/dark/27247');
    assert.equal(without?.status, 'ok');
    assert.equal(good.fetchedBytes! - without.fetchedBytes!, 2 * 11 * (40 + 30 + 35) * 4);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});
