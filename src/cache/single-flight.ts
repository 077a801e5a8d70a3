/**
 * At most one in-flight computation per key: concurrent callers share its promise.
 * The work runs detached from any one caller, so a caller that goes away does not fail
 * the others.
 */
export class SingleFlight<T> {
  private readonly inflight = new Map<string, Promise<T>>();

  constructor(private readonly onJoin: () => void = () => undefined) {}

  run(key: string, work: () => Promise<T>): Promise<T> {
    const existing = this.inflight.get(key);
    if (existing) {
      this.onJoin();
      return existing;
    }
    const promise: Promise<T> = work().finally(() => {
      if (this.inflight.get(key) === promise) this.inflight.delete(key);
    });
    this.inflight.set(key, promise);
    return promise;
  }

  /** New callers start a new flight (the running one still settles for its own callers). */
  forget(key: string): void {
    this.inflight.delete(key);
  }
}
