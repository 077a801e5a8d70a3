/**
 * Checks a history of single-register operations per key (writes of unique values, reads) for
 * the stale reads that linearizability forbids, using the real-time order of one process's
 * clock: operation X precedes Y when X completed before Y was invoked.
 *
 * For every successful read R that returned the value of write W (or "absent"):
 *  1. W was invoked before R completed (no value from the future, no value nobody wrote);
 *  2. W is not superseded at R's start: there is no write X known to have taken effect before R
 *     began (acknowledged before R's invocation, or read by a read that completed before R's
 *     invocation) such that W completed before X was invoked. A write that never completed
 *     (outcome info) is never "completed before" anything.
 *  "Absent" is superseded by any write known to have taken effect before R began.
 * Rule 2 is the brief's "latest acknowledged write at its start or one concurrent with it",
 * strengthened by what earlier reads observed (a later read must not go back). Both are
 * necessary conditions of linearizability for a register with unique writes; every violation
 * reported is a real one (no false alarms), though not every non-linearizable history is caught.
 */
import type { Op } from './history';

export interface Violation {
  key: string;
  read: Op;
  /** What the read should not have returned, and why. */
  reason: string;
}

interface CheckResult {
  reads: number;
  writes: number;
  violations: Violation[];
}

const completed = (op: Op): number => (op.outcome === 'ok' ? op.completedAt : Number.POSITIVE_INFINITY);

export function checkRegisters(ops: readonly Op[]): CheckResult {
  const byKey = new Map<string, Op[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (!list) byKey.set(op.key, (list = []));
    list.push(op);
  }
  const violations: Violation[] = [];
  let reads = 0;
  let writes = 0;
  for (const [key, list] of byKey) {
    const writesByValue = new Map<string, Op>();
    for (const op of list) if (op.type === 'write') writesByValue.set(op.value as string, op);
    writes += writesByValue.size;
    const okReads = list.filter((op) => op.type === 'read' && op.outcome === 'ok');
    reads += okReads.length;
    // Writes known to have taken effect, each with the time from which it is known.
    const known: { write: Op; since: number }[] = [];
    for (const w of writesByValue.values()) if (w.outcome === 'ok') known.push({ write: w, since: w.completedAt });
    for (const r of okReads) {
      if (r.value === null) continue;
      const w = writesByValue.get(r.value);
      if (w) known.push({ write: w, since: r.completedAt });
    }
    for (const r of okReads) {
      const before = known.filter((k) => k.since < r.invokedAt);
      if (r.value === null) {
        const first = before[0];
        if (first) violations.push({ key, read: r, reason: `read nothing although write ${first.write.value} was known before it began` });
        continue;
      }
      const w = writesByValue.get(r.value);
      if (!w) {
        violations.push({ key, read: r, reason: `read ${r.value}, which no client wrote` });
        continue;
      }
      if (w.invokedAt > r.completedAt) {
        violations.push({ key, read: r, reason: `read ${r.value}, written only after the read completed` });
        continue;
      }
      const newer = before.find((k) => k.write !== w && completed(w) < k.write.invokedAt);
      if (newer) violations.push({ key, read: r, reason: `read ${r.value} (completed at ${completed(w)}), superseded by ${newer.write.value} (invoked at ${newer.write.invokedAt}, known from ${newer.since}) before the read began at ${r.invokedAt}` });
    }
  }
  return { reads, writes, violations };
}
