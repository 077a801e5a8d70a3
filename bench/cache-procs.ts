/**
 * Helpers of the cache benchmark (bench/cache-wrk.ts): child processes pinned to a core
 * (gateways, nginx, wrk) that are always cleaned up, the wrk runner with its Lua rotation
 * script, plain HTTP timing from Node, /proc CPU counters, Prometheus scraping and tables.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createServer } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export class BenchError extends Error {}

export const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------
// nginx

export interface Nginx {
  child: Child;
  port: number;
  host: string;
  sendfile: boolean;
}

/** nginx in the foreground with its own config, serving `root` on 127.0.0.1:<port>. */
export async function startNginx(nginxBin: string, pinning: Pinning, workDir: string, root: string, sendfile: boolean, probePath: string): Promise<Nginx> {
  const port = await freePort();
  const name = `nginx-sendfile-${sendfile ? 'on' : 'off'}`;
  const prefix = path.join(workDir, name);
  await mkdir(path.join(prefix, 'logs'), { recursive: true });
  const conf = path.join(prefix, 'nginx.conf');
  const temp = (what: string): string => `${what}_temp_path ${path.join(prefix, `${what}-temp`)};`;
  await writeFile(
    conf,
    [
      'daemon off;',
      'master_process on;',
      'worker_processes 1;',
      // Root's workers would run as www-data, which cannot enter the 0700 temp dir.
      ...(process.getuid?.() === 0 ? ['user root;'] : []),
      `pid ${path.join(prefix, 'nginx.pid')};`,
      `error_log ${path.join(prefix, 'logs', 'error.log')} warn;`,
      'events { worker_connections 4096; }',
      'http {',
      '  access_log off;',
      `  sendfile ${sendfile ? 'on' : 'off'};`,
      // Node's HTTP server never closes a keep-alive connection after N requests; nor does nginx here (its default is 1000).
      '  keepalive_requests 100000000;',
      '  default_type application/octet-stream;',
      `  ${temp('client_body')}`,
      `  ${temp('proxy')}`,
      `  ${temp('fastcgi')}`,
      `  ${temp('uwsgi')}`,
      `  ${temp('scgi')}`,
      '  server {',
      `    listen 127.0.0.1:${port};`,
      `    root ${root};`,
      '    location / { }',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  const child = Child.spawn(name, [...pinning.server, nginxBin, '-p', prefix, '-e', path.join(prefix, 'logs', 'startup.log'), '-c', conf]);
  const host = `127.0.0.1:${port}`;
  try {
    await waitForHttp(child, `http://${host}${probePath}`, 15_000);
  } catch (err) {
    await child.stop();
    const log = [path.join(prefix, 'logs', 'startup.log'), path.join(prefix, 'logs', 'error.log')].map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : '')).join('');
    throw new BenchError(`${(err as Error).message}${log.trim() ? `\n--- nginx error log ---\n${log.trim()}` : ''}`);
  }
  // The worker, so that even a SIGKILL of everything leaves no orphan behind.
  const children = `/proc/${child.pid}/task/${child.pid}/children`;
  if (existsSync(children)) child.extraPids = readFileSync(children, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return { child, port, host, sendfile };
}

// ---------------------------------------------------------------------------------------
// wrk

export interface WrkResult {
  requests: number;
  bytes: number;
  seconds: number;
  reqPerSec: number;
  mibPerSec: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  /** Busy % of each CPU during the run (from /proc/stat). */
  cpuBusy: number[];
  /** wrk's own Requests/sec line, as a cross-check of the exact figures. */
  printedReqPerSec?: number;
  text: string;
}

/** One request of a wrk rotation: a path (GET) or a method, path and extra headers. */
export type WrkRequest = string | { method?: string; path: string; headers?: Record<string, string> };

/**
 * The Lua script for one server: `request()` rotates round-robin through `requests` (formatted
 * once, in init), `done()` prints wrk's exact summary as JSON.
 */
export function wrkScript(requests: WrkRequest[], host: string): string {
  const lua = (s: string): string => {
    if (!/^[\x20-\x7e]+$/.test(s)) throw new BenchError(`not printable ASCII: ${s}`);
    return JSON.stringify(s); // no escapes in printable ASCII but \" and \\, which Lua reads alike
  };
  const entry = (r: WrkRequest): string => {
    const { method = 'GET', path: p, headers = {} } = typeof r === 'string' ? { path: r } : r;
    const extra = Object.entries(headers)
      .map(([name, value]) => `[${lua(name)}] = ${lua(value)}`)
      .join(', ');
    return `  { ${lua(method)}, ${lua(p)}, { ["Host"] = host${extra ? `, ${extra}` : ''} } },`;
  };
  return `-- generated by bench/cache-procs.ts
local host = ${lua(host)}
local specs = {
${requests.map(entry).join('\n')}
}
local requests = {}
local i = 0

function init(args)
  for k, s in ipairs(specs) do
    requests[k] = wrk.format(s[1], s[2], s[3])
  end
end

function request()
  i = i % #requests + 1
  return requests[i]
end

function done(summary, latency, _)
  local e = summary.errors
  local mean = latency.mean
  if mean ~= mean then mean = 0 end
  io.write(string.format('BENCHJSON {"requests":%.0f,"bytes":%.0f,"duration_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"mean_us":%.3f,"max_us":%.0f}\\n',
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), mean, latency.max))
end
`;
}

export interface WrkOptions {
  wrk: string;
  pinning: Pinning;
  script: string;
  host: string;
  connections: number;
  seconds: number;
  timeout: string;
}

export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const args = [...o.pinning.client, o.wrk, '-t1', `-c${o.connections}`, `-d${o.seconds}s`, '--latency', '--timeout', o.timeout, '-s', o.script, `http://${o.host}/`];
  const cpu0 = cpuTimes();
  const child = Child.spawn('wrk', args, { keepStdout: true });
  await child.exited;
  const cpu1 = cpuTimes();
  const text = child.stdout();
  if (child.exit?.code !== 0) throw new BenchError(`wrk failed (code ${child.exit?.code}, signal ${child.exit?.signal}): ${args.join(' ')}${child.describeOutput()}`);
  const m = /^BENCHJSON (\{.*\})$/m.exec(text);
  if (!m) throw new BenchError(`no summary in wrk's output:\n${text}`);
  const j = JSON.parse(m[1]) as Record<string, number>;
  const seconds = j.duration_us / 1e6;
  const printed = /^Requests\/sec:\s+([0-9.]+)/m.exec(text);
  return {
    requests: j.requests,
    bytes: j.bytes,
    seconds,
    reqPerSec: j.requests / seconds,
    mibPerSec: j.bytes / MiB / seconds,
    p50Ms: j.p50_us / 1000,
    p90Ms: j.p90_us / 1000,
    p99Ms: j.p99_us / 1000,
    meanMs: j.mean_us / 1000,
    maxMs: j.max_us / 1000,
    errors: { connect: j.connect, read: j.read, write: j.write, status: j.status, timeout: j.timeout },
    cpuBusy: busyPercent(cpu0, cpu1),
    printedReqPerSec: printed ? Number(printed[1]) : undefined,
    text,
  };
}

