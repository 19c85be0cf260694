import { Piscina } from 'piscina';
import { fileURLToPath } from 'node:url';
import type { EncodeResult, EncodeTask, MatchResult, MatchTask, SelectResult, SelectTask } from './tasks.js';
import { transferList } from './tasks.js';

/** The compiled worker module (dist/workers/convert.js), found relative to this file (dist/src/pipeline/). */
export const WORKER_FILE = fileURLToPath(new URL('../../workers/convert.js', import.meta.url));

/**
 * The piscina pool of converter threads. Tasks' big buffers are moved by transfer (never cloned); a worker
 * error comes back as a rejected promise, and the failed thread is replaced by piscina.
 */
export class WorkerPool {
  private readonly pool: Piscina;
  constructor(readonly threads: number) {
    this.pool = new Piscina({
      filename: WORKER_FILE,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
      // The WASM heap of parquet-wasm never shrinks; recycle nothing by time, but let piscina replace crashed threads.
    });
  }

  run(name: 'select', task: SelectTask): Promise<SelectResult>;
  run(name: 'match', task: MatchTask): Promise<MatchResult>;
  run(name: 'encode', task: EncodeTask): Promise<EncodeResult>;
  async run(name: string, task: SelectTask | MatchTask | EncodeTask): Promise<unknown> {
    return this.pool.run(task, { name, transferList: transferList(task) });
  }

  /** Busy fraction of the pool's threads since start, from piscina's own counter. */
  get utilization(): number {
    return this.pool.utilization;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
