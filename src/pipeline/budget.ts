/**
 * The memory budget: bytes of tile data in flight (fetched, being decoded, being encoded) may not exceed
 * `limit`. Tiles ask before they read and give back when their file is written; a request waits until it
 * fits. A request larger than the whole budget can never fit and is refused at once (the tile fails with a
 * clear message) instead of waiting forever or breaking the promise.
 */
export class BudgetExceededError extends Error {
  readonly code = 'MEMORY_BUDGET';
}

export class ByteBudget {
  private used = 0;
  private peak = 0;
  private readonly waiters: { bytes: number; resolve: () => void }[] = [];

  constructor(readonly limit: number) {
    if (!(limit > 0)) throw new Error('the memory budget must be positive');
  }

  get inUse(): number {
    return this.used;
  }

  /** The most bytes ever held at once. */
  get peakInUse(): number {
    return this.peak;
  }

  /** Waits until `bytes` fit, then holds them; returns a release function (idempotent). */
  async acquire(bytes: number, what: string): Promise<() => void> {
    const n = Math.max(0, Math.ceil(bytes));
    if (n > this.limit) {
      throw new BudgetExceededError(
        `${what} needs ${(n / 1e6).toFixed(1)} MB in memory, more than the whole --memory budget of ${(this.limit / 1e6).toFixed(1)} MB`,
      );
    }
    if (this.waiters.length > 0 || this.used + n > this.limit) {
      await new Promise<void>((resolve) => this.waiters.push({ bytes: n, resolve }));
    } else {
      this.take(n);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= n;
      this.wake();
    };
  }

  private take(n: number): void {
    this.used += n;
    this.peak = Math.max(this.peak, this.used);
  }

  /** First come, first served: a big request is not starved by a stream of small ones. */
  private wake(): void {
    while (this.waiters.length > 0 && this.used + this.waiters[0].bytes <= this.limit) {
      const w = this.waiters.shift()!;
      this.take(w.bytes);
      w.resolve();
    }
  }
}
