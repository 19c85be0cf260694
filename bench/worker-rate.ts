import { readFile } from 'node:fs/promises';
import { Piscina } from 'piscina';
import { findHdu, scanHdus, readHduData } from '../src/fits/index.js';
import { parseSelection } from '../src/desi/selection.js';
import { fillPlan, planSpectraReads } from '../src/desi/read-plan.js';
import { MemorySource } from '../src/storage/source.js';
import { toEncodeTask, toWire, type EncodeResult } from '../src/pipeline/tasks.js';
import * as worker from '../workers/tile-worker.js';
import type { SynthReport } from '../src/synth/index.js';

export interface WorkerRate {
  tiles: number;
  fitsBytes: number; // sizes of the coadd + redrock files covered
  decodedBytes: number; // FITS bytes the worker decoded (REDSHIFTS, FIBERMAP, selected spectra rows, wavelengths)
  parquetRawBytes: number; // decoded values that went into the Parquet tables
  parquetBytes: number;
  computeSec: number; // select + match + encode, one thread
  encodeSec: number; // the encode task alone
}

/**
 * The worker's conversion rate on one thread: runs the worker's three tasks in this thread (no pool, no
 * I/O in the timings) over every tile of the dataset with its bytes already in memory, and times them.
 */
export async function measureWorkerRate(report: SynthReport): Promise<WorkerRate> {
  const r: WorkerRate = { tiles: 0, fitsBytes: 0, decodedBytes: 0, parquetRawBytes: 0, parquetBytes: 0, computeSec: 0, encodeSec: 0 };
  const selection = parseSelection({});
  for (const t of report.tiles) {
    const rr = new MemorySource(t.redrockPath, new Uint8Array(await readFile(t.redrockPath)));
    const co = new MemorySource(t.coaddPath, new Uint8Array(await readFile(t.coaddPath)));
    r.tiles += 1;
    r.fitsBytes += rr.byteLength + co.byteLength;
    const rs = findHdu(rr.name, await scanHdus(rr), 'REDSHIFTS');
    const rsData = await readHduData(rr, rs);
    r.decodedBytes += rsData.byteLength;
    let t0 = performance.now();
    const sel = await worker.select({ file: rr.name, hdu: toWire(rs), data: rsData, selection });
    r.computeSec += (performance.now() - t0) / 1000;
    if (sel.targetids.length === 0) continue;
    const hdus = await scanHdus(co);
    const fm = findHdu(co.name, hdus, 'FIBERMAP');
    const fmData = await readHduData(co, fm);
    r.decodedBytes += fmData.byteLength;
    t0 = performance.now();
    const match = await worker.match({ file: co.name, hdu: toWire(fm), data: fmData, targetids: sel.targetids });
    r.computeSec += (performance.now() - t0) / 1000;
    const plan = planSpectraReads(co.name, hdus, match.nspec, match.coaddRows, 0);
    const { spectra, wavelengths } = fillPlan(plan, await Promise.all(plan.reads.map((g) => co.slice(g.start, g.end))));
    const moved = [...spectra.flatMap((s) => s.chunks.map((c) => c.bytes)), ...wavelengths.map((w) => w.bytes)];
    const bytes = moved.reduce((s, b) => s + b.byteLength, 0);
    r.decodedBytes += bytes;
    t0 = performance.now();
    const task = toEncodeTask({
      coaddFile: co.name,
      tile: { survey: t.survey, program: t.program, healpix: t.healpix },
      redshifts: sel.redshifts,
      match: { coaddRows: match.coaddRows, order: match.order, fibermap: match.fibermap },
      spectra,
      wavelengths,
      metadata: { version: 'bench', selection: 'bench', tile: 'bench', sources: [], provenance: { coadd: {}, redrock: {} } },
    });
    const wrapped = await worker.encode(task);
    const dt = (performance.now() - t0) / 1000;
    r.computeSec += dt;
    r.encodeSec += dt;
    const enc = (wrapped as Record<symbol, unknown>)[Piscina.valueSymbol] as EncodeResult;
    r.parquetRawBytes += enc.rawBytes;
    r.parquetBytes += enc.parquet.byteLength;
  }
  return r;
}

/** memcpy (Uint8Array#set) of a buffer of `bytes` bytes, GB/s: the ceiling any decoder works under. */
export function measureMemcpy(bytes: number, rounds = 5): number {
  const src = new Uint8Array(bytes).map((_, i) => i);
  const dst = new Uint8Array(bytes);
  let best = Infinity;
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    dst.set(src);
    best = Math.min(best, performance.now() - t0);
  }
  return bytes / 1e9 / (best / 1000);
}
