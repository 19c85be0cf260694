/**
 * `--gap-bytes auto` (the default): the merge gap of the spectra rows' reads, chosen from the link the run
 * measures, instead of a fixed 16 KiB (S3) or 64 KiB (local disk).
 *
 * The rule. Two planned reads `g` bytes apart are read as one when the bytes in between cost less than the
 * request they save. The `g` bytes take g / B of the link (B: its bandwidth). One request more costs its
 * client CPU (c: about 1 ms per ranged GET on S3, README "gets"; much less for a local pread) and its round
 * trip, of which only RTT / N shows when N reads are in flight (the reads of the next tiles overlap). So:
 *
 *     gap = B x (RTT / N + c),   clamped to [4 KiB, 1 MiB]
 *
 * On the seed's link (35 MB/s, 20 ms, N = 64, c = 1 ms): 35e6 x (0.31 ms + 1 ms) = 46 KB. On a 10 ms link of
 * 1 GB/s it is ~1 MB; on a local disk (RTT ~0.1 ms, c = 0.1 ms) at 2 GB/s ~200 KB.
 *
 * On S3, c is measured too, once 16 reads are: the main thread's busy time (its event-loop utilization: every
 * request is sent, its response read and its bytes handed on there) over the reads so far. It counts the main
 * thread's other work as well (header scans, the journal), so it is an upper bound, and the gap errs on the
 * larger side; until measured, the assumed figure of the source kind (below) is used.
 *
 * Measured per run from its own reads (LinkMeter): RTT is the shortest duration of the small reads (<= 64
 * KiB: a round trip plus the server's time; the headers and REDSHIFTS of the first tiles); B is the highest
 * rate of bytes delivered over any 0.5 s window so far (a lower bound of the link's bandwidth that rises
 * as more reads overlap). Until 16 reads and one full window are measured, the fixed default of the source
 * kind is used, and until 6 windows (3 s of reads) it stays the floor: the early bandwidth is underestimated. The gap is re-chosen as the estimates change; it never changes output bytes (which rows are
 * read, not how they are grouped into requests, decide the output), only bytes fetched and requests.
 */

import { performance as perf } from 'node:perf_hooks';

/** The inputs of the rule, in bytes, seconds and counts. */
export interface GapInputs {
  /** Bytes per second. */
  bandwidth: number;
  /** Seconds. */
  rtt: number;
  /** Reads in flight at once (the run's total limit). */
  inFlight: number;
  /** Client CPU seconds per request. */
  requestCpu: number;
}

export const MIN_AUTO_GAP = 4 * 1024;
export const MAX_AUTO_GAP = 1024 * 1024;

/** The gap the rule gives, in whole KiB, clamped to [MIN_AUTO_GAP, MAX_AUTO_GAP]. */
export function chooseGap(i: GapInputs): number {
  const raw = i.bandwidth * (i.rtt / Math.max(1, i.inFlight) + i.requestCpu);
  if (!Number.isFinite(raw)) return MAX_AUTO_GAP;
  const kib = Math.round(raw / 1024) * 1024;
  return Math.min(MAX_AUTO_GAP, Math.max(MIN_AUTO_GAP, kib));
}

/** Client CPU per request assumed by the rule: a ranged GET on S3 (bench "gets": 0.9-1.4 ms), a local pread. */
export const REQUEST_CPU_S3 = 1e-3;
export const REQUEST_CPU_LOCAL = 1e-4;

/** Reads at most this big count for the round trip (their transfer time is small next to it). */
const SMALL_READ = 64 * 1024;
const WINDOW_MS = 500;
const MIN_READS = 16;
/** Windows (of WINDOW_MS) before the rule may choose a gap below the fallback. */
export const SETTLE_WINDOWS = 6;

/** What a run measures of its reads: round trip and bandwidth estimates (see the module's comment). */
export class LinkMeter {
  private reads = 0;
  private minSmallMs = Infinity;
  private windowStart = -1;
  private windowBytes = 0;
  private bestRate = 0;

  private windows = 0;

