import { duration, mb, MB, pct, reduction } from './format.js';
import { tileLabel } from '../desi/layout.js';
import type { TileOutcome } from './tile-job.js';

/** Sums of one batch (or of the whole run) for the seed's summary lines. */
export class BatchStats {
  tiles = 0;
  rows = 0;
  fitsBytes = 0;
  fetchedBytes = 0;
  requests = 0;
  parquetBytes = 0;
  private readonly t0 = Date.now();
  ms = 0;

  add(o: TileOutcome): void {
    this.tiles += 1;
    this.rows += o.rows;
    this.fitsBytes += o.fitsBytes;
    this.fetchedBytes += o.fetchedBytes;
    this.requests += o.requests;
    this.parquetBytes += o.parquetBytes;
  }

  finish(): void {
    this.ms = Date.now() - this.t0;
  }

  reduction(): number {
    return reduction(this.fitsBytes, this.parquetBytes);
  }

  /** FITS MB covered per second of wall time, the seed's "Batch Speed". */
  speed(): number {
    return this.ms > 0 ? this.fitsBytes / MB / (this.ms / 1000) : 0;
  }

  /** The seed's batch lines, plus what ranged reads make necessary (bytes actually fetched). */
  lines(): string[] {
    return [
      `  FITS Downloaded : ${mb(this.fitsBytes)} MB`,
      `  Bytes Fetched   : ${mb(this.fetchedBytes)} MB in ${this.requests} requests (${pct(this.fitsBytes > 0 ? this.fetchedBytes / this.fitsBytes : 0)} of the FITS size)`,
      `  Parquet Created : ${mb(this.parquetBytes)} MB (${this.rows} rows)`,
      `  Data Reduction  : ${pct(this.reduction())}`,
      `  Batch Speed     : ${this.speed().toFixed(2)} MB/s`,
      `  Duration        : ${duration(this.ms)}`,
    ];
  }
}

/** One line per tile in the batch summary; starts like the seed's, "Tile 10304: FITS Size=…". */
export function tileLine(o: TileOutcome): string {
  const base = `  Tile ${tileLabel(o.tile)}: FITS Size=${mb(o.fitsBytes)} MB, Parquet Size=${mb(o.parquetBytes)} MB, Fetched=${mb(o.fetchedBytes)} MB in ${o.requests} requests, Rows=${o.rows}, Survey=${o.tile.survey}, Program=${o.tile.program}, Status=${o.status}`;
  return o.status === 'failed' || o.status === 'missing' ? `${base} [${o.errorClass}] ${o.error}` : base;
}

/** The end-of-run table of outcomes, failures grouped by error class with an example each. */
export function outcomeTable(outcomes: TileOutcome[]): string[] {
  const count = (s: string) => outcomes.filter((o) => o.status === s).length;
  const lines = [
    '--- Outcomes ---',
    `  ok             : ${count('ok')} tiles (${outcomes.reduce((s, o) => s + o.rows, 0)} rows)`,
    `  empty          : ${count('empty')} tiles (no selected row)`,
    `  missing source : ${count('missing')} tiles`,
    `  failed         : ${count('failed')} tiles`,
  ];
  const byClass = new Map<string, TileOutcome[]>();
  for (const o of outcomes) if (o.status === 'failed') byClass.set(o.errorClass ?? 'INTERNAL', [...(byClass.get(o.errorClass ?? 'INTERNAL') ?? []), o]);
  for (const [cls, list] of [...byClass].sort((a, b) => b[1].length - a[1].length)) {
    lines.push(`    ${cls} : ${list.length} (e.g. ${list[0].key}: ${list[0].error})`);
  }
  for (const o of outcomes.filter((x) => x.status === 'missing').slice(0, 5)) lines.push(`    missing: ${o.error}`);
  return lines;
}

/** The seed's TOTALS block. Avg Speed is total FITS MB over total wall time (not a mean of batch speeds). */
export function totalsLines(s: BatchStats, wallMs: number): string[] {
  const gb = s.fitsBytes / 1e9;
  return [
    'TOTALS:',
    `  FITS Downloaded : ${mb(s.fitsBytes)} MB (${gb.toFixed(1)} GB)`,
    `  Bytes Fetched   : ${mb(s.fetchedBytes)} MB in ${s.requests} requests (${pct(s.fitsBytes > 0 ? s.fetchedBytes / s.fitsBytes : 0)} of the FITS size)`,
    `  Parquet Created : ${mb(s.parquetBytes)} MB (${s.rows} rows)`,
    `  Avg Compression : ${pct(s.reduction())}`,
    `  Avg Speed       : ${(wallMs > 0 ? s.fitsBytes / MB / (wallMs / 1000) : 0).toFixed(2)} MB/s`,
    `  Total Runtime   : ${duration(wallMs)}`,
  ];
}

/**
 * The failure-rate rule: the share of failed tiles among the last `size` finished (missing-source tiles are
 * not pushed), judged once at least `minCount` have finished.
 */
export class FailureWindow {
  private readonly recent: boolean[] = [];
  constructor(
    readonly size: number,
    private readonly minCount: number,
  ) {}

  push(failed: boolean): void {
    this.recent.push(failed);
    if (this.recent.length > this.size) this.recent.shift();
  }

  /** How many finished tiles the window holds now (at most `size`). */
  get count(): number {
    return this.recent.length;
  }

  rate(): number {
    return this.recent.length ? this.recent.filter(Boolean).length / this.recent.length : 0;
  }

  exceeds(max: number): boolean {
    return this.recent.length >= this.minCount && this.rate() > max;
  }
}
