/**
 * `--gap-bytes auto` (the default): the merge gap of the spectra rows' reads, chosen from the link the run
 * measures, instead of a fixed 16 KiB (S3) or 64 KiB (local disk).
 *
 * The rule. Two planned reads `g` bytes apart are read as one when the bytes in between cost less than the
 * request they save. The `g` bytes take g / B of the link (B: its bandwidth). One request more costs the
 * run only as far as it holds up the resource that binds:
 *
 * - its round trip, of which RTT / N shows when N reads are in flight (the reads of the next tiles overlap),
 *   and none of it when the reads in flight already fill the link: N reads of S bytes on average keep it
 *   busy for N x S / B, so each request leaves max(0, RTT / N - S / B) of the link idle;
 * - its client CPU c (about 1 ms per ranged GET through the AWS SDK, 0.4 ms on the lean path; much less for
 *   a local pread), which delays the run only while the main thread is busy: c x u, u its busy share.
 *
 *     gap = B x (max(0, RTT / N - S / B) + c x u),   clamped to [4 KiB, 1 MiB]
 *
 * Without S and u (S = 0, u = 1) this is B x (RTT / N + c): on the seed's link (35 MB/s, 20 ms, N = 64,
 * c = 1 ms) 35e6 x (0.31 ms + 1 ms) = 46 KB; on a 10 ms link of 1 GB/s ~1 MB; on a local disk (RTT
 * ~0.1 ms, c = 0.1 ms) at 2 GB/s ~200 KB. Measured on the seed's link (README, link): S ~19 KB > RTT / N x B
 * = 11 KB, so the round trip is hidden, and c = 0.4 ms at u ~0.5 gives ~7 KiB; fixed gaps of 8 KiB and
 * 16 KiB took 8.85 s and 9.4 s there.
 *
 * On S3, c and u are measured too, once 16 reads are: u is the main thread's busy time (its event-loop
 * utilization: every request is sent, its response read and its bytes handed on there) over the time since
 * the run began, and that busy time over the reads so far bounds c from above. It counts the main thread's
 * per-byte and other work as well (responses copied, header scans, the journal), so c is the smaller of it
 * and the assumed figure of the source kind (below): uncapped, a wider gap meant more bytes per read, a
 * dearer "request" and a wider gap again. Until measured, the assumed figure is used, with u = 1.
 *
 * Measured per run from its own reads (LinkMeter): RTT is the shortest duration of the small reads (<= 64
 * KiB: a round trip plus the server's time; the headers and REDSHIFTS of the first tiles); B is the highest
 * rate of bytes delivered over any 0.5 s window so far (a lower bound of the link's bandwidth that rises
 * as more reads overlap); S is the bytes read over the reads. Until 16 reads and one full window are
 * measured, the fixed default of the source kind is used. After that the rule's gap is used even below the
 * fixed default, although the first windows underestimate B: an earlier version kept the default as a floor
 * for 3 s, and since most tiles of a short run are planned in its first seconds (32 start at once on S3) the
 * floor was the gap of nearly every tile (9.5 s on the bench's link where the rule's 5-8 KiB took 9.05 s).
 * The gap is re-chosen as the estimates change; it never changes output bytes (which rows are read, not how
 * they are grouped into requests, decide the output), only bytes fetched and requests.
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
  /** Mean bytes per read so far (S; absent: 0, the round trip counts as RTT / N). */
  meanRead?: number;
  /** Share of the time the main thread is busy, 0..1 (u; absent: 1, the CPU counts whole). */
  busyShare?: number;
}

export const MIN_AUTO_GAP = 4 * 1024;
export const MAX_AUTO_GAP = 1024 * 1024;

/** The gap the rule gives, in whole KiB, clamped to [MIN_AUTO_GAP, MAX_AUTO_GAP]. */
export function chooseGap(i: GapInputs): number {
  const transfer = i.meanRead === undefined || i.bandwidth <= 0 ? 0 : i.meanRead / i.bandwidth;
  const share = i.busyShare === undefined ? 1 : Math.min(1, Math.max(0, i.busyShare));
  const raw = i.bandwidth * (Math.max(0, i.rtt / Math.max(1, i.inFlight) - transfer) + i.requestCpu * share);
  if (!Number.isFinite(raw)) return MAX_AUTO_GAP;
  const kib = Math.round(raw / 1024) * 1024;
  return Math.min(MAX_AUTO_GAP, Math.max(MIN_AUTO_GAP, kib));
}

/**
 * Client CPU per request assumed by the rule, and the most the measure may give: a ranged GET on S3 through the
 * lean path (bench "gets": 390-455 us of main thread per GET, 2026-12-03), a local pread.
 */
