/**
 * Real etcd servers for the tests (Debian's etcd-server, 3.4): a cluster of one or three members
 * on 127.0.0.1, each under one temp folder, with the ports the caller gives (or free ones),
 * started in about a second and stopped by PID. Members can be stopped, paused (SIGSTOP: as
 * unreachable as a partitioned one, without losing its state) and started again.
 *
 * `etcdMissing()` says why etcd cannot run here (the binary is not installed); tests skip with
 * that reason, and fail in CI (CI=true), whose `.ci/run` installs etcd-server etcd-client.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/free-port';

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  pid(): number | undefined;
  /** SIGKILL; its data stays for start(). */
  kill(): Promise<void>;
  start(): Promise<void>;
  pause(): void;
  resume(): void;
}

export interface EtcdCluster {
  members: EtcdMember[];
  clientUrls: string[];
  stop(): Promise<void>;
}

/** Why etcd cannot run here (undefined: it can). */
export function etcdMissing(): string | undefined {
  try {
    execFileSync('etcd', ['--version'], { stdio: 'pipe', timeout: 10_000 });
    return undefined;
  } catch {
    return 'etcd is not installed (apt-get install etcd-server etcd-client)';
  }
}

async function healthy(clientUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await response.json()) as { health?: string };
      if (body.health === 'true') return;
      last = JSON.stringify(body);
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`etcd at ${clientUrl} not healthy: ${last}`);
}

export async function startEtcd(options: { members?: 1 | 3; clientPorts?: number[]; peerPorts?: number[]; startTimeoutMs?: number } = {}): Promise<EtcdCluster> {
  const count = options.members ?? 1;
  const base = await mkdtemp(path.join(os.tmpdir(), 'ringcache-etcd-'));
  const token = `ringcache-${process.pid}-${Date.now()}`;
  const specs: { name: string; clientUrl: string; peerUrl: string; dataDir: string }[] = [];
  for (let i = 0; i < count; i++) {
    const clientPort = options.clientPorts?.[i] ?? (await freePort());
    const peerPort = options.peerPorts?.[i] ?? (await freePort());
    specs.push({ name: `etcd${i}`, clientUrl: `http://127.0.0.1:${clientPort}`, peerUrl: `http://127.0.0.1:${peerPort}`, dataDir: path.join(base, `etcd${i}`) });
  }
  const initialCluster = specs.map((s) => `${s.name}=${s.peerUrl}`).join(',');
  const children = new Map<string, ChildProcess>();
  const output = new Map<string, string>();
  const launch = (spec: (typeof specs)[number], state: 'new' | 'existing'): void => {
    const child = spawn(
      'etcd',
      [
        '--name', spec.name,
        '--data-dir', spec.dataDir,
        '--listen-client-urls', spec.clientUrl,
        '--advertise-client-urls', spec.clientUrl,
        '--listen-peer-urls', spec.peerUrl,
        '--initial-advertise-peer-urls', spec.peerUrl,
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', state,
        '--initial-cluster-token', token,
        '--heartbeat-interval', '100',
        '--election-timeout', '500',
        '--log-level', 'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    output.set(spec.name, '');
    const keep = (d: Buffer): void => {
      output.set(spec.name, ((output.get(spec.name) ?? '') + d.toString()).slice(-8000));
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    children.set(spec.name, child);
  };
  const stopChild = async (name: string, signal: NodeJS.Signals): Promise<void> => {
    const child = children.get(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGCONT');
    child.kill(signal);
    await exited;
    children.delete(name);
  };
  for (const spec of specs) launch(spec, 'new');
  try {
    await Promise.all(specs.map((s) => healthy(s.clientUrl, options.startTimeoutMs ?? 20_000)));
  } catch (err) {
    await Promise.all(specs.map((s) => stopChild(s.name, 'SIGKILL')));
    throw new Error(`${(err as Error).message}\n${[...output.values()].join('\n')}`);
  }
  return {
    clientUrls: specs.map((s) => s.clientUrl),
    members: specs.map((spec) => ({
      name: spec.name,
      clientUrl: spec.clientUrl,
      peerUrl: spec.peerUrl,
      pid: () => children.get(spec.name)?.pid,
      kill: () => stopChild(spec.name, 'SIGKILL'),
      async start() {
        if (children.has(spec.name)) return;
        launch(spec, 'existing');
      },
      pause: () => void children.get(spec.name)?.kill('SIGSTOP'),
      resume: () => void children.get(spec.name)?.kill('SIGCONT'),
    })),
    async stop() {
      await Promise.all(specs.map((s) => stopChild(s.name, 'SIGKILL')));
      await rm(base, { recursive: true, force: true });
    },
  };
}
