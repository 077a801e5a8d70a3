/**
 * A Jepsen-style history: every operation a client invoked, with the wall-clock interval of one
 * process (invocation to completion) and its outcome.
 *   ok    the operation took effect (a write acknowledged; a read's value)
 *   fail  it certainly did not take effect (reads only: a read that failed observed nothing)
 *   info  unknown (a write that failed or timed out may or may not have taken effect)
 * Writes put unique values, so a read names the write it observed.
 */
export type OpType = 'write' | 'read';
export type Outcome = 'ok' | 'fail' | 'info';

export interface Op {
  /** Which client. */
  process: number;
  type: OpType;
  key: string;
  /** write: the value written; read (ok): the value read, or null when the key did not exist. */
  value: string | null;
  /** Which node the client asked. */
  node: string;
  invokedAt: number;
  completedAt: number;
  outcome: Outcome;
  /** Why it failed (an error name or HTTP status). */
  error?: string;
}

export interface NemesisEvent {
  at: number;
  what: string;
}

export class History {
  readonly ops: Op[] = [];
  readonly events: NemesisEvent[] = [];
  private readonly clock: () => number;

  constructor(clock: () => number = () => performance.timeOrigin + performance.now()) {
    this.clock = clock;
  }

  now(): number {
    return this.clock();
  }

  /** Runs `op` and records it with its interval and outcome. */
  async record(process: number, type: OpType, key: string, node: string, value: string | null, run: () => Promise<string | null | undefined>): Promise<void> {
    const invokedAt = this.now();
    try {
      const result = await run();
      this.ops.push({ process, type, key, node, value: type === 'read' ? (result ?? null) : value, invokedAt, completedAt: this.now(), outcome: 'ok' });
    } catch (err) {
      const error = (err as { name?: string; $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode?.toString() ?? (err as Error).name ?? 'error';
      this.ops.push({ process, type, key, node, value, invokedAt, completedAt: this.now(), outcome: type === 'read' ? 'fail' : 'info', error });
    }
  }

  event(what: string): void {
    this.events.push({ at: this.now(), what });
  }
}
