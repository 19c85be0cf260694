import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { tableToIPC } from 'apache-arrow';
import { Table as WasmTable } from 'parquet-wasm';
import { Piscina } from 'piscina';
import { findHdu, scanHdus, readHduData } from '../src/fits/index.js';
import { DEFAULT_SELECTION, type Selection } from '../src/desi/selection.js';
import { fillPlan, planSpectraReads } from '../src/desi/read-plan.js';
import { MemorySource } from '../src/storage/source.js';
import { toEncodeTask, toTableInput, toWire, type EncodeResult, type EncodeTask } from '../src/pipeline/tasks.js';
import { buildTileTable, footerMetadata } from '../src/desi/tile-table.js';
import { decodeGrids } from '../src/desi/wavelength.js';
import { planEncodings } from '../src/parquet/index.js';
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
  encodeCpuSec: number; // process CPU time (user + system) of the encode task: less moved by other load than wall time
  /** Where the encode task's time goes, measured in a second pass over copies of the same inputs (seconds). */
  stages: EncodeStages;
}

export interface EncodeStages {
  table: number; // decode the fetched rows (byte swap, gather) and build the Arrow table + footer metadata, in JS
  plan: number; // planEncodings: the leaf strategy, with the distinct-value count over every integer leaf, in JS
  ipc: number; // tableToIPC: the Arrow table serialised to IPC stream bytes, in JS
  wasmIn: number; // WasmTable.fromIPCStream: the IPC bytes copied into the WASM heap and parsed there
  write: number; // the rest of encodeParquetStream: the Parquet writer (levels, encodings, ZSTD) and the footer check
}

/** Which Parquet writer encodeParquetStream uses (DESI_QAD_PARQUET_WRITER). */
export type WriterName = 'own' | 'wasm';

/**
 * The worker's conversion rate on one thread: runs the worker's three tasks in this thread (no pool, no
 * I/O in the timings) over every tile of the dataset with its bytes already in memory, and times them.
 */
export async function measureWorkerRate(
  report: SynthReport,
  selection: Selection = DEFAULT_SELECTION,
  writer: WriterName = 'own',
  keepDir?: string,
): Promise<WorkerRate> {
  const old = process.env.DESI_QAD_PARQUET_WRITER;
  process.env.DESI_QAD_PARQUET_WRITER = writer;
  try {
    return await measure(report, selection, writer, keepDir);
  } finally {
    if (old === undefined) delete process.env.DESI_QAD_PARQUET_WRITER;
    else process.env.DESI_QAD_PARQUET_WRITER = old;
  }
}

async function measure(report: SynthReport, selection: Selection, writer: WriterName, keepDir: string | undefined): Promise<WorkerRate> {
  if (keepDir !== undefined) await mkdir(keepDir, { recursive: true });
  const stages: EncodeStages = { table: 0, plan: 0, ipc: 0, wasmIn: 0, write: 0 };
  const r: WorkerRate = { tiles: 0, fitsBytes: 0, decodedBytes: 0, parquetRawBytes: 0, parquetBytes: 0, computeSec: 0, encodeSec: 0, encodeCpuSec: 0, stages };
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
    const task = toEncodeTask({
      coaddFile: co.name,
      tile: { survey: t.survey, program: t.program, healpix: t.healpix },
      redshifts: sel.redshifts,
      match: { coaddRows: match.coaddRows, order: match.order, fibermap: match.fibermap },
      spectra,
      wavelengths,
      metadata: { version: 'bench', selection: 'bench', tile: 'bench', sources: [], provenance: { coadd: {}, redrock: {} } },
    });
    const copy = copyTask(task); // the encode decodes (byte-swaps) the fetched rows in place
    t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const wrapped = await worker.encode(task);
    const cpu = process.cpuUsage(cpu0);
    const dt = (performance.now() - t0) / 1000;
    r.computeSec += dt;
    r.encodeSec += dt;
    r.encodeCpuSec += (cpu.user + cpu.system) / 1e6;
    addStages(stages, copy, dt, writer);
    const enc = (wrapped as Record<symbol, unknown>)[Piscina.valueSymbol] as EncodeResult;
    r.parquetRawBytes += enc.rawBytes;
    r.parquetBytes += enc.parquet.byteLength;
    if (keepDir !== undefined) await writeFile(join(keepDir, `${String(r.tiles).padStart(5, '0')}.parquet`), enc.parquet);
  }
  return r;
}