export const REQUEST_CPU_S3 = 4e-4;
export const REQUEST_CPU_LOCAL = 1e-4;

/** Reads at most this big count for the round trip (their transfer time is small next to it). */
const SMALL_READ = 64 * 1024;
const WINDOW_MS = 500;
const MIN_READS = 16;

/** The meter's estimates: seconds, bytes per second, bytes. */
export interface LinkEstimate {
  rtt: number;
  bandwidth: number;
  meanRead: number;
}

/** What a run measures of its reads: round trip and bandwidth estimates (see the module's comment). */
export class LinkMeter {
  private reads = 0;
  private bytes = 0;
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
    this.bytes += bytes;
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
  estimate(): LinkEstimate | undefined {
    if (this.reads < MIN_READS || this.bestRate === 0 || this.minSmallMs === Infinity) return undefined;
    return { rtt: this.minSmallMs / 1000, bandwidth: this.bestRate, meanRead: this.bytes / this.reads };
  }
}

/** c and u of the rule; busyPerRead: the main thread's busy seconds per read, when measured. */
interface RequestCpu {
  seconds: number;
  share: number;
  busyPerRead?: number;
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
    /** The main thread's busy seconds and busy share since the run began (null: c assumed, u = 1). */
    private readonly busy: (() => MainThreadBusy) | null = mainThreadBusy(),
  ) {
    this.meter = meter ?? new LinkMeter();
  }

  /** The gap to plan the next tile with. */
  current(): number {
    const e = this.meter.estimate();
    if (!e) return this.fallback;
    const cpu = this.cpuPerRequest();
    const gap = chooseGap({ ...e, inFlight: this.inFlight, requestCpu: cpu.seconds, busyShare: cpu.share });
    if (gap !== this.chosen) {
      this.chosen = gap;
      this.onChoice?.(gap, this.describe(e, cpu));
    }
    return gap;
  }

  /**
   * c: measured (main-thread busy seconds per read, at least 10 us) once the meter knows, but never above the
   * assumed figure; u: the main thread's busy share when measured, else 1. The measure is an upper bound: it
   * counts the main thread's per-byte work (responses read, slices handed on) and all its other work, and the
   * per-byte part grows with the gap, so uncapped it fed back on itself (a wider gap, more bytes per read, a
   * dearer "request", a wider gap: 17 -> 27 -> 43 KiB on one run of the bench's link, 17.5 s where fixed gaps of
   * 8-32 KiB took 14.9 s). Below the assumed figure it says requests are cheaper here than assumed.
   */
  private cpuPerRequest(): RequestCpu {
    const n = this.meter.count;
    const assumed: RequestCpu = { seconds: this.requestCpu, share: 1 };
    if (this.busy === null || n < MIN_READS) return assumed;
    const b = this.busy();
    const c = b.seconds / n;
    if (!Number.isFinite(c) || !Number.isFinite(b.share)) return assumed;
    return { seconds: Math.min(this.requestCpu, Math.max(1e-5, c)), share: Math.min(1, Math.max(0, b.share)), busyPerRead: c };
  }

  /** The last chosen gap (the fallback when none was chosen), for the run's summary. */
  get last(): number {
    return this.chosen ?? this.fallback;
  }

  private describe(e: LinkEstimate, cpu: RequestCpu): string {
    const ms = (x: number) => `${(x * 1000).toFixed(2)} ms`;
    const c =
      cpu.busyPerRead === undefined
        ? `${ms(cpu.seconds)} CPU per request (assumed)`
        : `${ms(cpu.seconds)} CPU per request (${cpu.busyPerRead < this.requestCpu ? 'measured: main thread busy / reads' : `assumed: main thread busy / reads is ${ms(cpu.busyPerRead)}, an upper bound`}), main thread busy ${(cpu.share * 100).toFixed(0)} %`;
    return `round trip ${(e.rtt * 1000).toFixed(1)} ms, bandwidth >= ${(e.bandwidth / 1e6).toFixed(1)} MB/s, ${(e.meanRead / 1024).toFixed(1)} KiB per read, ${this.inFlight} reads in flight, ${c}`;
  }
}

/** The main thread's busy time since a start: seconds, and their share of the time passed (0..1). */
export interface MainThreadBusy {
  seconds: number;
  share: number;
}

/** The main thread's busy time from now on, from its event-loop utilization (performance.eventLoopUtilization). */
export function mainThreadBusy(): () => MainThreadBusy {
  const start = perf.eventLoopUtilization();
  return () => {
    const elu = perf.eventLoopUtilization(start);
    return { seconds: elu.active / 1000, share: elu.utilization };
  };
}
