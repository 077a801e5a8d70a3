/**
 * Counters bumped on every request, without prom-client's per-call label work.
 *
 * prom-client's `counter.labels(...).inc(n)` (and `inc({ labels }, n)`) validates and hashes the
 * label values on every call, a measurable share of a warm GET. A cell is one label combination
 * bound once: `cell.add(n)` is a number addition, and the pending amounts are added to the real
 * counter when it is collected (every scrape and every `get()`), so readers see exact totals.
 */
import type { Counter } from 'prom-client';

export interface CounterCell {
  add(n?: number): void;
}

class Cell<T extends string> implements CounterCell {
  pending = 0;

  constructor(readonly labels: Partial<Record<T, string>>) {}

  add(n = 1): void {
    this.pending += n;
  }
}

export class CounterCells<T extends string> {
  private readonly cells = new Map<string, Cell<T>>();
  private counter: Counter<T> | undefined;

  constructor(private readonly labelNames: readonly T[]) {}

  /** Binds the counter; call its `collect` with `flush` (see Metrics). */
  attach(counter: Counter<T>): void {
    this.counter = counter;
  }

  /** The cell of one label combination (values in labelNames order), created on first use. */
  cell(...values: string[]): CounterCell {
    const id = values.length === 1 ? values[0] : values.join('\u0000');
    let cell = this.cells.get(id);
    if (cell === undefined) {
      const labels: Partial<Record<T, string>> = {};
      this.labelNames.forEach((name, i) => (labels[name] = values[i]));
      cell = new Cell<T>(labels);
      this.cells.set(id, cell);
    }
    return cell;
  }

  /** Adds what the cells counted since the last flush to the counter. */
  flush(): void {
    const counter = this.counter;
    if (!counter) return;
    for (const cell of this.cells.values()) {
      if (cell.pending === 0) continue;
      counter.inc(cell.labels, cell.pending);
      cell.pending = 0;
    }
  }
}
