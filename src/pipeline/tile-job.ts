import { findHdu, readHduData, scanHdus, type ByteSource, type Hdu } from '../fits/index.js';
import { DesiError } from '../desi/errors.js';
import { provenanceOf } from '../desi/provenance.js';
import { fillPlan, planBytes, planSpectraReads } from '../desi/read-plan.js';
import type { TileTableInput } from '../desi/tile-table.js';
import type { FooterInfo } from '../desi/schema.js';
import { afterburnerFileName, afterburnerHdu } from '../desi/afterburners.js';
import type { ColumnSet } from '../desi/column-sets.js';
import { afterburnersNeeded, afterburnersRead, needsRefine, selectionText, type AfterburnerKind, type Selection } from '../desi/selection.js';
import { outputPath, tileFitsBytes, tileKey, type ObjectRef, type TileRef } from '../desi/tile.js';
import type { TileStatus } from '../storage/journal-store.js';
import type { OutputStore } from '../storage/output-store.js';
import { throwIfAborted } from '../storage/abort.js';
import { addRetryCounters, newRetryCounters, type RetryCounters } from '../storage/retry.js';
import { classify, isAborted, isFatalOutput } from './errors.js';
import { tileFetch, type FetchContext, type FetchMode } from './fetch.js';
import type { WorkerPool } from './pool.js';
import { toEncodeTask, toWire, type RefineWire } from './tasks.js';
import type { WavelengthTable } from './wavelength-table.js';

export type { FetchMode };

export interface TileJobContext extends FetchContext {
  out: OutputStore;
  pool: WorkerPool;
  selection: Selection;
  /** --with: the afterburners whose columns the dataset adds (afterburner-columns.ts), whatever the selection. */
  withAfterburners?: AfterburnerKind[];
  /** The dataset's column set (--columns; default 'default'). */
  columns?: ColumnSet;
  fetch: FetchMode;
  version: string;
  /**
   * The dataset file the journal says this tile has (its latest record is ok), if any: a tile that now selects
   * no row (its sources changed) has that file removed, so the dataset never keeps rows its sources no longer give.
   */
  earlierFile?: (tile: TileRef) => string | undefined;
  /**
   * The dataset's wavelength table, which every tile with spectra writes or checks before its own file
   * (wavelength-table.ts). Without it (tests of one tile's conversion) no table is written.
   */
  wavelengths?: WavelengthTable;
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
  /** S3 retries of the tile's reads (the sum over the objects it opened). */
  retries: RetryCounters;
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
  /**
   * Set when the run's signal stopped the tile before it finished (status 'failed', errorClass 'ABORTED'):
   * the run does not journal it, so a later run converts it.
   */
  aborted?: boolean;
}

/**
 * Converts one tile. I/O happens here on the main thread, through the mode's fetch strategy (which owns the
 * tile's memory budget); decoding and encoding happen in the pool. The steps: the redrock's headers and
 * REDSHIFTS, the selection (a tile with no selected row stops there), the coadd's headers and FIBERMAP, the
 * match by TARGETID, the read plan of the selected spectra rows and its reads, the encode, the atomic write.
 * Never throws: failures are outcomes. The run's signal (ctx.signal) stops the reads, the waits and the pool
 * tasks, giving an outcome with `aborted: true`; the write of a tile whose Parquet is encoded is not stopped.
 */
