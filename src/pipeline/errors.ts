import { FitsError } from '../fits/errors.js';
import { DesiError } from '../desi/errors.js';
import { isAbort } from '../storage/abort.js';

/**
 * Errors crossing the worker boundary lose their class (structured clone keeps only message and stack), so
 * the worker encodes FitsError/DesiError into the message behind this tag and the main thread decodes it.
 */
const TAG = 'desi-qad-error:';

interface Encoded {
  name: string;
  code: string;
  message: string;
}

/** Wraps a worker task so that known errors keep their class name and code across the thread boundary. */
export function guard<A, R>(fn: (a: A) => R | Promise<R>): (a: A) => Promise<R> {
  return async (a: A) => {
    try {
      return await fn(a);
    } catch (err) {
      throw encodeForTransfer(err);
    }
  };
}

function encodeForTransfer(err: unknown): unknown {
  if (err instanceof FitsError || err instanceof DesiError) {
    const e: Encoded = { name: err.name, code: err.code, message: err.message };
    return new Error(TAG + JSON.stringify(e));
  }
  if (err instanceof WebAssembly.RuntimeError) {
    // A panic inside parquet-wasm leaves its heap in an unknown state: end this thread once the error has
    // been posted, and piscina starts a fresh one.
    setImmediate(() => process.exit(70));
    const e: Encoded = { name: 'RuntimeError', code: 'WASM_PANIC', message: `parquet-wasm panicked: ${err.message}` };
    return new Error(TAG + JSON.stringify(e));
  }
  return err;
}

/** What the journal and the end-of-run table record for a failed tile: a stable class and a message. */
export interface Failure {
  errorClass: string;
  message: string;
}

/** Errors that stop the whole run (the output cannot take more data), not just one tile. */
export const FATAL_ERRNO = new Set(['ENOSPC', 'EDQUOT', 'EROFS']);

/**
 * The class and message of a failed tile. An abort (the run is stopping: ours, the SDK's, Node's or
 * piscina's) is ABORTED, whatever its code says.
 */
export function classify(err: unknown): Failure {
  if (isAborted(err)) return { errorClass: 'ABORTED', message: (err as Error).message };
  if (err instanceof FitsError || err instanceof DesiError) return { errorClass: err.code, message: err.message };
  const e = err as NodeJS.ErrnoException;
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  if (msg.startsWith(TAG)) {
    try {
      const d = JSON.parse(msg.slice(TAG.length)) as Encoded;
      return { errorClass: d.code, message: d.message };
    } catch {
      /* fall through */
    }
  }
  if (typeof e?.code === 'string' && /^E[A-Z0-9]+$/.test(e.code)) return { errorClass: `IO_${e.code}`, message: msg };
  // Our own error classes carry an upper-case code (MEMORY_BUDGET, OBJECT_CHANGED, S3_...): keep it.
  if (typeof e?.code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(e.code)) return { errorClass: e.code, message: msg };
  // S3 errors carry S3's own code (SlowDown, NoSuchKey, AccessDenied) or an errno: S3_<code>.
  if (e?.name === 'S3Error') return { errorClass: `S3_${typeof e.code === 'string' ? e.code : 'ERROR'}`, message: msg };
  if (e instanceof RangeError) return { errorClass: 'IO_RANGE', message: msg };
  return { errorClass: e?.name && e.name !== 'Error' ? e.name : 'INTERNAL', message: msg };
}

/**
 * Whether `err` means the tile was stopped by the run's signal rather than failed: such a tile did not
 * finish, so the run does not journal it and a later run converts it.
 */
export function isAborted(err: unknown): boolean {
  return isAbort(err);
}

/**
 * Whether an error of writing the output means no later tile can be written either: a full or read-only disk,
 * or an S3 output that does not exist, denies access or does not answer. Only output-side errors are passed
 * here; a source object that cannot be read fails its tile alone.
 */
export function isFatalOutput(err: unknown): boolean {
  const e = err as { code?: unknown; fatal?: unknown };
  if (typeof e?.code === 'string' && FATAL_ERRNO.has(e.code)) return true;
  return e?.fatal === true;
}
