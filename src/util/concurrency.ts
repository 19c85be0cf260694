/**
 * The one bounded-concurrency primitive of desi-qad. Every place that runs work in parallel (tiles of a run,
 * LIST requests of discovery, journal GETs, parts of a large ranged read, a tile's spectra reads) goes through
 * `mapLimit`, or takes slots of a shared `Limiter` where a limit spans several callers (ranged reads in flight
 * across all tiles).
 */
import { AbortedError, unwatchAbort, watchAbort, type AbortWatcher } from '../storage/abort.js';

export interface MapLimitOptions {
  /** Once aborted, no new item starts; after the started ones settle, the call rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Checked before each item starts: once true, no new item starts and the call resolves (a graceful stop). */
  stop?: () => boolean;
  /**
   * Work-conserving lanes: checked each time an item starts; while it says yes and items are left, one more
   * lane starts beyond `limit`. `limit` is then a guaranteed share, not a ceiling: a tile's reads
   * take slots of the run's limit that nobody else is waiting for (`Limiter.hasIdleSlot`). `fn` must take its slot
   * synchronously (as `Limiter.run` does when one is free), or the next check would see the same idle slot.
   */
  grow?: () => boolean;
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight, in item order. The first failure stops new
 * items from starting; the call settles only after every started item has settled (no work is left running
 * behind a rejected promise), then rejects with that first error. Resolves to the results in item order;
 * items that never started (after `stop()`) have no entry.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>, opts: MapLimitOptions = {}): Promise<R[]> {
  if (!(limit >= 1)) throw new RangeError(`mapLimit: limit must be at least 1, got ${limit}`);
  const results: R[] = [];
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const { signal, stop, grow } = opts;
  const more = () => next < items.length && !failed && !signal?.aborted && !stop?.();
  const running: Promise<void>[] = [];
  const lane = async (): Promise<void> => {
    while (more()) {
      const i = next++;
      // Called at once (an async arrow runs fn up to its first await): a synchronous throw becomes a rejection.
      const p = (async () => fn(items[i], i))();
      // After this lane took its slot for item i: only a slot still idle starts another lane.
      spare();
      try {
        results[i] = await p;
      } catch (err) {
        if (!failed) firstError = err;
        failed = true;
      }
    }
  };
  let shared = false; // the lanes of the share have all started: only then is a slot left idle beyond them
  const spare = () => {
    if (grow && shared) while (more() && grow()) running.push(lane());
  };
  const lanes = Math.max(1, Math.min(Math.floor(limit), items.length));
  for (let k = 0; k < lanes; k++) running.push(lane());
  shared = true;
  spare();
  // Lanes started by `spare` join `running` while earlier ones are awaited (an array's iterator sees them).
  for (const p of running) await p;
  if (failed) throw firstError;
  if (signal?.aborted) throw signal.reason;
  return results;
}

/** A caller queued for a slot of a Limiter: woken with the slot, or told the run's signal aborted. */
interface Waiter extends AbortWatcher {
  wake(): void;
}

/**
 * A counting semaphore: at most `limit` holders at once, served in arrival order within two classes: a
 * caller that asks `urgent` is served before every bulk caller still queued (in arrival order among the
 * urgent). `run(fn)` holds a slot for the duration of `fn`. Used where one limit is shared by independent
 * callers (total ranged reads in flight: a tile's chain of header and table reads is urgent, since each
 * unlocks the next, and its spectra rows are bulk, hundreds of them queued at once).
 * A caller waiting for a slot with a signal leaves the queue as soon as the signal aborts.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  private readonly urgentWaiting: Waiter[] = [];
  /** The most slots held at once since creation, for the run's log. */
  peak = 0;
  // Time-weighted slots held, over the time any slot was held (for meanInFlight).
  private heldMs = 0;
  private busyMs = 0;
  private changedAt = 0;

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`Limiter: limit must be at least 1, got ${limit}`);
  }

  get inFlight(): number {
    return this.active;
  }

  /** Whether a slot is free and nobody waits for one: another caller may take it without delaying anyone. */
  hasIdleSlot(): boolean {
    return this.active < this.limit && this.waiting.length === 0 && this.urgentWaiting.length === 0;
  }

  /** The mean number of slots held while at least one was (0 before any): how full the limit was kept. */
  meanInFlight(): number {
    this.account();
    return this.busyMs > 0 ? this.heldMs / this.busyMs : 0;
  }

  private account(): void {
    const now = performance.now();
    if (this.active > 0) {
      this.heldMs += this.active * (now - this.changedAt);
      this.busyMs += now - this.changedAt;
    }
    this.changedAt = now;
  }

  /**
   * Runs `fn` holding a slot. With `signal`: an aborted signal rejects at once with an AbortedError, and a
   * caller still queued when it aborts leaves the queue and rejects with one (fn never runs); once `fn` has
   * started, stopping it is fn's own business (it is given the same signal by its caller). `urgent`: served
   * before the bulk callers queued (a read that others wait on; see the class).
   */
  async run<R>(fn: () => Promise<R>, signal?: AbortSignal, urgent = false): Promise<R> {
    await this.acquire(signal, urgent);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  private acquire(signal: AbortSignal | undefined, urgent: boolean): Promise<void> {
    if (signal?.aborted) return Promise.reject(new AbortedError('waiting for a slot of the limit', { cause: signal.reason }));
    if (this.active < this.limit) {
      this.account();
      this.active += 1;
      this.peak = Math.max(this.peak, this.active);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      // One listener on the signal for every waiter of the run (watchAbort), not an EventTarget listener each:
      // thousands of reads queue for a slot of --reads-in-flight.
      const queue = urgent ? this.urgentWaiting : this.waiting;
      const w: Waiter = {
        wake: () => {
          if (signal) unwatchAbort(signal, w);
          resolve();
        },
        // Leaving the queue takes no slot: release() only ever hands slots to waiters still in it.
        aborted: (reason) => {
          const i = queue.indexOf(w);
          if (i >= 0) queue.splice(i, 1);
          reject(new AbortedError('waiting for a slot of the limit', { cause: reason }));
        },
      };
      if (signal && !watchAbort(signal, w)) {
        reject(new AbortedError('waiting for a slot of the limit', { cause: signal.reason }));
        return;
      }
      queue.push(w);
    });
  }

  private release(): void {
    const next = this.urgentWaiting.shift() ?? this.waiting.shift();
    if (next)
      next.wake(); // the slot passes straight to the next waiter
    else {
      this.account();
      this.active -= 1;
    }
  }
}