export async function runTile(ctx: TileJobContext, tile: TileRef): Promise<TileOutcome> {
  const t0 = performance.now();
  const key = tileKey(tile);
  const outcome: TileOutcome = {
    tile,
    key,
    status: 'failed',
    rows: 0,
    fitsBytes: tileFitsBytes(tile),
    fetchedBytes: 0,
    requests: 0,
    retries: newRetryCounters(),
    parquetBytes: 0,
    ms: 0,
    ioMs: 0,
    poolMs: 0,
  };
  if (!tile.coadd || !tile.redrock) {
    const missing = [!tile.coadd && 'coadd', !tile.redrock && 'redrock'].filter(Boolean).join(' and ');
    outcome.status = 'missing';
    outcome.errorClass = 'MISSING_SOURCE';
    outcome.error = `${key}: no ${missing} file in the tile's directory`;
    outcome.ms = performance.now() - t0;
    return outcome;
  }
  const byRules = afterburnersNeeded(ctx.selection);
  const withKinds = ctx.withAfterburners ?? [];
  const needed = afterburnersRead(ctx.selection, withKinds);
  const absent = needed.filter((k) => tile.afterburners?.[k] === undefined);
  if (absent.length > 0) {
    const why = absent.map((k) =>
      byRules.includes(k) ? `the selection "${selectionText(ctx.selection)}" needs it` : `--with ${withKinds.join(',')} asks for its columns`,
    );
    const files = absent.map((k) => (tile.cumulative ? `${k} file` : `${k} file ${afterburnerFileName(k, tile)}`));
    outcome.status = 'missing';
    outcome.errorClass = 'MISSING_SOURCE';
    outcome.error = `${key}: no ${files.join(' and no ')} in the tile's directory (${[...new Set(why)].join('; ')})`;
    outcome.ms = performance.now() - t0;
    return outcome;
  }
  const { coadd: coaddRef, redrock: redrockRef } = tile;
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
  const pool = <T>(p: Promise<T>) => timed(p, 'poolMs');
  const fetch = tileFetch(ctx.fetch, ctx, tile, io);
  let writing = false; // the write's own failures are never taken for the abort's
  try {
    throwIfAborted(ctx.signal, key);
    await fetch.begin();
    const rr = await fetch.redrock();
    // All of the redrock's headers (a few small reads): a second REDSHIFTS would make the table meant ambiguous.
    const rrHdus = await io(scanHdus(rr));
    const redshifts = findHdu(rr.name, rrHdus, 'REDSHIFTS');
    // TSNR2 (a few KB, read by its own range, like REDSHIFTS); older redrock files have none: null columns.
    const tsnr2Hdu = findOptionalHdu(rr.name, rrHdus, 'TSNR2');
    const tableBytes = redshifts.dataLength + (tsnr2Hdu?.dataLength ?? 0);
    const sel = await fetch.holding(tableBytes, `${rr.name} REDSHIFTS and TSNR2`, async () => {
      const data = await io(readHduData(rr, redshifts));
      const tsnr2 = tsnr2Hdu && { hdu: toWire(tsnr2Hdu), data: await io(readHduData(rr, tsnr2Hdu)) };
      return pool(ctx.pool.run('select', { file: rr.name, hdu: toWire(redshifts), data, selection: ctx.selection, columns: ctx.columns, tsnr2 }, ctx.signal));
    });
    /** A tile that selects no row: its earlier file (if any) is removed. */
    const empty = async (): Promise<TileOutcome> => {
      const earlier = ctx.earlierFile?.(tile);
      if (earlier !== undefined) {
        writing = true; // like a write: not stopped by the signal, and its failure is the output's
        try {
          await io(ctx.out.remove(earlier));
        } catch (err) {
          outcome.fatal = isFatalOutput(err);
          throw err;
        }
      }
      outcome.status = 'empty';
      return outcome;
    };
    if (sel.targetids.length === 0) return await empty();
    // The afterburners the selection and --with read (a few KB each): headers now, the one table HDU each
    // with the FIBERMAP below, inside its share of the memory budget.
    const abHdus: { kind: AfterburnerKind; src: ByteSource; hdu: Hdu }[] = [];
    const sources: FooterInfo['sources'] = [];
    for (const kind of needed) {
      const ref = tile.afterburners![kind]!;
      const src = await fetch.afterburner(ref);
      abHdus.push({ kind, src, hdu: afterburnerHdu(kind, src.name, await io(scanHdus(src))) });
      sources.push(describe(ctx, kind, ref));
    }
    const coadd = await fetch.coadd();
    const cHdus = await io(scanHdus(coadd));
    const identity = checkHeader(coadd.name, cHdus[0], tile);
    const fibermap = findHdu(coadd.name, cHdus, 'FIBERMAP');
    const abBytes = abHdus.reduce((s, a) => s + a.hdu.dataLength, 0);
    const what = `${coadd.name} FIBERMAP${abHdus.length > 0 ? ` and ${abHdus.map((a) => a.kind).join(', ')}` : ''}`;
    const match = await fetch.holding(fibermap.dataLength + abBytes, what, async () => {
      const afterburners: RefineWire['afterburners'] = [];
      for (const a of abHdus) afterburners.push({ kind: a.kind, file: a.src.name, hdu: toWire(a.hdu), data: await io(readHduData(a.src, a.hdu)) });
      // Built once the header is checked: a tile-layout unit learns its survey (whose target columns the rules read) there.
      const refine: RefineWire | undefined =
        needsRefine(ctx.selection) || withKinds.length > 0
          ? {
              selection: ctx.selection,
              survey: tile.survey,
              redrockFile: rr.name,
              targetids: sel.targetids,
              redshiftTargetids: sel.allTargetids,
              redshifts: sel.redshifts,
              afterburners,
              with: withKinds,
            }
          : undefined;
      const data = await io(readHduData(coadd, fibermap));
      return pool(ctx.pool.run('match', { file: coadd.name, hdu: toWire(fibermap), data, targetids: sel.targetids, columns: ctx.columns, refine }, ctx.signal));
    });
    if (match.coaddRows.length === 0) return await empty();
    // Plan every read first (header arithmetic only), then take the budget once for all of them: the fetched
    // rows, and the worker's decoded copy of the selected ones.
    const plan = planSpectraReads(coadd.name, cHdus, match.nspec, match.coaddRows, fetch.gapBytes);
    await fetch.holding(2 * planBytes(plan), `${coadd.name} spectra rows`, async () => {
      const { spectra, wavelengths } = fillPlan(plan, await io(fetch.readAll(coadd, plan.reads)));
      const metadata: FooterInfo = {
        version: ctx.version,
        selection: selectionText(ctx.selection),
        columns: ctx.columns ?? 'default',
        ...(withKinds.length > 0 && { with: [...withKinds] }),
        tile: key,
        sources: [describe(ctx, 'coadd', coaddRef), describe(ctx, 'redrock', redrockRef), ...sources],
        provenance: { coadd: provenanceOf(cHdus[0].header), redrock: provenanceOf(rrHdus[0].header) },
      };
      const { coaddRows, order, fibermap: fm, extra } = match;
      const input = {
        coaddFile: coadd.name,
        tile: identity,
        redshifts: sel.redshifts,
        match: { coaddRows, order, fibermap: fm, extra },
        spectra,
        wavelengths,
        metadata,
      };
      const enc = await pool(ctx.pool.run('encode', toEncodeTask(input), ctx.signal));
      const rel = outputPath(tile);
      // From here on the signal is not honoured: the encoded tile is written (atomically) and journaled.
      writing = true;
      try {
        // The table first: a spectra file in the dataset always has its grid in the table.
        if (ctx.wavelengths) await io(ctx.wavelengths.ensure(key, coadd.name, enc.wavelength.sha256, enc.wavelength.parquet));
        await io(ctx.out.writeAtomic(rel, enc.parquet));
      } catch (err) {
        outcome.fatal = isFatalOutput(err);
        throw err;
      }
      Object.assign(outcome, { status: 'ok', rows: enc.rows, parquetBytes: enc.parquet.byteLength, path: rel });
    });
    return outcome;
  } catch (err) {
    const f = classify(err);
    outcome.status = 'failed';
    outcome.errorClass = f.errorClass;
    outcome.error = f.message;
    // A read cut short by the abort may fail in its own words (a destroyed stream): once the signal has
    // fired, any failure before the write is the abort's. The write itself is never aborted.
    if (!writing && (isAborted(err) || ctx.signal?.aborted === true)) {
      outcome.aborted = true;
      outcome.errorClass = 'ABORTED';
      if (!isAborted(err)) outcome.error = `${key}: aborted (the run is stopping): ${f.message}`;
    }
    return outcome;
  } finally {
    const read = await fetch.close();
    outcome.fetchedBytes += read.fetchedBytes;
    outcome.requests += read.requests;
    addRetryCounters(outcome.retries, read.retries);
    outcome.ms = performance.now() - t0;
  }
}

