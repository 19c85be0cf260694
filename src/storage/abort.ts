/**
 * Cancellation of a run: the error every layer throws once the run's AbortSignal has fired (Ctrl-C, SIGTERM,
 * SIGHUP), and the test that tells such an error, ours or the SDK's or Node's, from a real failure. An abort
 * is never retried, never counted as a retry, and never journaled as a failed tile.
 */
import { setMaxListeners } from 'node:events';

/** Work stopped because the run's signal was aborted; `what` names the object or step that was stopped. */
export class AbortedError extends Error {
  override name = 'AbortError';
  readonly code = 'ABORTED';
  constructor(what?: string, options?: { cause?: unknown }) {
    super(what ? `${what}: aborted (the run is stopping)` : 'aborted (the run is stopping)', options);
  }
}

/** Throws an AbortedError naming `what` when `signal` has been aborted; does nothing without a signal. */
export function throwIfAborted(signal?: AbortSignal, what?: string): void {
  if (signal?.aborted) throw new AbortedError(what, { cause: signal.reason });
}

/**
 * Whether `err` is an abort: our AbortedError, the SDK's (name 'AbortError'), Node's (code 'ABORT_ERR', from
 * timers/promises, streams and fetch), piscina's, or the DOMException AbortController.abort() gives by default.
 * An error wrapping one of these as its `cause` counts too (a few levels deep), so a wrapper cannot hide it.
 */
export function isAbort(err: unknown): boolean {
  let e = err as { name?: unknown; code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++) {
    if (e instanceof AbortedError || e.name === 'AbortError' || e.code === 'ABORT_ERR' || e.code === 'ABORTED') return true;
    if (e.cause === e) break;
    e = e.cause as typeof e;
  }
  return false;
}

/** `err` as an AbortedError naming `what` (itself when it already is one), keeping the original as its cause. */
export function asAborted(err: unknown, what?: string): AbortedError {
  return err instanceof AbortedError ? err : new AbortedError(what, { cause: err });
}

/**
 * Calls `fn` once when `signal` aborts (at once if it already has); returns the function that removes the
 * listener, to call when the guarded work ends. The run's one signal is listened to by every read, listing
 * and queued waiter in flight (hundreds at once), so Node's "possible EventTarget memory leak" warning at 10
 * listeners is turned off for it: each listener here is removed when its work settles.
 */
export function onAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  if (!signal) return () => undefined;
  if (signal.aborted) {
    fn();
    return () => undefined;
  }
  allowManyListeners(signal);
  signal.addEventListener('abort', fn, { once: true });
  return () => {
    signal.removeEventListener('abort', fn);
  };
}

/** Lifts Node's listener-count warning for a signal shared by many requests at once (the SDK adds one per request). */
export function allowManyListeners(signal: AbortSignal | undefined): void {
  if (signal) setMaxListeners(0, signal);
}

/** What `watchAbort` calls when its signal aborts. */
export interface AbortWatcher {
  aborted(reason: unknown): void;
}

const watchers = new WeakMap<AbortSignal, Set<AbortWatcher>>();

/**
 * Like onAbort for work that starts and ends thousands of times under one long-lived signal (every ranged
 * GET of a run): the signal gets one listener, added at the first watch, and each watch is an entry of a Set
 * (an EventTarget listener per request is several microseconds of CPU on Node 20). Returns false, and
 * calls nothing, when the signal has already aborted: the caller fails at once instead. `unwatchAbort` ends
 * the watch; watchers still registered when the signal aborts are each called once.
 */
export function watchAbort(signal: AbortSignal, w: AbortWatcher): boolean {
  if (signal.aborted) return false;
  let set = watchers.get(signal);
  if (!set) {
    const s = (set = new Set<AbortWatcher>());
    watchers.set(signal, s);
    allowManyListeners(signal);
    signal.addEventListener(
      'abort',
      () => {
        const all = [...s];
        s.clear();
        for (const x of all) x.aborted(signal.reason);
      },
      { once: true },
    );
  }
  set.add(w);
  return true;
}

export function unwatchAbort(signal: AbortSignal, w: AbortWatcher): void {
  watchers.get(signal)?.delete(w);
}
