import { findHdu, readHduData, scanHdus, type Hdu } from '../fits/index.js';
import { DesiError } from '../desi/errors.js';
import { provenanceOf } from '../desi/provenance.js';
import type { FooterInfo } from '../desi/schema.js';
import { selectionText, type Selection } from '../desi/selection.js';
import { findArms, planRowRanges, spectraImageInfo } from '../desi/spectra.js';
import { outputPath, tileFitsBytes, tileKey, type ObjectRef, type TileRef } from '../desi/tile.js';
import { imageInfo } from '../fits/index.js';
import type { ByteSource } from '../fits/source.js';
import { MemorySource } from '../storage/source.js';
import type { OpenedObject, TileStore } from '../storage/tile-store.js';
import type { OutputStore } from '../storage/output-store.js';
import { classify, isFatalOutput } from './errors.js';
import type { TileStatus } from './journal.js';
import type { WorkerPool } from './pool.js';
import type { ByteBudget } from './budget.js';
import { toWire, type SpectraChunkSet } from './tasks.js';

export type FetchMode = 'ranges' | 'full';

export interface TileJobContext {
  store: TileStore;
  out: OutputStore;
  pool: WorkerPool;
  selection: Selection;
  fetch: FetchMode;
  /** Rows of an image closer than this many bytes are read in one request (ranges mode). */
  gapBytes: number;
  version: string;
  /** Bytes of tile data in flight across all tiles (owned by the runner). */
  budget: ByteBudget;
  /** With --keep-fits: where whole downloaded files are also written (a local folder). */
  keepFits?: (ref: ObjectRef, bytes: Uint8Array) => Promise<void>;
}

/** What happened to one tile: the journal record's content plus timings for the batch summary. */
export interface TileOutcome {
  tile: TileRef;
  key: string;
  status: TileStatus;
  rows: number;
  fitsBytes: number; // sizes of the coadd and redrock files (what the seed called FITS size)
  fetchedBytes: number; // bytes actually read from the source
  requests: number;
  parquetBytes: number;
  path?: string;
  errorClass?: string;
  error?: string;
  ms: number;
  /** Time spent waiting for reads, and for the worker pool (select, match, encode), in ms. */
  ioMs: number;
  poolMs: number;
  /** Set when the error means the run cannot go on (the output disk is full or read-only). */
  fatal?: boolean;
}

/**
 * Converts one tile. I/O happens here on the main thread; decoding and encoding happen in the pool. With
 * `ranges`, it reads the redrock's headers and REDSHIFTS, and only when a row is selected the coadd's
 * headers, FIBERMAP and the selected rows of the FLUX/IVAR/MASK images; with `full`, both files are read
 * whole first (the seed's way), then the same reader slices memory. Never throws: failures are outcomes.
 */
