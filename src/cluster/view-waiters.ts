/** Callers waiting for the agreed view to change, each for at most a while. */
export class ViewWaiters {
  private readonly waiters = new Set<() => void>();

  /** Resolves at the next wakeAll(), after `ms`, or when `signal` aborts, whichever comes first. Never rejects. */
  next(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const waiters = this.waiters;
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** A new view is installed (or the node stops): every waiter resumes. */
  wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