// ---------------------------------------------------------------------------------------
// /proc CPU counters

interface CpuTimes {
  busy: number[];
  total: number[];
}

/** Per-CPU busy and total jiffies from /proc/stat (empty off Linux). */
export function cpuTimes(): CpuTimes {
  const out: CpuTimes = { busy: [], total: [] };
  let text = '';
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return out;
  }
  for (const m of text.matchAll(/^cpu(\d+) (.*)$/gm)) {
    const f = m[2].trim().split(/\s+/).map(Number);
    const idle = f[3] + (f[4] ?? 0); // idle + iowait
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // without guest (already in user)
    out.busy[Number(m[1])] = total - idle;
    out.total[Number(m[1])] = total;
  }
  return out;
}

export function busyPercent(a: CpuTimes, b: CpuTimes): number[] {
  return b.total.map((t, i) => {
    const dt = t - (a.total[i] ?? 0);
    return dt > 0 ? (100 * (b.busy[i] - (a.busy[i] ?? 0))) / dt : 0;
  });
}

// ---------------------------------------------------------------------------------------
// Plain HTTP from Node (verification and latency)

export interface HttpResult {
  status: number;
  bytes: number;
  sha256?: string;
  ms: number;
  body?: string;
}

/** One request; `ms` is from the call to the last body byte. */
export function httpRequest(url: string, options: { agent: http.Agent; method?: string; hash?: boolean; timeoutMs?: number }): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request(url, { method: options.method ?? 'GET', agent: options.agent }, (res) => {
      const hash = options.hash ? createHash('sha256') : undefined;
      const status = res.statusCode ?? 0;
      let bytes = 0;
      let body = '';
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash?.update(chunk);
        if (status >= 400 && body.length < 2000) body += chunk.toString('utf8');
      });
      res.once('end', () => resolve({ status, bytes, sha256: hash?.digest('hex'), ms: performance.now() - t0, body: body || undefined }));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.setTimeout(options.timeoutMs ?? 120_000, () => req.destroy(new BenchError(`timeout: ${options.method ?? 'GET'} ${url}`)));
    req.end();
  });
}

// ---------------------------------------------------------------------------------------
// Prometheus text

export type MetricSamples = { name: string; labels: Record<string, string>; value: number }[];

export async function scrapeMetrics(baseUrl: string): Promise<MetricSamples> {
  const res = await fetch(`${baseUrl}/_ringcache/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  if (res.status !== 200) throw new BenchError(`GET /_ringcache/metrics answered ${res.status}`);
  const out: MetricSamples = [];
  for (const m of text.matchAll(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/gm)) {
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples of `name` whose labels include `match`. */
export function metricSum(samples: MetricSamples, name: string, match: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

// ---------------------------------------------------------------------------------------
// Numbers and tables

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function table(headers: string[], rows: string[][], alignLeft = 1): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < alignLeft ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}