/** The one HDU named `name`, or undefined when there is none; two of them are ambiguous (findHdu's error). */
function findOptionalHdu(file: string, hdus: Hdu[], name: string): Hdu | undefined {
  return hdus.some((h) => h.name.toUpperCase() === name) ? findHdu(file, hdus, name) : undefined;
}

/**
 * The tile's identity as its rows carry it, checked against the coadd's PRIMARY header. A healpix coadd whose
 * HPXPIXEL names another pixel than its path would fill the dataset with wrong HEALPIX values. A cumulative
 * tile coadd (the tile layout) has no HPXPIXEL: SPGRP must be 'cumulative', TILEID and SPGRPVAL (LASTNIGHT)
 * must be its path's, PETAL too where the header has one; its SURVEY and PROGRAM (which the tile layout's
 * path does not say) come from the header, and are required. They are also set on `tile`, for the log.
 */
function checkHeader(file: string, primary: Hdu, tile: TileRef): TileTableInput['tile'] {
  if (tile.cumulative) {
    const c = tile.cumulative;
    const h = primary.header;
    const spgrp = h.get('SPGRP');
    if (spgrp !== 'cumulative')
      throw new DesiError(
        'TILE_MISMATCH',
        file,
        `SPGRP = ${JSON.stringify(spgrp ?? null)}, expected 'cumulative' for a file of the tile layout`,
        'PRIMARY',
        'SPGRP',
      );
    const expect = (key: string, want: number, what: string) => {
      const v = h.get(key);
      if (v !== want)
        throw new DesiError('TILE_MISMATCH', file, `${key} = ${JSON.stringify(v ?? null)} but the file is stored as ${what} ${want}`, 'PRIMARY', key);
    };
    expect('TILEID', c.tileid, 'tile');
    expect('SPGRPVAL', c.lastnight, 'LASTNIGHT');
    if (h.get('PETAL') !== undefined) expect('PETAL', c.petal, 'petal');
    const text = (key: 'SURVEY' | 'PROGRAM'): string => {
      const v = h.get(key);
      if (typeof v !== 'string' || v.trim() === '')
        throw new DesiError(
          'TILE_MISMATCH',
          file,
          `${key} = ${JSON.stringify(v ?? null)}: a tile-layout coadd must name its ${key.toLowerCase()}`,
          'PRIMARY',
          key,
        );
      return v.trim();
    };
    tile.survey = text('SURVEY');
    tile.program = text('PROGRAM');
    return { survey: tile.survey, program: tile.program, healpix: tile.healpix, cumulative: { ...c } };
  }
  checkPixel(file, primary, tile);
  return { survey: tile.survey, program: tile.program, healpix: tile.healpix };
}

/** A coadd whose header names another pixel than its path would fill the dataset with wrong HEALPIX values. */
function checkPixel(file: string, primary: Hdu, tile: TileRef): void {
  const v = primary.header.get('HPXPIXEL');
  if (typeof v === 'number' && v !== tile.healpix) {
    throw new DesiError('TILE_MISMATCH', file, `HPXPIXEL = ${v} but the file is stored as pixel ${tile.healpix}`, 'PRIMARY', 'HPXPIXEL');
  }
}

function describe(ctx: TileJobContext, role: FooterInfo['sources'][number]['role'], ref: ObjectRef): FooterInfo['sources'][number] {
  const d: FooterInfo['sources'][number] = { role, name: ctx.store.displayName(ref), size: ref.size };
  if (ref.etag) d.etag = ref.etag;
  if (ref.mtimeMs !== undefined) d.mtime = new Date(ref.mtimeMs).toISOString();
  return d;
}
