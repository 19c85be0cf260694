import { Piscina } from 'piscina';
import { fileURLToPath } from 'node:url';
import type { EncodeResult, EncodeTask, MatchResult, MatchTask, SelectResult, SelectTask } from './tasks.js';
import { transferList } from './tasks.js';
import { allowManyListeners } from '../storage/abort.js';

/** The compiled worker module (dist/workers/tile-worker.js), found relative to this file (dist/src/pipeline/). */
export const WORKER_FILE = fileURLToPath(new URL('../../workers/tile-worker.js', import.meta.url));

/**
 * The piscina pool of converter threads. Tasks' big buffers are moved by transfer (never cloned); a worker
 * error comes back as a rejected promise, and the failed thread is replaced by piscina.
 */
export class WorkerPool {
  private readonly pool: Piscina;
  /** Worker failures outside tasks, and who hears of them (the run log). */
  workerErrors = 0;
  onWorkerError?: (err: Error) => void;
  constructor(readonly threads: number) {
    this.pool = new Piscina({
      filename: WORKER_FILE,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
      // The WASM heap of parquet-wasm never shrinks; recycle nothing by time, but let piscina replace crashed threads.
    });
    // A worker that fails outside a task (it could not load, it ran out of memory) is replaced by piscina; its
    // 'error' event must have a listener, or Node would end the whole run for it. Tasks in it fail on their own.
    this.pool.on('error', (err: Error) => {
      this.workerErrors += 1;
      this.onWorkerError?.(err);
    });
  }

  /**
   * Runs a task on a worker thread. With `signal` (the run's), a task still queued when it aborts leaves the
   * queue, and a running one has its thread ended by piscina (which starts a fresh one); either way the call
   * rejects with piscina's AbortError, which pipeline/errors.ts classifies as ABORTED.
   */
  run(name: 'select', task: SelectTask, signal?: AbortSignal): Promise<SelectResult>;
  run(name: 'match', task: MatchTask, signal?: AbortSignal): Promise<MatchResult>;
  run(name: 'encode', task: EncodeTask, signal?: AbortSignal): Promise<EncodeResult>;
  async run(name: string, task: SelectTask | MatchTask | EncodeTask, signal?: AbortSignal): Promise<unknown> {
    allowManyListeners(signal); // piscina listens to it once per task in flight
    this.tick(1);
    try {
      return (await this.pool.run(task, { name, transferList: transferList(task), signal })) as unknown;
    } finally {
      this.tick(-1);
    }
  }

  /**
   * Thread-milliseconds the pool has been busy since it started: the integral over time of
   * min(tasks submitted and not finished, threads). The runner takes differences over a batch's window to
   * say how long the threads waited for data.
   */
  busyMs(): number {
    this.tick(0);
    return this.busy;
  }

  private busy = 0;
  private active = 0;
  private last = performance.now();

  private tick(delta: number): void {
    const now = performance.now();
    this.busy += Math.min(this.active, this.threads) * (now - this.last);
    this.last = now;
    this.active += delta;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
