import { tileFitsBytes, type TileRef } from '../desi/tile.js';
import type { TileRecord } from '../storage/journal-store.js';
import { duration, mb, pct, reduction } from '../pipeline/format.js';

/** What the sample measured: the sums over its finished tiles (ok and empty) and the conversion's wall time. */
export interface SampleFigures {
  /** Tiles done (ok or empty), failed, and missing a source file, after the resume. */
  done: number;
  failed: number;
  missing: number;
  /** FITS bytes of the tiles done (the seed's "FITS Downloaded"), what was fetched of them, Parquet written. */
  fitsBytes: number;
  fetchedBytes: number;
  parquetBytes: number;
  /** FITS bytes of every tile journaled by the runs (failed ones too): what the throughput counts. */
  coveredBytes: number;
  /** Conversion time of the runs (the killed one and its resume, each from its "Ready to process" line to its end), in ms. */
  wallMs: number;
}

/** The sample's figures from the final journal records of its tiles and the runs' wall time. */
export function sampleFigures(finals: TileRecord[], coveredBytes: number, wallMs: number): SampleFigures {
  const done = finals.filter((r) => r.status === 'ok' || r.status === 'empty');
  const sum = (k: 'fitsBytes' | 'fetchedBytes' | 'parquetBytes') => done.reduce((s, r) => s + (r[k] ?? 0), 0);
  return {
    done: done.length,
    failed: finals.filter((r) => r.status === 'failed').length,
    missing: finals.filter((r) => r.status === 'missing').length,
    fitsBytes: sum('fitsBytes'),
    fetchedBytes: sum('fetchedBytes'),
    parquetBytes: sum('parquetBytes'),
    coveredBytes,
    wallMs,
  };
}

/** MB/s of FITS covered (file sizes over wall time), the seed's "Batch Speed". */
export function throughputMBps(f: SampleFigures): number {
  return f.wallMs > 0 ? f.coveredBytes / 1e6 / (f.wallMs / 1000) : 0;
}

/** The whole discovered set at the sample's rates: how long, how much to fetch, how much output. */
export interface Projection {
  tiles: number;
  fitsBytes: number;
  /** Seconds of discovery (measured once, by preflight) plus conversion at the measured rate; undefined when nothing was measured. */
  seconds?: number;
  discoverySeconds: number;
  fetchBytes?: number;
  outputBytes?: number;
  mbps: number;
}

/**
 * The projection for every tile the source holds for the survey and program selection: its FITS bytes, the
 * time (discovery as measured, then conversion at the sample's throughput), the bytes to fetch (the sample's fetched/FITS ratio × the total) and the
 * output (the sample's Parquet/FITS ratio × the total). A sample with nothing done projects nothing.
 */
export function project(all: TileRef[], f: SampleFigures, discoveryMs: number): Projection {
  const fitsBytes = all.reduce((s, t) => s + tileFitsBytes(t), 0);
  const mbps = throughputMBps(f);
  const ratio = (x: number) => (f.fitsBytes > 0 ? (x / f.fitsBytes) * fitsBytes : undefined);
  return {
    tiles: all.length,
    fitsBytes,
    seconds: mbps > 0 ? discoveryMs / 1000 + fitsBytes / 1e6 / mbps : undefined,
    discoverySeconds: discoveryMs / 1000,
    fetchBytes: ratio(f.fetchedBytes),
    outputBytes: ratio(f.parquetBytes),
    mbps,
  };
}

/** "12,207 tiles, 2,400,000.00 MB of FITS: 19 h 30 min at 34.20 MB/s; fetch 80,000.00 MB (3.33%); output 32,000.00 MB". */
export function projectionText(p: Projection): string {
  const what = `${p.tiles.toLocaleString('en-US')} tiles, ${mb(p.fitsBytes)} MB of FITS`;
  if (p.seconds === undefined || p.fetchBytes === undefined || p.outputBytes === undefined) return `${what}: nothing measured to project from`;
  const share = p.fitsBytes > 0 ? ` (${pct(p.fetchBytes / p.fitsBytes)} of the FITS)` : '';
  return `${what}: ${duration(p.seconds * 1000)} (discovery ${p.discoverySeconds.toFixed(2)} s, then ${p.mbps.toFixed(2)} MB/s); fetch ${mb(p.fetchBytes)} MB${share}; output ${mb(p.outputBytes)} MB (reduction ${pct(reduction(p.fitsBytes, p.outputBytes))})`;
}