export async function runTile(ctx: TileJobContext, tile: TileRef): Promise<TileOutcome> {
  const t0 = performance.now();
  const key = tileKey(tile);
  const outcome: TileOutcome = { tile, key, status: 'failed', rows: 0, fitsBytes: tileFitsBytes(tile), fetchedBytes: 0, requests: 0, parquetBytes: 0, ms: 0, ioMs: 0, poolMs: 0 };
  if (!tile.coadd || !tile.redrock) {
    const missing = [!tile.coadd && 'coadd', !tile.redrock && 'redrock'].filter(Boolean).join(' and ');
    outcome.status = 'missing';
    outcome.errorClass = 'MISSING_SOURCE';
    outcome.error = `${key}: no ${missing} file in the tile's directory`;
    outcome.ms = performance.now() - t0;
    return outcome;
  }
  const opened: OpenedObject[] = [];
  // Memory: with `full`, the whole files plus what is cut from them are held for the whole tile (2 x their
  // size, taken at once). With `ranges`, each step holds only its own bytes and gives them back before the
  // next step asks: no tile ever holds bytes while waiting for more, so tiles cannot deadlock on the budget.
  const releases: (() => void)[] = [];
  const hold = async (bytes: number, what: string) => void releases.push(await ctx.budget.acquire(bytes, what));
  const letGo = () => releases.splice(0).forEach((r) => r());
  /** Awaits `p`, adding the wait to the outcome's read time or pool time. */
  const timed = async <T>(p: Promise<T>, into: 'ioMs' | 'poolMs'): Promise<T> => {
    const t = performance.now();
    try {
      return await p;
    } finally {
      outcome[into] += performance.now() - t;
    }
  };
  const io = <T>(p: Promise<T>) => timed(p, 'ioMs');
  const open = async (ref: ObjectRef): Promise<ByteSource> => {
    const o = await io(ctx.store.open(ref));
    opened.push(o);
    if (ctx.fetch === 'ranges') return o;
    const bytes = await io(o.slice(0, o.byteLength));
    if (ctx.keepFits) await io(ctx.keepFits(ref, bytes));
    return new MemorySource(o.name, bytes);
  };
  try {
    if (ctx.fetch === 'full') await hold(2 * outcome.fitsBytes, `${key} (whole files)`);
    const [rr, coaddLazy] = ctx.fetch === 'full' ? await Promise.all([open(tile.redrock), open(tile.coadd)]) : [await open(tile.redrock), undefined];
    // All of the redrock's headers (a few small reads): a second REDSHIFTS would make the table meant ambiguous.
    const rrHdus = await io(scanHdus(rr));
    const redshifts = findHdu(rr.name, rrHdus, 'REDSHIFTS');
    if (ctx.fetch === 'ranges') await hold(redshifts.dataLength, `${rr.name} REDSHIFTS`);
    const sel = await timed(ctx.pool.run('select', { file: rr.name, hdu: toWire(redshifts), data: await io(readHduData(rr, redshifts)), selection: ctx.selection }), 'poolMs');
    if (ctx.fetch === 'ranges') letGo();
    if (sel.targetids.length === 0) {
      outcome.status = 'empty';
      return outcome;
    }
    const coadd = coaddLazy ?? (await open(tile.coadd));
    const cHdus = await io(scanHdus(coadd));
    checkPixel(coadd.name, cHdus[0], tile);
    const fibermap = findHdu(coadd.name, cHdus, 'FIBERMAP');
    if (ctx.fetch === 'ranges') await hold(fibermap.dataLength, `${coadd.name} FIBERMAP`);
    const match = await timed(ctx.pool.run('match', { file: coadd.name, hdu: toWire(fibermap), data: await io(readHduData(coadd, fibermap)), targetids: sel.targetids }), 'poolMs');
    if (ctx.fetch === 'ranges') letGo();
    const arms = findArms(coadd.name, cHdus);
    // Plan every read first (header arithmetic only), then take the budget once for all of them.
    const spectra: SpectraChunkSet[] = [];
    const wavelengths: { arm: string; hdu: ReturnType<typeof toWire>; bytes: Uint8Array }[] = [];
    const plan: { start: number; end: number; put: (b: Uint8Array) => void }[] = [];
    for (const arm of arms) {
      const wInfo = imageInfo(coadd.name, arm.wavelength);
      if (wInfo.axes.length !== 1) throw new DesiError('SHAPE_MISMATCH', coadd.name, `expected a 1-D wavelength array, found NAXIS=${wInfo.axes.length}`, arm.wavelength.name);
      const nwave = wInfo.axes[0];
      const w = arm.wavelength;
      plan.push({ start: w.dataStart, end: w.dataStart + w.dataLength, put: (bytes) => void wavelengths.push({ arm: arm.arm, hdu: toWire(w), bytes }) });
      for (const { kind, hdu } of arm.images) {
        const info = spectraImageInfo(coadd.name, hdu, match.nspec, nwave);
        const set: SpectraChunkSet = { name: hdu.name, kind: kind.suffix, hdu: toWire(hdu), info, chunks: [] };
        spectra.push(set);
        const gap = ctx.fetch === 'full' ? Infinity : ctx.gapBytes;
        for (const r of planRowRanges(info, hdu, match.coaddRows, gap)) {
          const chunk: SpectraChunkSet['chunks'][number] = { firstRow: r.firstRow, endRow: r.endRow, bytes: new Uint8Array(0) };
          set.chunks.push(chunk);
          plan.push({ start: r.start, end: r.end, put: (bytes) => void (chunk.bytes = bytes) });
        }
      }
    }
    // The fetched rows, and the worker's decoded copy of the selected ones.
    if (ctx.fetch === 'ranges') await hold(2 * plan.reduce((s, p) => s + p.end - p.start, 0), `${coadd.name} spectra rows`);
    await io(Promise.all(plan.map((p) => coadd.slice(p.start, p.end).then(p.put))));
    wavelengths.sort((a, b) => arms.findIndex((x) => x.arm === a.arm) - arms.findIndex((x) => x.arm === b.arm));
    const metadata: FooterInfo = {
      version: ctx.version,
      selection: selectionText(ctx.selection),
      tile: key,
      sources: [describe(ctx, 'coadd', tile.coadd), describe(ctx, 'redrock', tile.redrock)],
      provenance: { coadd: provenanceOf(cHdus[0].header), redrock: provenanceOf(rrHdus[0].header) },
    };
    const { coaddRows, order, fibermap: fm } = match;
    const enc = await timed(ctx.pool.run('encode', { coaddFile: coadd.name, tile: { survey: tile.survey, program: tile.program, healpix: tile.healpix }, redshifts: sel.redshifts, match: { coaddRows, order, fibermap: fm }, spectra, wavelengths, metadata }), 'poolMs');
    const rel = outputPath(tile);
    try {
      await io(ctx.out.writeAtomic(rel, enc.parquet));
    } catch (err) {
      outcome.fatal = isFatalOutput(err);
      throw err;
    }
    Object.assign(outcome, { status: 'ok', rows: enc.rows, parquetBytes: enc.parquet.byteLength, path: rel });
    return outcome;
  } catch (err) {
    const f = classify(err);
    outcome.status = 'failed';
    outcome.errorClass = f.errorClass;
    outcome.error = f.message;
    return outcome;
  } finally {
    letGo();
    for (const o of opened) {
      outcome.fetchedBytes += o.stats.bytesFetched;
      outcome.requests += o.stats.requests;
      await o.close().catch(() => undefined);
    }
    outcome.ms = performance.now() - t0;
  }
}

/** A coadd whose header names another pixel than its path would fill the dataset with wrong HEALPIX values. */
function checkPixel(file: string, primary: Hdu, tile: TileRef): void {
  const v = primary.header.get('HPXPIXEL');
  if (typeof v === 'number' && v !== tile.healpix) {
    throw new DesiError('TILE_MISMATCH', file, `HPXPIXEL = ${v} but the file is stored as pixel ${tile.healpix}`, 'PRIMARY', 'HPXPIXEL');
  }
}

function describe(ctx: TileJobContext, role: 'coadd' | 'redrock', ref: ObjectRef): FooterInfo['sources'][number] {
  const d: FooterInfo['sources'][number] = { role, name: ctx.store.displayName(ref), size: ref.size };
  if (ref.etag) d.etag = ref.etag;
  if (ref.mtimeMs !== undefined) d.mtime = new Date(ref.mtimeMs).toISOString();
  return d;
}
