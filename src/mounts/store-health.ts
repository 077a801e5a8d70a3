/**
 * How a store's calls have been going, as the instrumentation sees them: when one last
 * succeeded, when one last failed for the store's sake (unavailable, throttled, denied, or an
 * unexpected error; a missing key or a failed precondition is an answer, not a failure), and how
 * many failed in a row. The dashboard shows it per bucket with the serve-stale setting: a store
 * that is failing is one whose cached objects are being served stale.
 */
import { isUfsError } from '../../ufs-adapters/errors';

const FAILURES = new Set(['Unavailable', 'Throttled', 'Denied']);

export interface StoreHealthView {
  /** "unknown": no call yet; "failing": the last call that decided failed, and none succeeded since. */
  state: 'unknown' | 'ok' | 'failing';
  lastOkAt: string | null;
  lastFailureAt: string | null;
  /** The UFS error kind (or "error") of the last failure. */
  lastFailure: string | null;
  failuresInARow: number;
}

export class StoreHealth {
  private lastOk: number | undefined;
  private lastFailure: { at: number; kind: string } | undefined;
  private inARow = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** One finished call: undefined for success, else its error. */
  record(err?: unknown): void {
    if (err === undefined) {
      this.lastOk = this.now();
      this.inARow = 0;
      return;
    }
    const kind = isUfsError(err) ? err.kind : 'error';
    if (kind !== 'error' && !FAILURES.has(kind)) return;
    this.lastFailure = { at: this.now(), kind };
    this.inARow++;
  }

  view(): StoreHealthView {
    const failing = this.inARow > 0 && this.lastFailure !== undefined && (this.lastOk === undefined || this.lastFailure.at >= this.lastOk);
    return {
      state: failing ? 'failing' : this.lastOk !== undefined ? 'ok' : 'unknown',
      lastOkAt: this.lastOk === undefined ? null : new Date(this.lastOk).toISOString(),
      lastFailureAt: this.lastFailure ? new Date(this.lastFailure.at).toISOString() : null,
      lastFailure: this.lastFailure?.kind ?? null,
      failuresInARow: this.inARow,
    };
  }
}
