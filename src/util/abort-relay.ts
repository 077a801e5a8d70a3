/**
 * `onAbort(signal, callback)`: run `callback` when `signal` aborts, until the returned function
 * is called, with one 'abort' listener per signal however many callbacks wait on it.
 *
 * A preload job's signal lives as long as the job, and every page load of every key of every
 * batch in flight waited on it with a listener of its own (untilAborted, Semaphore): 61 at once
 * in a job of 400 files at concurrency 8, a few thousand at concurrency 256, and as many held for
 * as long as a store hangs. Node warned (MaxListenersExceededWarning) past 10. Here the signal
 * carries one listener, which relays to a set that callers join and leave. Callbacks run in the
 * order they joined and must not throw (the ones here reject a promise or leave a queue).
 */
const relays = new WeakMap<AbortSignal, Set<() => void>>();

export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  let callbacks = relays.get(signal);
  if (!callbacks) {
    const joined = new Set<() => void>();
    callbacks = joined;
    relays.set(signal, joined);
    signal.addEventListener(
      'abort',
      () => {
        relays.delete(signal);
        const due = [...joined];
        joined.clear();
        for (const run of due) run();
      },
      { once: true },
    );
  }
  const set = callbacks;
  set.add(callback);
  return () => void set.delete(callback);
}

/** Callbacks waiting on `signal` (tests). */
export const abortCallbacks = (signal: AbortSignal): number => relays.get(signal)?.size ?? 0;
