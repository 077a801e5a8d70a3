/**
 * Maps an async iterable with bounded concurrency, yielding results in source order.
 * Listing needs a few syscalls per entry (lstat, sidecar read); on NFS each is a network
 * round trip, so a small window of look-ahead hides most of the latency while memory
 * stays bounded by `window`.
 */
export async function* mapAhead<T, U>(
  source: AsyncIterable<T>,
  window: number,
  map: (item: T) => Promise<U>,
): AsyncGenerator<U> {
  const iterator = source[Symbol.asyncIterator]();
  const pending: Promise<U>[] = [];
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && pending.length < window) {
        const next = await iterator.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const mapped = map(next.value);
        mapped.catch(() => undefined); // observed when its turn comes; never unhandled if abandoned
        pending.push(mapped);
      }
      const head = pending.shift();
      if (head === undefined) return;
      yield await head;
    }
  } finally {
    await iterator.return?.();
  }
}

/** `mapAhead`, leaving out the items that map to undefined. */
export async function* mapAheadDefined<T, U>(source: AsyncIterable<T>, window: number, map: (item: T) => Promise<U | undefined>): AsyncGenerator<U> {
  for await (const value of mapAhead(source, window, map)) {
    if (value !== undefined) yield value;
  }
}
