import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outputPath, tileKey, type TileRef } from '../../src/desi/tile.js';
import { FOOTER_KEY } from '../../src/desi/schema.js';
import { buildTable, encodeParquet } from '../../src/parquet/index.js';
import { checkResume, FIRST_TAIL_BYTES } from '../../src/pipeline/resume-check.js';
import type { TileRecord } from '../../src/storage/journal-store.js';
import type { OutputStore } from '../../src/storage/output-store.js';

const SELECTION = 'spectype=QSO';

/** A Parquet file of `rows` rows whose footer names `tile`, with `padding` characters of extra footer text. */
function parquetFor(tile: string, rows: number, padding = 0, selection = SELECTION): Uint8Array {
  const table = buildTable(rows, [{ name: 'TARGETID', kind: 'scalar', type: 'int64', values: BigInt64Array.from({ length: rows }, (_, k) => BigInt(k)) }]);
  return encodeParquet(table, { [FOOTER_KEY]: JSON.stringify({ tile, selection, pad: 'x'.repeat(padding) }) });
}

/** An output of in-memory files that counts the reads of their tails. */
function memoryOutput(files: Map<string, Uint8Array>): { out: OutputStore; reads: string[] } {
  const reads: string[] = [];
  const out = {
    root: 'mem:',
    listFiles: () => Promise.resolve(new Map([...files].map(([k, v]) => [k, v.byteLength]))),
    readTail: (rel: string, n: number) => {
      reads.push(rel);
      const f = files.get(rel);
      return Promise.resolve(f === undefined ? undefined : f.subarray(Math.max(0, f.byteLength - n)));
    },
  } as unknown as OutputStore;
  return { out, reads };
}

function doneRecord(t: TileRef, bytes: Uint8Array, rows: number): TileRecord {
  return {
    type: 'tile',
    tile: tileKey(t),
    status: 'ok',
    time: '2026-12-03T10:00:00.000Z',
    run: 'r',
    rows,
    parquetBytes: bytes.byteLength,
    path: outputPath(t),
  };
}

test('checkResume: a tile whose footer fits the first read is checked with one read of its file', async () => {
  const tiles: TileRef[] = [1, 2, 3].map((healpix) => ({ survey: 'main', program: 'dark', healpix }));
  const files = new Map<string, Uint8Array>();
  const done = new Map<string, TileRecord>();
  for (const t of tiles) {
    const bytes = parquetFor(tileKey(t), 3);
    files.set(outputPath(t), bytes);
    done.set(tileKey(t), doneRecord(t, bytes, 3));
  }
  const { out, reads } = memoryOutput(files);
  const r = await checkResume({ tiles, done, out, selection: SELECTION });
  assert.deepEqual([...r.done].sort(), tiles.map(tileKey).sort());
  assert.deepEqual(r.damaged, []);
  assert.equal(reads.length, tiles.length, 'one read per file');
});

test('checkResume: a footer longer than the first read is still read whole and checked', async () => {
  const big: TileRef = { survey: 'main', program: 'dark', healpix: 7 };
  const wrong: TileRef = { survey: 'main', program: 'dark', healpix: 8 };
  const bigBytes = parquetFor(tileKey(big), 2, 2 * FIRST_TAIL_BYTES);
  // A long footer that names another tile: found out only by reading all of it.
  const wrongBytes = parquetFor('main/dark/999', 2, 2 * FIRST_TAIL_BYTES);
  const files = new Map([
    [outputPath(big), bigBytes],
    [outputPath(wrong), wrongBytes],
  ]);
  const done = new Map([
    [tileKey(big), doneRecord(big, bigBytes, 2)],
    [tileKey(wrong), doneRecord(wrong, wrongBytes, 2)],
  ]);
  const { out } = memoryOutput(files);
  const r = await checkResume({ tiles: [big, wrong], done, out, selection: SELECTION });
  assert.deepEqual([...r.done], [tileKey(big)]);
  assert.equal(r.damaged.length, 1);
  assert.match(r.damaged[0].why, /footer names tile main\/dark\/999/);
});

test('checkResume: a cut file, a file of another size and a wrong row count are damaged, not done', async () => {
  const tiles: TileRef[] = [11, 12, 13].map((healpix) => ({ survey: 'sv1', program: 'bright', healpix }));
  const whole = tiles.map((t) => parquetFor(tileKey(t), 4));
  const files = new Map<string, Uint8Array>([
    [outputPath(tiles[0]), whole[0].subarray(0, whole[0].byteLength - 3)], // cut: the trailer is gone
    [outputPath(tiles[1]), whole[1]],
    [outputPath(tiles[2]), whole[2]],
  ]);
  const done = new Map<string, TileRecord>([
    [tileKey(tiles[0]), { ...doneRecord(tiles[0], whole[0], 4), parquetBytes: undefined }],
    [tileKey(tiles[1]), { ...doneRecord(tiles[1], whole[1], 4), parquetBytes: whole[1].byteLength + 1 }],
    [tileKey(tiles[2]), doneRecord(tiles[2], whole[2], 5)],
  ]);
  const { out } = memoryOutput(files);
  const r = await checkResume({ tiles, done, out, selection: SELECTION });
  assert.equal(r.done.size, 0);
  assert.deepEqual(
    r.damaged.map((d) => d.tile),
    tiles.map(tileKey),
  );
  assert.match(r.damaged[1].why, /bytes, the journal says/);
  assert.match(r.damaged[2].why, /4 rows, the journal says 5/);
});
