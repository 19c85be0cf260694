/**
 * The dataset's wavelength table: its hash, its file (round trip, units, deterministic bytes), the write-once
 * protocol of concurrent writers on one local --out, and verify's check of it.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';
import { DesiError } from '../../src/desi/errors.js';
import {
  gridSha256,
  readWavelengthFile,
  WAVELENGTH_REL,
  wavelengthFileMetadata,
  wavelengthFileSha256,
  wavelengthTable,
  type ArmGrid,
} from '../../src/desi/wavelength.js';
import { buildTable, encodeParquet } from '../../src/parquet/index.js';
import { WavelengthTable } from '../../src/pipeline/wavelength-table.js';
import { LocalOutputStore } from '../../src/storage/output-local.js';
import { checkWavelengths } from '../../src/verify/wavelength-check.js';
import { LocalDatasetFiles } from '../../src/verify/dataset-files.js';
import type { OkTile } from '../../src/verify/checks.js';

function grid(arm: string, start: number, n: number): ArmGrid {
  return { arm, values: Float64Array.from({ length: n }, (_, i) => start + 0.8 * i) };
}
const GRIDS = [grid('B', 3600, 40), grid('R', 5760, 30), grid('Z', 7520, 35)];
const OTHER = [grid('B', 3600, 40), grid('R', 5760, 30), grid('Z', 7520.1, 35)];

function tableFile(grids: ArmGrid[]): { sha: string; bytes: Uint8Array } {
  const sha = gridSha256(grids);
  return { sha, bytes: encodeParquet(wavelengthTable(grids), wavelengthFileMetadata(sha)) };
}

test('gridSha256 is SHA-256 of "{ARM}:{n}\\n" and the float64 little-endian values, arm by arm', () => {
  const h = createHash('sha256');
  for (const g of GRIDS) {
    h.update(Buffer.from(`${g.arm}:${g.values.length}\n`, 'ascii'));
    const b = Buffer.alloc(8 * g.values.length);
    g.values.forEach((v, i) => b.writeDoubleLE(v, 8 * i));
    h.update(b);
  }
  assert.equal(gridSha256(GRIDS), h.digest('hex'));
  assert.notEqual(gridSha256(OTHER), gridSha256(GRIDS), 'one value of one arm changes the hash');
  assert.notEqual(gridSha256([GRIDS[1], GRIDS[0], GRIDS[2]]), gridSha256(GRIDS), 'so does the arms order');
});

test('the wavelength table file: a row per arm, exact values, unit metadata, the same bytes every time', () => {
  const { sha, bytes } = tableFile(GRIDS);
  assert.deepEqual(bytes, tableFile(GRIDS).bytes, 'a function of the grid alone');
  const back = readWavelengthFile(bytes, 'w.parquet');
  assert.equal(back.footerSha256, sha);
  assert.equal(back.unit, 'Angstrom');
  assert.equal(gridSha256(back.grids), sha, 'every value round-trips bit for bit');
  // An independent decode (parquet-wasm to Arrow IPC to apache-arrow) sees the schema and the unit on the field.
  const t = tableFromIPC(readParquet(bytes).intoIPCStream());
  assert.deepEqual(
    t.schema.fields.map((f) => `${f.name}:${String(f.type)}`),
    ['ARM:Utf8', 'WAVELENGTH:List<Float64>', 'VACUUM:Bool'],
  );
  assert.equal(t.schema.fields[1].metadata.get('unit'), 'Angstrom');
  assert.deepEqual(t.getChild('VACUUM')!.toArray(), [true, true, true]);
  assert.throws(() => wavelengthFileSha256(encodeParquet(wavelengthTable(GRIDS), {}), 'w.parquet'), /w\.parquet: its footer has no desi_qad/);
});

test('buildTable: ragged list rows and field metadata are checked', () => {
  const values = new Float64Array(5);
  assert.throws(
    () => buildTable(2, [{ name: 'W', kind: 'list', type: 'float64', values, width: 0, offsets: Int32Array.from([0, 3, 4]) }]),
    /offsets run from 0 to 4, expected 0 to 5/,
  );
  assert.throws(
    () => buildTable(2, [{ name: 'W', kind: 'list', type: 'float64', values, width: 0, offsets: Int32Array.from([0, 4, 3, 5]) }]),
    /needs 3 Int32 offsets/,
  );
  assert.throws(() => buildTable(2, [{ name: 'W', kind: 'list', type: 'float64', values, width: 0, offsets: Int32Array.from([0, 4, 3]) }]), /offsets run/);
  assert.throws(
    () => buildTable(1, [{ name: 'X', kind: 'scalar', type: 'float64', values: new Float64Array(1), metadata: { unit: 5 as unknown as string } }]),
    /metadata entry "unit"/,
  );
  const t = buildTable(2, [
    { name: 'W', kind: 'list', type: 'float64', values, width: 0, offsets: Int32Array.from([0, 2, 5]), metadata: { unit: 'Angstrom' } },
  ]);
  assert.equal((t.getChild('W')!.get(1) as { length: number }).length, 3);
});

test('writeOnce on a local folder: created once, never overwritten, no temporary left', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'desi-qad-wl-'));
  const out = new LocalOutputStore(dir);
  const a = tableFile(GRIDS).bytes;
  const b = tableFile(OTHER).bytes;
  assert.deepEqual(await out.writeOnce(WAVELENGTH_REL, a), { created: true });
  assert.deepEqual(await out.writeOnce(WAVELENGTH_REL, b), { created: false });
  assert.deepEqual(new Uint8Array(await readFile(join(dir, WAVELENGTH_REL))), a);
  assert.deepEqual(await readdir(join(dir, '_wavelength')), ['wavelength.parquet']);
});

test("runs on one --out: the first grid is the dataset's, the same grid passes, another fails naming the tile", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'desi-qad-wl-'));
  const same = tableFile(GRIDS);
  const other = tableFile(OTHER);
  // Several runs at once (each its own store and table), half of them with another grid.
  const runs = Array.from({ length: 6 }, () => new WavelengthTable(new LocalOutputStore(dir)));
  const results = await Promise.allSettled(
    runs.map((w, i) =>
      i % 2 === 0 ? w.ensure(`main/dark/${i}`, `coadd-${i}.fits`, same.sha, same.bytes) : w.ensure(`main/dark/${i}`, `coadd-${i}.fits`, other.sha, other.bytes),
    ),
  );
  const onDisk = wavelengthFileSha256(new Uint8Array(await readFile(join(dir, WAVELENGTH_REL))), 'x');
  assert.equal(results.filter((r) => r.status === 'rejected').length, 3, 'the three runs of the grid that lost');
  results.forEach((r, i) => {
    const mine = i % 2 === 0 ? same.sha : other.sha;
    if (mine === onDisk) assert.equal(r.status, 'fulfilled', `run ${i} has the dataset's grid`);
    else {
      assert.equal(r.status, 'rejected', `run ${i} has another grid`);
      const err = r.reason as DesiError;
      assert.ok(err instanceof DesiError && err.code === 'WAVELENGTH_MISMATCH');
      assert.match(err.message, new RegExp(`coadd-${i}\\.fits: .*tile main/dark/${i}: its wavelength grids`));
    }
  });
  // A later tile of a run compares with what the run established, without reading the file again.
  await assert.rejects(
    runs[0].ensure('main/dark/99', 'coadd-99.fits', onDisk === same.sha ? other.sha : same.sha, other.bytes),
    /WAVELENGTH|not the dataset's/,
  );
  await runs[1].ensure('main/dark/98', 'coadd-98.fits', onDisk, same.bytes);
});

test('verify: the table is checked against its own content and against every footer', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'desi-qad-wl-'));
  const files = new LocalDatasetFiles(dir);
  const ok = (tile: string, sha?: string): OkTile => ({
    rec: { tile } as OkTile['rec'],
    path: `${tile}.parquet`,
    info: sha === undefined ? {} : { wavelengthSha256: sha },
  });
  const { sha, bytes } = tableFile(GRIDS);
  assert.deepEqual(
    (await checkWavelengths(files, new Map(), [ok('a', sha)])).map((f) => f.kind),
    ['wavelength-missing'],
  );
  assert.deepEqual(await checkWavelengths(files, new Map(), []), [], 'no files, no table: nothing to say');
  await new LocalOutputStore(dir).writeOnce(WAVELENGTH_REL, bytes);
  const listing = new Map([[WAVELENGTH_REL, { size: bytes.byteLength }]]);
  assert.deepEqual(await checkWavelengths(files, listing, [ok('a', sha)]), []);
  const found = await checkWavelengths(files, listing, [ok('a', sha), ok('b', gridSha256(OTHER)), ok('c')]);
  assert.deepEqual(
    found.map((f) => `${f.kind} ${f.tile ?? ''}`),
    ['wavelength-mismatch b', 'wavelength-mismatch c'],
  );
  assert.match(found[1].detail, /older version/);
  // A table whose footer names another grid than the one it holds.
  const dir2 = await mkdtemp(join(tmpdir(), 'desi-qad-wl-'));
  const lying = encodeParquet(wavelengthTable(GRIDS), wavelengthFileMetadata(gridSha256(OTHER)));
  await new LocalOutputStore(dir2).writeOnce(WAVELENGTH_REL, lying);
  const bad = await checkWavelengths(new LocalDatasetFiles(dir2), new Map([[WAVELENGTH_REL, { size: lying.byteLength }]]), [ok('a', sha)]);
  assert.deepEqual(
    bad.map((f) => f.kind),
    ['bad-wavelength'],
  );
});
