/**
 * The streamed --fetch full's source (src/storage/sequential-source.ts) over real local files: forward reads
 * are served by the stream (every byte read once, only the asked ranges kept), a backward read is one
 * positional read counted as a fallback, header peeks outside a data step do not move the stream, a read past
 * the end is refused naming the file, a file shorter than its claimed length and an I/O error mid-stream fail
 * naming the file and the byte.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFileSource } from '../../src/storage/local.js';
import { ChunkBuffer, newStreamCounters, SequentialSource, type ChunkReadable, type StreamCounters } from '../../src/storage/sequential-source.js';

const CHUNK = 4096;
const SIZE = 10 * CHUNK + 123;
let dir = '';
let path = '';
let data: Buffer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'desi-qad-seq-'));
  path = join(dir, 'coadd-x.fits');
  data = randomBytes(SIZE);
  await writeFile(path, data);
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function same(got: Uint8Array, want: Uint8Array, what = ''): void {
  assert.equal(got.byteLength, want.byteLength, what);
  assert.ok(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(want), what);
}

function source(src: ChunkReadable, streaming = true, warned: string[] = []): { s: SequentialSource; c: StreamCounters; mode: { on: boolean } } {
  const c = newStreamCounters();
  const mode = { on: streaming };
  const s = new SequentialSource(src, new ChunkBuffer(new Uint8Array(CHUNK)), { streaming: () => mode.on, counters: c, onFallback: (m) => warned.push(m) });
  return { s, c, mode };
}

test('forward reads come from the stream, a backward read is one counted fallback, drain reads every byte once', async () => {
  const f = await LocalFileSource.open(path);
  try {
    const warned: string[] = [];
    const { s, c } = source(f, true, warned);
    same(await s.slice(100, 200), data.subarray(100, 200));
    same(await s.slice(CHUNK - 10, 3 * CHUNK + 5), data.subarray(CHUNK - 10, 3 * CHUNK + 5), 'a read across chunks');
    same(await s.slice(3 * CHUNK + 5, 3 * CHUNK + 9), data.subarray(3 * CHUNK + 5, 3 * CHUNK + 9), 'inside the current chunk');
    assert.equal(c.fallbacks, 0);
    assert.equal(c.streamedBytes, 4 * CHUNK, 'the stream read up to the end of the chunk holding the last byte asked for');
    assert.equal(s.position, 4 * CHUNK);
    // Behind the current chunk: read again by position, counted and told.
    same(await s.slice(10, 20), data.subarray(10, 20));
    assert.equal(c.fallbacks, 1);
    assert.equal(c.fallbackBytes, 10);
    assert.equal(warned.length, 1);
    assert.match(warned[0], /coadd-x\.fits: bytes 10-19 asked for after the stream passed them/);
    assert.equal(s.position, 4 * CHUNK, 'a fallback does not move the stream');
    await s.drain();
    assert.equal(c.streamedBytes, SIZE, 'every byte read exactly once by the stream');
    assert.equal(c.keptBytes, 100 + (3 * CHUNK + 15 - CHUNK) + 4);
    assert.equal(f.stats.bytesFetched, SIZE + 10, 'the file was read once, plus the fallback');
    // Past the end: refused, naming the file.
    await assert.rejects(
      s.slice(SIZE - 5, SIZE + 1),
      (e: unknown) => e instanceof RangeError && /coadd-x\.fits: byte range .* outside the object's/.test(e.message),
    );
  } finally {
    await f.close();
  }
});

test('outside a data step, reads beyond the first chunk are peeks that leave the stream where it is', async () => {
  const f = await LocalFileSource.open(path);
  try {
    const { s, c, mode } = source(f, false);
    same(await s.slice(0, 2880), data.subarray(0, 2880), 'the first chunk is streamed');
    assert.equal(s.position, CHUNK);
    same(await s.slice(6 * CHUNK, 6 * CHUNK + 2880), data.subarray(6 * CHUNK, 6 * CHUNK + 2880));
    assert.equal(c.peeks, 1);
    assert.equal(s.position, CHUNK, 'a peek does not move the stream');
    mode.on = true;
    same(await s.slice(2880, 5 * CHUNK), data.subarray(2880, 5 * CHUNK), 'the data step goes on from the first chunk');
    assert.equal(c.fallbacks, 0);
    assert.equal(c.peeks, 1);
  } finally {
    await f.close();
  }
});

test('a file shorter than its claimed length fails the stream naming the file and the byte', async () => {
  const p = join(dir, 'shrinks.fits');
  await writeFile(p, data);
  const f = await LocalFileSource.open(p); // its length is taken now
  try {
    await truncate(p, 5 * CHUNK + 7);
    const { s } = source(f);
    same(await s.slice(0, 10), data.subarray(0, 10));
    await assert.rejects(s.drain(), /shrinks\.fits: file ended at byte 20487, expected 41083 bytes/);
  } finally {
    await f.close();
  }
});

test('an I/O error mid-stream names the file and where it happened', async () => {
  const f = await LocalFileSource.open(path);
  try {
    let calls = 0;
    const failing: ChunkReadable = {
      name: f.name,
      byteLength: f.byteLength,
      slice: (a, b) => f.slice(a, b),
      readInto: async (buf, off, len, pos) => {
        if (++calls === 3) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
        return f.readInto(buf, off, len, pos);
      },
    };
    const { s } = source(failing);
    await assert.rejects(s.slice(0, 5 * CHUNK), (e: unknown) => {
      const m = (e as Error).message;
      return m.includes('coadd-x.fits: read failed at byte 8192 of 41083') && m.includes('EIO');
    });
  } finally {
    await f.close();
  }
});

test('a long kept range is read straight into its own memory: same bytes, every byte streamed once, the next reads go on from its end', async () => {
  const f = await LocalFileSource.open(path);
  try {
    const c = newStreamCounters();
    const s = new SequentialSource(f, new ChunkBuffer(new Uint8Array(CHUNK)), { streaming: () => true, counters: c, directReadBytes: 2 * CHUNK });
    same(await s.slice(100, 200), data.subarray(100, 200));
    // Starts inside the first chunk: its head is copied from the chunk, the rest read directly.
    const long = await s.slice(CHUNK - 50, 4 * CHUNK + 17);
    same(long, data.subarray(CHUNK - 50, 4 * CHUNK + 17), 'a long range across the chunk boundary');
    assert.equal(long.byteOffset, 0);
    assert.equal(long.buffer.byteLength, long.byteLength, 'its own ArrayBuffer, transferable whole');
    assert.equal(c.directBytes, 3 * CHUNK + 17);
    assert.equal(s.position, 4 * CHUNK + 17, 'the stream stops where the direct read did');
    // A short one next: through the chunk again, from the stream's position.
    same(await s.slice(4 * CHUNK + 20, 4 * CHUNK + 40), data.subarray(4 * CHUNK + 20, 4 * CHUNK + 40));
    assert.equal(c.directBytes, 3 * CHUNK + 17, 'a short range is not read directly');
    // Bytes the direct read passed are behind the stream now: a counted fallback, still the right bytes.
    same(await s.slice(2 * CHUNK, 2 * CHUNK + 8), data.subarray(2 * CHUNK, 2 * CHUNK + 8));
    assert.equal(c.fallbacks, 1);
    await s.drain();
    assert.equal(c.streamedBytes, SIZE, 'every byte read exactly once by the stream');
    assert.equal(f.stats.bytesFetched, SIZE + 8);
  } finally {
    await f.close();
  }
});
