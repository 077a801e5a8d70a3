/**
 * Child processes of the benchmarks (gateways, nginx, wrk), optionally pinned to a core, that are
 * always cleaned up; the tools they need; free ports and readiness polling.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BenchError } from './bench-run';

// Tools and pinning

export function which(command: string, extraDirs: string[] = []): string | undefined {
  if (command.includes('/')) return existsSync(command) ? command : undefined;
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...extraDirs];
  for (const dir of dirs) {
    const candidate = path.join(dir, command);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface Tools {
  wrk: string;
  nginx: string;
  taskset?: string;
}

/**
 * Finds wrk and nginx; when one is missing and we are root on a Debian-like system, installs
 * them with apt-get (`apt-get install -y wrk nginx-light`, after `apt-get update` if the
 * first attempt fails). BENCH_NO_INSTALL=1 only reports what is missing.
 */
export function ensureTools(log: (line: string) => void): Tools {
  const find = (): Partial<Tools> => ({
    wrk: which(process.env.BENCH_WRK || 'wrk'),
    nginx: which(process.env.BENCH_NGINX || 'nginx', ['/usr/sbin', '/sbin', '/usr/local/sbin']),
    taskset: which('taskset'),
  });
  let found = find();
  const missing = (): string[] => [found.wrk ? '' : 'wrk', found.nginx ? '' : 'nginx'].filter(Boolean);
  const aptGet = which('apt-get');
  if (missing().length > 0 && process.env.BENCH_NO_INSTALL !== '1' && process.getuid?.() === 0 && aptGet) {
    const attempt = (packages: string[]): boolean => {
      log(`installing ${packages.join(' ')} with apt-get ...`);
      return spawnSync(aptGet, ['install', '-y', '--no-install-recommends', ...packages], { stdio: ['ignore', 2, 2], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
    };
    const wanted = (nginxPackage: string): string[] => [found.wrk ? '' : 'wrk', found.nginx ? '' : nginxPackage].filter(Boolean);
    if (!attempt(wanted('nginx-light'))) {
      spawnSync(aptGet, ['update'], { stdio: ['ignore', 2, 2] });
      if (!attempt(wanted('nginx-light'))) attempt(wanted('nginx')); // newer Debian releases have no nginx-light
    }
    found = find();
  }
  if (missing().length > 0) {
    throw new BenchError(`missing ${missing().join(' and ')}: install ${missing().length > 1 ? 'them' : 'it'} (Debian: apt-get update && apt-get install -y wrk nginx-light) or set BENCH_WRK / BENCH_NGINX`);
  }
  return found as Tools;
}

/** Command prefixes that pin servers and the load generator to their cores (empty: no pinning). */
export interface Pinning {
  server: string[];
  client: string[];
  description: string;
}

export function choosePinning(tools: Tools, cpuCount: number): Pinning {
  if (process.env.BENCH_NO_PIN === '1') return { server: [], client: [], description: 'not pinned (BENCH_NO_PIN=1)' };
  if (!tools.taskset) return { server: [], client: [], description: 'not pinned (no taskset)' };
  if (cpuCount < 2) return { server: [], client: [], description: `not pinned (only ${cpuCount} CPU)` };
  return { server: [tools.taskset, '-c', '0'], client: [tools.taskset, '-c', '1'], description: 'servers on CPU 0 (taskset -c 0), wrk and this process on CPU 1 (taskset -c 1)' };
}

/** Moves every thread of this process to the client core, so it never competes with the servers. */
export function pinSelf(tools: Tools, pinning: Pinning): void {
  if (pinning.client.length === 0 || !tools.taskset) return;
  spawnSync(tools.taskset, ['-a', '-p', '-c', pinning.client[2], String(process.pid)], { stdio: 'ignore' });
}

// ---------------------------------------------------------------------------------------
// Child processes

/** Every child still running; killed synchronously if this process exits. */
const running = new Set<Child>();

export class Child {
  readonly exited: Promise<void>;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  /** Extra processes to kill with it (nginx workers). */
  extraPids: number[] = [];
  private stopping = false;
  private readonly tail: string[] = [];
  private tailBytes = 0;
  private stdoutText = '';

  private constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
    private readonly keepStdout: boolean,
  ) {
    running.add(this);
    const keep = (data: Buffer): void => {
      const text = data.toString('utf8');
      this.tail.push(text);
      this.tailBytes += text.length;
      while (this.tailBytes > 16 * 1024 && this.tail.length > 1) this.tailBytes -= this.tail.shift()!.length;
    };
    proc.stdout?.on('data', (data: Buffer) => {
      if (this.keepStdout) this.stdoutText += data.toString('utf8');
      keep(data);
    });
    proc.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        this.exit ??= { code, signal };
        running.delete(this);
        resolve();
      };
      proc.once('exit', done);
      proc.once('error', (err) => {
        this.tail.push(`spawn error: ${err.message}\n`);
        done(null, null);
      });
    });
  }

  /** `command` may start with a taskset prefix: taskset execs the program, so the pid is the program's. */
  static spawn(name: string, command: string[], options: { env?: NodeJS.ProcessEnv; keepStdout?: boolean; cwd?: string } = {}): Child {
    const proc = spawn(command[0], command.slice(1), { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    return new Child(name, proc, options.keepStdout ?? false);
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  output(): string {
    return this.tail.join('');
  }

  stdout(): string {
    return this.stdoutText;
  }

  /** Throws if the process has gone away on its own. */
  assertAlive(): void {
    if (this.exit && !this.stopping) {
      throw new BenchError(`${this.name} exited unexpectedly (code ${this.exit.code}, signal ${this.exit.signal})${this.describeOutput()}`);
    }
  }

  describeOutput(): string {
    const out = this.output().trim();
    return out ? `\n--- ${this.name} output ---\n${out}\n---` : '';
  }

  /** `signal` (SIGTERM: a clean shutdown), SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.alive) {
      this.proc.kill(signal);
      const done = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!done) {
        this.proc.kill('SIGKILL');
        await this.exited;
      }
    }
    this.killExtras();
  }

  killNow(): void {
    this.stopping = true;
    if (this.alive) this.proc.kill('SIGKILL');
    this.killExtras();
  }

  private killExtras(): void {
    for (const pid of this.extraPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.extraPids = [];
  }
}

export function killAllNow(): void {
  for (const child of [...running]) child.killNow();
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((child) => child.stop()));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers `status`, or the child dies, or the time is up. */
export async function waitForHttp(child: Child, url: string, timeoutMs = 30_000, status = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    child.assertAlive();
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === status) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new BenchError(`${child.name} did not answer ${url} with ${status} within ${timeoutMs / 1000} s${child.describeOutput()}`);
    await sleep(100);
  }
}
