/**
 * Memory stays bounded with a multi-GB coadd in the set: a sparse coadd of 60,000 spectra (about 5.7 GB, its
 * image data holes on disk) with 5 selected targets. `--fetch ranges` converts it while holding only the rows
 * it keeps; the streamed `--fetch full` with a 1 GB --memory reads all of it through one chunk buffer, keeps
 * only those rows and writes the same file. In both runs the process's peak RSS stays far below the file's size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { padToBlock } from '../../src/fits/block.js';
import { formatHeader } from '../../src/fits/card-format.js';
import { imageHeaderCards } from '../../src/fits/hdu-spec.js';
import { FitsWriter } from '../../src/fits/writer.js';
import { collect, listFiles, startCli } from '../helpers/cli.js';
import { duckQuery } from '../helpers/duckdb.js';

const NSPEC = 60_000;
const ARMS = [
  ['B', 2751, 3600],
  ['R', 2326, 5760],
  ['Z', 2881, 7520],
] as const;
const SELECTED = [7, 12_345, 30_000, 45_678, 59_999];
const tid = (row: number) => 39_627_000_000_000_000n + BigInt(row);

async function writeTile(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  const coadd = join(dir, 'coadd-main-dark-5000.fits');
  const w = await FitsWriter.create(coadd);
  await w.writePrimary([
    { key: 'HPXPIXEL', value: 5000 },
    { key: 'SPECPROD', value: 'test' },
  ]);
  await w.writeBinTable(
    { extname: 'FIBERMAP', columns: [{ name: 'TARGETID', tform: 'K' }], nrows: NSPEC },
    { TARGETID: BigInt64Array.from({ length: NSPEC }, (_, i) => tid(i)) },
  );
  await w.close();
  // The images: headers written in place, data left as holes (zeros on read), so the file is sparse.
  const fh = await open(coadd, 'r+');
  let pos = (await fh.stat()).size;
  for (const [arm, n, start] of ARMS) {
    const wave = Float64Array.from({ length: n }, (_, i) => start + 0.8 * i);
    const hdr = formatHeader(imageHeaderCards({ extname: `${arm}_WAVELENGTH`, bitpix: -64, naxes: [n] }));
    await fh.write(hdr, 0, hdr.length, pos);
    const be = Buffer.from(wave.buffer.slice(0));
    be.swap64();
    await fh.write(be, 0, be.length, pos + hdr.length);
    pos += hdr.length + padToBlock(be.length);
    for (const [kind, bitpix] of [
      ['FLUX', -32],
      ['IVAR', -32],
      ['MASK', 32],
    ] as const) {
      const h = formatHeader(imageHeaderCards({ extname: `${arm}_${kind}`, bitpix, naxes: [n, NSPEC] }));
      await fh.write(h, 0, h.length, pos);
      pos += h.length + padToBlock(n * NSPEC * 4);
    }
  }
  await fh.truncate(pos);
  await fh.close();
  const rr = await FitsWriter.create(join(dir, 'redrock-main-dark-5000.fits'));
  await rr.writePrimary([]);
  await rr.writeBinTable(
    {
      extname: 'REDSHIFTS',
      columns: [
        { name: 'TARGETID', tform: 'K' },
        { name: 'Z', tform: 'D' },
        { name: 'ZWARN', tform: 'K' },
        { name: 'SPECTYPE', tform: 'A', repeat: 6 },
      ],
      nrows: SELECTED.length,
    },
    {
      TARGETID: BigInt64Array.from(SELECTED, tid),
      Z: Float64Array.from(SELECTED, (_, i) => 2 + i / 10),
      ZWARN: new BigInt64Array(SELECTED.length),
      SPECTYPE: SELECTED.map(() => 'QSO'),
    },
  );
  await rr.close();
  return pos;
}

/** Runs the CLI and samples its peak RSS (VmHWM) while it runs. */
async function runMeasured(args: string[]): Promise<{ code: number | null; peakMB: number; stderr: string }> {
  const child = startCli(args);
  const done = collect(child);
  let peak = 0;
  const timer = setInterval(() => {
    void readFile(`/proc/${child.pid}/status`, 'utf8')
      .catch(() => '')
      .then((status) => {
        const m = /VmHWM:\s+(\d+) kB/.exec(status);
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      });
  }, 25);
  const r = await done;
  clearInterval(timer);
  return { code: r.code, peakMB: peak, stderr: r.stderr };
}

test(
  'a multi-GB (sparse) coadd: ranges reads only its kept rows; full under a small --memory streams it and keeps only those rows',
  { timeout: 120_000 },
  async () => {
    const work = await mkdtemp(join(tmpdir(), 'desi-qad-big-'));
    try {
      const size = await writeTile(join(work, 'tree/main/dark/50/5000'));
      assert.ok(size > 5e9, `the coadd claims ${size} bytes`);
      const base = ['convert', '--source', join(work, 'tree'), '--log-dir', join(work, 'logs'), '--quiet', '--threads', '1'];
      const ranges = await runMeasured([...base, '--out', join(work, 'out-ranges'), '--memory', '256MB']);
      assert.equal(ranges.code, 0, ranges.stderr);
      const rows = await duckQuery(
        `SELECT TARGETID, len(B_FLUX) AS nb, len(Z_MASK) AS nz, typeof(COEFF) AS coeff_type, COEFF IS NULL AS coeff_null FROM read_parquet('${join(work, 'out-ranges')}/*/*/*/*.parquet') ORDER BY TARGETID`,
      );
      assert.deepEqual(
        rows.map((r) => r.TARGETID),
        SELECTED.map(tid),
      );
      assert.ok(rows.every((r) => Number(r.nb) === 2751 && Number(r.nz) === 2881));
      // Columns this redrock lacks are null with the dataset's types (COEFF stays a list of doubles).
      assert.ok(
        rows.every((r) => r.coeff_type === 'DOUBLE[]' && r.coeff_null === true),
        JSON.stringify(rows[0], (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
      );
      assert.ok(ranges.peakMB > 0 && ranges.peakMB < 1000, `peak RSS ${ranges.peakMB.toFixed(0)} MB for a ${(size / 1e9).toFixed(1)} GB coadd`);

      // The streamed --fetch full reads the whole coadd through one chunk buffer and keeps only the rows: it
      // fits a 1 GB budget the whole-file way could never hold, and writes the same file as ranges.
      const full = await runMeasured([...base, '--out', join(work, 'out-full'), '--fetch', 'full', '--memory', '1GB']);
      assert.equal(full.code, 0, full.stderr);
      const parquet = (await listFiles(join(work, 'out-ranges'))).filter((f) => f.endsWith('.parquet'));
      assert.ok(parquet.length >= 1);
      for (const f of parquet)
        assert.ok((await readFile(join(work, 'out-full', f))).equals(await readFile(join(work, 'out-ranges', f))), `${f}: full and ranges agree`);
      assert.ok(full.peakMB > 0 && full.peakMB < 1000, `peak RSS ${full.peakMB.toFixed(0)} MB`);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  },
);
