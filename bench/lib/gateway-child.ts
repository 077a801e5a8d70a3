/**
 * A gateway started as a child process by the memory benchmarks: its output (the last 16 KiB,
 * and all of it in a log file when asked), its exit, its health, its Node.js memory gauges, and
 * a stop that always ends it. How it is started (environment or config file) is the bench's.
 */
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchError } from './bench-run';
import { Tail } from './output-tail';

export class GatewayChild {
  protected readonly tail = new Tail();
  private readonly log?: WriteStream;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  readonly exited: Promise<void>;
  /** Rejects when the child exits; raced against each phase. */
  readonly died: Promise<never>;

  /** `outputWhenDied`: the "exited unexpectedly" error carries the gateway's last output. */
  constructor(readonly child: ChildProcess, readonly url: string, options: { logPath?: string; outputWhenDied?: boolean } = {}) {
    if (options.logPath) this.log = createWriteStream(options.logPath);
    child.stdout?.on('data', (d: Buffer) => {
      this.log?.write(d);
      this.onStdout(d);
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.log?.write(d);
      this.tail.add(d);
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      }),
    );
    this.died = this.exited.then(() => {
      const output = options.outputWhenDied ? this.output() : '';
      throw new BenchError(`the gateway exited unexpectedly (code ${this.exit?.code}, signal ${this.exit?.signal})${output ? `\n--- gateway output ---\n${output}\n---` : ''}`);
    });
    this.died.catch(() => undefined); // only an error while someone races against it
  }

  /** What the gateway writes to stdout: kept in the tail (a subclass may read it first). */
  protected onStdout(data: Buffer): void {
    this.tail.add(data);
  }

  get pid(): number {
    return this.child.pid!;
  }

  output(): string {
    return this.tail.text();
  }

  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exit) throw new BenchError(`the gateway exited during startup (code ${this.exit.code}, signal ${this.exit.signal})`);
      try {
        const res = await fetch(`${this.url}/_ringcache/healthz`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new BenchError(`the gateway did not answer ${this.url}/_ringcache/healthz with 200 within ${timeoutMs / 1000} s`);
      await sleep(100);
    }
  }

  /** heapUsed / heapTotal / external (bytes) from the gateway's own Prometheus endpoint. */
  async nodeMemory(): Promise<{ heapUsed?: number; heapTotal?: number; external?: number }> {
    try {
      const res = await fetch(`${this.url}/_ringcache/metrics`, { signal: AbortSignal.timeout(2000) });
      const text = await res.text();
      const gauge = (name: string): number | undefined => {
        const m = new RegExp(`^ringcache_${name} ([0-9.e+]+)$`, 'm').exec(text);
        return m ? Number(m[1]) : undefined;
      };
      return { heapUsed: gauge('nodejs_heap_size_used_bytes'), heapTotal: gauge('nodejs_heap_size_total_bytes'), external: gauge('nodejs_external_memory_bytes') };
    } catch {
      return {};
    }
  }

  /** SIGTERM (clean shutdown), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (!this.exit) {
      this.child.kill('SIGTERM');
      if (!(await Promise.race([this.exited.then(() => true), sleep(5000).then(() => false)]))) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
  }

  killNow(): void {
    if (!this.exit) this.child.kill('SIGKILL');
  }
}
