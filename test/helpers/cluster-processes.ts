/**
 * Starts several gateway processes (`node dist/src/cli/ringcache.js serve`) on loopback ports as one
 * cluster with static membership over a shared data folder (the shared store, as NFS would
 * be), each with its own cache folder. Tests kill, restart and add nodes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { RingView } from '../../src/cluster/ring-view';
import { ADMIN } from './gateway';
import { rawRequest } from './raw-request';
import type { CertFiles } from './test-certs';
import { freePort } from './free-port';
import type { LabNode, NetLab } from './net-lab';

const CLI = path.resolve(__dirname, '../../dist/src/cli/ringcache.js');
export const CLUSTER_SECRET = 'test-cluster-secret-0123456789';

export interface NodeProcess {
  id: string;
  port: number;
  url: string;
  cacheDir: string;
  /** The CA of its certificate (TLS clusters). */
  ca?: Buffer;
  child: ChildProcess | undefined;
  /** stdout and stderr so far (for failures). */
  output: string;
  /** Its network namespace, when the cluster runs in a NetLab. */
  lab?: LabNode;
}

export interface TestCluster {
  base: string;
  dataDir: string;
  nodes: NodeProcess[];
  /** Every node's id and URL (the static peer list). */
  peers: { id: string; url: string }[];
  /** Starts the node; `cluster` settings are merged over the cluster's for this node only. */
  start(node: NodeProcess, cluster?: Record<string, unknown>): Promise<void>;
  kill(node: NodeProcess, signal?: NodeJS.Signals): Promise<void>;
  /** A node that is not started, with a port and a place in the peer list of nodes started after this call. */
  addNode(id: string): Promise<NodeProcess>;
  client(node: NodeProcess, extra?: Partial<ConstructorParameters<typeof S3Client>[0]>): S3Client;
  metrics(node: NodeProcess): Promise<string>;
  stop(): Promise<void>;
}

/** A port for a gateway that starts later (its URL goes into peers' lists first): see free-port.ts. */
export { freePort };

/** Sum of a Prometheus counter over the label sets matching `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z0-9_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const set = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) total += Number(match[3]);
  }
  return total;
}

interface TestClusterOptions {
  config?: Record<string, unknown>;
  start?: boolean;
  /** Every node serves HTTPS with this certificate and checks its peers' against its CA; `mutual`: mutual TLS between nodes. */
  tls?: CertFiles & { mutual?: boolean };
  /** The URL each node advertises (and its peers use), e.g. a proxy in front of it: defaults to the node's own. */
  advertise?: (node: NodeProcess) => string;
  /** Run each node in its own network namespace of this lab (partition tests). */
  net?: NetLab;
  /** Cluster settings of one node, merged over the others (a node's own Consul agent, its own peer list). */
  nodeCluster?: (node: NodeProcess) => Record<string, unknown> | undefined;
}