/** Returns `task` with its own copies of the fetched bytes (the rest is shared: nothing else is written to). */
function copyTask(task: EncodeTask): EncodeTask {
  return {
    ...task,
    spectra: task.spectra.map((s) => ({ ...s, chunks: s.chunks.map((c) => ({ ...c, bytes: c.bytes.slice() })) })),
    wavelengths: task.wavelengths.map((w) => ({ ...w, bytes: w.bytes.slice() })),
  };
}

/**
 * Adds the encode task's stages on `task` (a copy of the timed one) to `stages`: the JS steps are run and
 * timed one by one, and the writer gets what is left of `encodeSec`, the timed task's whole time.
 */
function addStages(stages: EncodeStages, task: EncodeTask, encodeSec: number, writer: WriterName): void {
  const sec = (t0: number) => (performance.now() - t0) / 1000;
  let t0 = performance.now();
  const input = toTableInput(task);
  const { table } = buildTileTable(input);
  footerMetadata(input, decodeGrids(input.coaddFile, input.wavelengths));
  const table_ = sec(t0);
  if (writer === 'own') {
    // The own writer has no plan, IPC or WASM step: everything after the table is the writer.
    stages.table += table_;
    stages.write += Math.max(0, encodeSec - table_);
    return;
  }
  t0 = performance.now();
  planEncodings(table);
  const plan = sec(t0);
  t0 = performance.now();
  const ipc = tableToIPC(table, 'stream');
  const ipc_ = sec(t0);
  t0 = performance.now();
  WasmTable.fromIPCStream(ipc).free();
  const wasmIn = sec(t0);
  stages.table += table_;
  stages.plan += plan;
  stages.ipc += ipc_;
  stages.wasmIn += wasmIn;
  stages.write += Math.max(0, encodeSec - table_ - plan - ipc_ - wasmIn);
}

/** memcpy (Uint8Array#set) of a buffer of `bytes` bytes, GB/s: the ceiling any decoder works under. */
export function measureMemcpy(bytes: number, rounds = 5): number {
  const src = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4096) src[i] = i; // touch every page (a .map callback per byte takes seconds)
  const dst = new Uint8Array(bytes);
  let best = Infinity;
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    dst.set(src);
    best = Math.min(best, performance.now() - t0);
  }
  return bytes / 1e9 / (best / 1000);
}

/**
 * Compares the values of the files two runs kept (same tile order), with DuckDB: rows of A EXCEPT ALL rows
 * of B, and B EXCEPT ALL A, summed over the tiles. 0 and 0 means the same values (NaN equals NaN here;
 * test/unit/parquet-writer.test.ts compares the bits).
 */
export async function compareKept(dirA: string, dirB: string, tiles: number): Promise<{ files: number; aNotB: number; bNotA: number }> {
  const instance = await DuckDBInstance.create(':memory:');
  const out = { files: 0, aNotB: 0, bNotA: 0 };
  try {
    const c = await instance.connect();
    try {
      for (let i = 1; i <= tiles; i++) {
        const name = `${String(i).padStart(5, '0')}.parquet`;
        const a = `read_parquet('${join(dirA, name).replaceAll("'", "''")}')`;
        const b = `read_parquet('${join(dirB, name).replaceAll("'", "''")}')`;
        let rows;
        try {
          rows = (
            await c.runAndReadAll(
              `SELECT (SELECT count(*) FROM (SELECT * FROM ${a} EXCEPT ALL SELECT * FROM ${b})) AS x, (SELECT count(*) FROM (SELECT * FROM ${b} EXCEPT ALL SELECT * FROM ${a})) AS y`,
            )
          ).getRowObjectsJS();
        } catch (e) {
          if (/No files found|does not exist/i.test(String(e))) continue; // a tile with no selected rows wrote nothing
          throw e;
        }
        out.files += 1;
        out.aNotB += Number(rows[0].x);
        out.bNotA += Number(rows[0].y);
      }
    } finally {
      c.closeSync();
    }
  } finally {
    instance.closeSync();
  }
  return out;
}