  /** Reads recorded so far. */
  get count(): number {
    return this.reads;
  }

  /** Windows of WINDOW_MS measured so far. */
  get windowCount(): number {
    return this.windows;
  }

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** One read of `bytes` that started at `startMs` (of `now`) and has just ended. */
  record(bytes: number, startMs: number): void {
    const end = this.now();
    this.reads += 1;
    if (bytes <= SMALL_READ) this.minSmallMs = Math.min(this.minSmallMs, end - startMs);
    if (this.windowStart < 0) this.windowStart = startMs;
    if (end - this.windowStart >= WINDOW_MS) {
      this.bestRate = Math.max(this.bestRate, (this.windowBytes * 1000) / (end - this.windowStart));
      this.windows += 1;
      this.windowStart = end;
      this.windowBytes = 0;
    }
    this.windowBytes += bytes;
  }

  /** The estimates, once enough is measured. */
  estimate(): { rtt: number; bandwidth: number } | undefined {
    if (this.reads < MIN_READS || this.bestRate === 0 || this.minSmallMs === Infinity) return undefined;
    return { rtt: this.minSmallMs / 1000, bandwidth: this.bestRate };
  }
}

/** The run's auto gap: the fixed fallback until the meter knows enough, then the rule's gap. */
export class AutoGap {
  readonly meter: LinkMeter;
  private chosen?: number;

  constructor(
    private readonly fallback: number,
    private readonly inFlight: number,
    private readonly requestCpu: number,
    private readonly onChoice?: (gap: number, why: string) => void,
    meter?: LinkMeter,
    /** Seconds the main thread has been busy since the run began (null: c stays the assumed figure). */
    private readonly busySeconds: (() => number) | null = mainThreadBusy(),
  ) {
    this.meter = meter ?? new LinkMeter();
  }

  /** The gap to plan the next tile with. */
  current(): number {
    const e = this.meter.estimate();
    if (!e) return this.fallback;
    const cpu = this.cpuPerRequest();
    const rule = chooseGap({ ...e, inFlight: this.inFlight, requestCpu: cpu.seconds });
    // The bandwidth is a lower bound that rises as reads overlap, so the first windows' gap is too small:
    // not below the fallback until SETTLE_WINDOWS windows are measured.
    const gap = this.meter.windowCount < SETTLE_WINDOWS ? Math.max(rule, this.fallback) : rule;
    if (gap !== this.chosen) {
      this.chosen = gap;
      this.onChoice?.(gap, this.describe(e, cpu));
    }
    return gap;
  }

  /** c: measured (main-thread busy seconds per read, within [10 µs, 10 ms]) once the meter knows, else assumed. */
  private cpuPerRequest(): { seconds: number; measured: boolean } {
    const n = this.meter.count;
    if (this.busySeconds === null || n < MIN_READS) return { seconds: this.requestCpu, measured: false };
    const c = this.busySeconds() / n;
    if (!Number.isFinite(c)) return { seconds: this.requestCpu, measured: false };
    return { seconds: Math.min(1e-2, Math.max(1e-5, c)), measured: true };
  }

  /** The last chosen gap (the fallback when none was chosen), for the run's summary. */
  get last(): number {
    return this.chosen ?? this.fallback;
  }

  private describe(e: { rtt: number; bandwidth: number }, cpu: { seconds: number; measured: boolean }): string {
    const c = `${(cpu.seconds * 1000).toFixed(2)} ms CPU per request (${cpu.measured ? 'measured: main thread busy / reads' : 'assumed'})`;
    return `round trip ${(e.rtt * 1000).toFixed(1)} ms, bandwidth >= ${(e.bandwidth / 1e6).toFixed(1)} MB/s, ${this.inFlight} reads in flight, ${c}`;
  }
}

/** The main thread's busy seconds from now on, from its event-loop utilization (performance.eventLoopUtilization). */
export function mainThreadBusy(): () => number {
  const start = perf.eventLoopUtilization();
  return () => perf.eventLoopUtilization(start).active / 1000;
}