export async function startTestCluster(count: number, options: TestClusterOptions = {}): Promise<TestCluster> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'ringcache-cluster-'));
  const dataDir = path.join(base, 'data');
  await mkdir(dataDir, { recursive: true });
  const nodes: NodeProcess[] = [];
  const clients: S3Client[] = [];

  const makeNode = async (id: string): Promise<NodeProcess> => {
    const lab = options.net ? await options.net.addNode(id) : undefined;
    // In a namespace of its own a node has the port space to itself.
    const port = lab ? 9000 : await freePort();
    const host = lab ? lab.ip : '127.0.0.1';
    const scheme = options.tls ? 'https' : 'http';
    const node: NodeProcess = { id, port, url: `${scheme}://${host}:${port}`, cacheDir: path.join(base, `cache-${id}`), child: undefined, output: '', ca: options.tls?.ca, lab };
    nodes.push(node);
    return node;
  };
  for (let i = 0; i < count; i++) await makeNode(`node-${String.fromCharCode(97 + i)}`);

  const cluster: TestCluster = {
    base,
    dataDir,
    nodes,
    get peers() {
      return nodes.map((n) => ({ id: n.id, url: options.advertise?.(n) ?? n.url }));
    },
    async start(node, clusterOverrides) {
      const configFile = path.join(base, `config-${node.id}.json`);
      const config = {
        dataDir,
        credentials: [{ ...ADMIN, grants: { '*': 'write' } }],
        log: { level: 'warn' },
        ...options.config,
        // A test's cache and jobs settings add to these: the folders stay under the test's base
        // (never ./cache or ./jobs of the working directory).
        cache: {
          ...(options.config?.cache as object | undefined),
          disk: { path: node.cacheDir, maxBytes: 256 * 1024 * 1024, ...(options.config?.cache as { disk?: object } | undefined)?.disk },
          memory: { maxBytes: 64 * 1024 * 1024, ...(options.config?.cache as { memory?: object } | undefined)?.memory },
        },
        jobs: { stateDir: path.join(base, `jobs-${node.id}`), ...(options.config?.jobs as object | undefined) },
        server: {
          host: node.lab ? node.lab.ip : '127.0.0.1',
          port: node.port,
          ...(options.tls ? { tls: { certFile: options.tls.certFile, keyFile: options.tls.keyFile } } : {}),
          ...(options.config?.server as object | undefined),
        },
        cluster: {
          nodeId: node.id,
          advertiseUrl: options.advertise?.(node) ?? node.url,
          ...(options.tls ? { tls: { caFile: options.tls.caFile, mutual: options.tls.mutual ?? false } } : {}),
          secret: CLUSTER_SECRET,
          peers: cluster.peers,
          health: { probeIntervalMs: 300, probeTimeoutMs: 500, failuresBeforeDown: 2 },
          // Short leases so ring changes settle within a test; the grace is below the store deadline
          // on purpose (a shared local folder commits at once).
          lease: { durationMs: 1200, marginMs: 200, cacheGraceMs: 300, standInWaitMs: 8000 },
          suspectSeconds: 3,
          ...(options.config?.cluster as object | undefined),
          ...options.nodeCluster?.(node),
          ...clusterOverrides,
        },
      };
      await writeFile(configFile, JSON.stringify(config, null, 2));
      const argv = [process.execPath, CLI, 'serve', '--config', configFile];
      const [command, ...args] = node.lab && options.net ? options.net.wrap(node.lab, argv) : argv;
      const child = spawn(command, args, { cwd: base, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
      node.child = child;
      node.output = '';
      child.stdout?.on('data', (d: Buffer) => (node.output += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (node.output += d.toString()));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${node.id} did not start:\n${node.output}`)), 20_000);
        const check = (): void => {
          if (node.output.includes('ring:')) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout?.on('data', check);
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`${node.id} exited with ${code}:\n${node.output}`));
        });
      });
    },
    async kill(node, signal = 'SIGKILL') {
      const child = node.child;
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
      node.child = undefined;
    },
    addNode: (id) => makeNode(id),
    client(node, extra = {}) {
      const client = new S3Client({
        endpoint: node.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { ...ADMIN },
        maxAttempts: 1,
        ...(node.ca ? { requestHandler: new NodeHttpHandler({ httpsAgent: new https.Agent({ ca: node.ca, keepAlive: true }) }) } : {}),
        ...extra,
      });
      clients.push(client);
      return client;
    },
    async metrics(node) {
      return (await rawRequest(node.url, { method: 'GET', path: '/_ringcache/metrics', unsigned: true, tls: { ca: node.ca } })).body;
    },
    async stop() {
      // RINGCACHE_TEST_VERBOSE=1: every node's output, to see what a failing test did.
      if (process.env.RINGCACHE_TEST_VERBOSE) for (const n of nodes) process.stderr.write(`--- ${n.id}\n${n.output}\n`);
      for (const c of clients) c.destroy();
      await Promise.all(nodes.map((n) => cluster.kill(n, 'SIGTERM')));
      await rm(base, { recursive: true, force: true });
    },
  };
  if (options.start !== false) await Promise.all(nodes.map((n) => cluster.start(n)));
  return cluster;
}

/** Polls `predicate` until true or `timeoutMs` passes. */
export async function waitFor(predicate: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A node's ring view (`GET /_ringcache/cluster/ring`, signed by the admin key). */
export async function ringView(node: { url: string; ca?: Buffer }): Promise<RingView> {
  const response = await rawRequest(node.url, { method: 'GET', path: '/_ringcache/cluster/ring', tls: { ca: node.ca } });
  if (response.status !== 200) throw new Error(`ring view of ${node.url}: HTTP ${response.status} ${response.body}`);
  return JSON.parse(response.body) as RingView;
}

/** The member ids in a node's ring. */
export async function ringMembers(node: { url: string; ca?: Buffer }): Promise<string[]> {
  return (await ringView(node)).members.map((m) => m.id);
}

/** Waits until every node in `nodes` has `count` members in its ring. */
export async function waitForRings(nodes: { url: string; ca?: Buffer }[], count: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => (await Promise.all(nodes.map(ringMembers))).every((m) => m.length === count), timeoutMs, `rings of ${count}`);
}

/**
 * Waits until every node in `nodes` holds the same view of `count` members, holds its lease, and
 * has settled every key it owns (past the fence and the cache grace of the last change).
 */
export async function waitForSettled(nodes: { url: string }[], count: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    async () => {
      const views = await Promise.all(nodes.map(ringView));
      // (`lease` and `settlingMs` are absent from the views of builds before ring versions: then only the members count.)
      const same = (v: RingView): boolean => v.members.map((m) => m.id).join() === views[0].members.map((m) => m.id).join();
      return views.every((v) => v.members.length === count && v.lease !== false && !v.settlingMs && same(v));
    },
    timeoutMs,
    `settled rings of ${count}`,
  );
}
