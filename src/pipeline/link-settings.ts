/**
 * The run's settings that follow the link: the --gap-bytes auto of a run (pipeline/auto-gap.ts) and the log
 * line of its reads in flight (fetch.ts ReadLimits, the one owner of how many reads are in flight).
 */
import { AutoGap, mainThreadBusy, REQUEST_CPU_LOCAL, REQUEST_CPU_S3 } from './auto-gap.js';
import type { ReadLimits } from './fetch.js';

/** The fixed gap of a run's source kind: the fallback of --gap-bytes auto until the link is measured. */
export function gapFallbackOf(o: { gapFallback?: number; store: { root: string } }): number {
  return o.gapFallback ?? (o.store.root.startsWith('s3://') ? 16 * 1024 : 64 * 1024);
}

/**
 * The AutoGap of a run reading `o.store` within `limits`, logging its choices: the first, and then each
 * that differs from the last one logged by more than a quarter (so a gap that wanders by a KiB or two as the
 * bytes per read and the main thread's busy share move logs no line).
 */
export function runAutoGap(o: { gapFallback?: number; store: { root: string } }, limits: ReadLimits, log: { info(msg: string): void }): AutoGap {
  let logged = 0;
  const s3 = o.store.root.startsWith('s3://');
  // On S3 a request's cost is the main thread's (send it, read the response): measured, capped at the assumed
  // figure, with the main thread's busy share. On a local disk a pread costs the main thread little next to its
  // other work, which the measure would wrongly count: assumed, u = 1.
  const onChoice = (gap: number, why: string) => {
    if (logged > 0 && Math.abs(gap - logged) <= logged / 4) return;
    logged = gap;
    log.info(`Gap: --gap-bytes auto chose ${gap} bytes (${why})`);
  };
  return new AutoGap(gapFallbackOf(o), limits.total.limit, s3 ? REQUEST_CPU_S3 : REQUEST_CPU_LOCAL, onChoice, undefined, s3 ? mainThreadBusy() : null);
}

/** "Reads in flight: mean 41.2, peak 64 of --reads-in-flight 64, 16 per tile's spectra rows". */
export function inFlightLine(limits: ReadLimits): string {
  const t = limits.total;
  return `Reads in flight: mean ${t.meanInFlight().toFixed(1)} while any was, peak ${t.peak} of --reads-in-flight ${t.limit}; ${limits.perTile} per tile's spectra rows (--reads-per-tile)`;
}
