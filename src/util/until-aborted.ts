/**
 * `promise`, or a rejection with the signal's reason as soon as `signal` aborts. The work
 * itself goes on; what it yields after the abort goes to `onLate` (to free a late response),
 * and a late failure is ignored.
 */
import { onAbort as relayAbort } from './abort-relay';

export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, onLate?: (value: T) => void): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason);
      promise.then((late) => onLate?.(late), () => undefined);
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    // One listener on the signal for all waiters (long-lived signals have many: abort-relay.ts).
    const leave = relayAbort(signal, onAbort);
    promise.then(
      (value) => {
        leave();
        resolve(value);
      },
      (err: unknown) => {
        leave();
        reject(err);
      },
    );
  });
}
