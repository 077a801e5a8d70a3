/**
 * A throwaway Prometheus server (Debian's `prometheus` package, /usr/bin/prometheus) for tests:
 * its config and TSDB in one temp dir, listening on 127.0.0.1, a child process stopped by PID.
 * It scrapes the given targets at `scrapeIntervalSeconds`; `query` runs PromQL through its
 * HTTP API (/api/v1/query). `promtoolCheckMetrics` lints a metrics exposition with promtool.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from '../helpers/cluster-processes';

const PROMETHEUS = '/usr/bin/prometheus';

/** Why Prometheus cannot run here, or undefined. */
export function prometheusMissing(): string | undefined {
  if (!existsSync(PROMETHEUS)) return `no ${PROMETHEUS}: apt-get install prometheus`;
  if (spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status !== 0) return 'no promtool: apt-get install prometheus';
  return undefined;
}

/** `promtool check metrics` on an exposition (stdin): exit status and what it printed (problems, one per line). */
export function promtoolCheckMetrics(exposition: string): { status: number | null; output: string } {
  const res = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8', timeout: 60_000 });
  return { status: res.status, output: `${res.stdout}${res.stderr}`.trim() };
}

interface ScrapeTarget {
  /** host:port */
  address: string;
  labels?: Record<string, string>;
}

export interface PrometheusServer {
  url: string;
  pid: number;
  dir: string;
  /** An instant query; the `data.result` of the answer. Throws on an error answer. */
  query(expr: string, time?: number): Promise<PromSample[]>;
  /** The scrape targets as Prometheus sees them (/api/v1/targets). */
  targets(): Promise<{ scrapeUrl: string; health: string; lastError: string; labels: Record<string, string> }[]>;
  stop(): Promise<void>;
}

export interface PromSample {
  metric: Record<string, string>;
  /** [unix seconds, value as text] */
  value: [number, string];
}

export async function startPrometheus(options: { targets: ScrapeTarget[]; metricsPath: string; scrapeIntervalSeconds?: number; startTimeoutMs?: number }): Promise<PrometheusServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ringcache-prometheus-'));
  const port = await freePort();
  const interval = options.scrapeIntervalSeconds ?? 1;
  // JSON is YAML: the config needs no YAML writer.
  const config = {
    global: { scrape_interval: `${interval}s`, scrape_timeout: `${interval}s`, evaluation_interval: `${interval}s` },
    scrape_configs: [
      {
        job_name: 'ringcache',
        metrics_path: options.metricsPath,
        static_configs: options.targets.map((t) => ({ targets: [t.address], labels: t.labels ?? {} })),
      },
    ],
  };
  const configFile = path.join(dir, 'prometheus.yml');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [`--config.file=${configFile}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A test process that dies leaves no Prometheus behind.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${output}`);
        return (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined))?.ok === true;
      },
      options.startTimeoutMs ?? 30_000,
      `prometheus to be ready:\n${output}`,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const api = async <T>(pathAndQuery: string): Promise<T> => {
    const response = await fetch(`${url}${pathAndQuery}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${pathAndQuery}: ${body.error ?? response.status}`);
    return body.data;
  };
  return {
    url,
    pid: child.pid as number,
    dir,
    async query(expr, time) {
      const params = new URLSearchParams({ query: expr });
      if (time !== undefined) params.set('time', String(time));
      const data = await api<{ resultType: string; result: PromSample[] }>(`/api/v1/query?${params}`);
      return data.result;
    },
    async targets() {
      const data = await api<{ activeTargets: { scrapeUrl: string; health: string; lastError: string; labels: Record<string, string> }[] }>('/api/v1/targets');
      return data.activeTargets;
    },
    stop,
  };
}
