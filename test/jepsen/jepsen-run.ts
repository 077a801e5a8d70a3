/**
 * A Jepsen-style run against a real cluster of gateway processes: clients PUT and GET random keys
 * through random nodes while a nemesis kills and restarts nodes, partitions them (network
 * namespaces) or cuts a node from its own membership service, and adds a node; then every key is
 * read through every node once the faults are healed, and the history is checked
 * (register-checker.ts). The report lists operations, nemesis events and violations.
 *
 * Backends: "static" (static peers; partitions when a NetLab is given), "consul" (the Consul
 * emulator, each node behind a proxy of its own that the nemesis cuts), "etcd" (a real etcd
 * server, each node behind a proxy of its own that the nemesis cuts).
 */
import { GetObjectCommand, NoSuchKey, PutObjectCommand, CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { startConsulEmulator, type ConsulEmulator } from '../emulators/consul/consul-emulator';
import { startTestCluster, waitForSettled, type NodeProcess, type TestCluster } from '../helpers/cluster-processes';
import type { NetLab } from '../helpers/net-lab';
import { startCuttableProxy, type CuttableProxy } from '../helpers/cuttable-proxy';
import { History, type NemesisEvent } from './history';
import { checkRegisters, type Violation } from './register-checker';

export type Backend = 'static' | 'consul' | 'etcd';

interface JepsenOptions {
  backend: Backend;
  durationMs: number;
  clients?: number;
  keys?: number;
  /** Time between nemesis actions. */
  nemesisIntervalMs?: number;
  /** Static backend: run the nodes in namespaces of this lab, so the nemesis can partition them. */
  net?: NetLab;
  /** etcd backend: client URLs of the etcd cluster. */
  etcdEndpoints?: string[];
  log?: (line: string) => void;
}

interface JepsenReport {
  backend: Backend;
  ops: number;
  writes: { ok: number; info: number };
  reads: { ok: number; fail: number };
  events: NemesisEvent[];
  violations: Violation[];
}

const BUCKET = 'jepsen';
const OP_TIMEOUT_MS = 6000;

interface Fault {
  name: string;
  /** Breaks something; returns the repair. */
  apply(): Promise<() => Promise<void>>;
}

export async function runJepsen(options: JepsenOptions): Promise<JepsenReport> {
  const log = options.log ?? (() => undefined);
  const history = new History();
  const clients = options.clients ?? 4;
  const keys = Array.from({ length: options.keys ?? 6 }, (_, i) => `reg/${i}`);
  const proxies = new Map<string, CuttableProxy>();
  let consul: ConsulEmulator | undefined;
  let cluster: TestCluster | undefined;
  try {
    // ---- the cluster: three members and a spare the nemesis adds ----
    const listenHost = options.net?.hostIp ?? '127.0.0.1';
    let membershipConfig: Record<string, unknown> = {};
    let perNode: ((node: NodeProcess) => Record<string, unknown> | undefined) | undefined;
    if (options.backend === 'consul') {
      consul = await startConsulEmulator();
      const consulSettings = { checkTtlSeconds: 2, waitSeconds: 5, deregisterCriticalAfterSeconds: 60 };
      membershipConfig = { peers: [], consul: { url: consul.url, ...consulSettings } };
      perNode = (node) => ({ consul: { url: proxies.get(node.id)?.url, ...consulSettings } });
      for (const id of ['node-a', 'node-b', 'node-c', 'node-d']) proxies.set(id, await startCuttableProxy({ host: '127.0.0.1', port: consul.port }, listenHost));
    } else if (options.backend === 'etcd') {
      const endpoints = options.etcdEndpoints ?? [];
      if (endpoints.length === 0) throw new Error('the etcd backend needs etcdEndpoints');
      const target = new URL(endpoints[0]);
      for (const id of ['node-a', 'node-b', 'node-c', 'node-d']) proxies.set(id, await startCuttableProxy({ host: target.hostname, port: Number(target.port) }, listenHost));
      const etcdSettings = { leaseSeconds: 2, prefix: `/ringcache-jepsen-${process.pid}-${Date.now()}` };
      membershipConfig = { peers: [], etcd: { endpoints, ...etcdSettings } };
      perNode = (node) => ({ etcd: { endpoints: [proxies.get(node.id)?.url], ...etcdSettings } });
    }
    cluster = await startTestCluster(4, { start: false, net: options.backend === 'static' ? options.net : undefined, config: { cluster: membershipConfig }, nodeCluster: perNode });
    const running = cluster;
    const [a, b, c, spare] = running.nodes;
    const core = [a, b, c];
    await Promise.all(core.map((n) => running.start(n)));
    await waitForSettled(core, 3, 60_000);
    const sdk = new Map<string, S3Client>();
    const clientOf = (node: NodeProcess): S3Client => {
      let client = sdk.get(node.id);
      if (!client) sdk.set(node.id, (client = running.client(node, { maxAttempts: 1 })));
      return client;
    };
    await clientOf(a).send(new CreateBucketCommand({ Bucket: BUCKET }));
    log(`jepsen ${options.backend}: cluster of 3 settled; ${clients} clients over ${keys.length} keys for ${options.durationMs} ms`);

    // ---- the workload ----
    let stopped = false;
    const write = (node: NodeProcess, key: string, value: string): Promise<undefined> =>
      clientOf(node)
        .send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: value }), { abortSignal: AbortSignal.timeout(OP_TIMEOUT_MS) })
        .then(() => undefined);
    const read = async (node: NodeProcess, key: string): Promise<string | null> => {
      try {
        const got = await clientOf(node).send(new GetObjectCommand({ Bucket: BUCKET, Key: key }), { abortSignal: AbortSignal.timeout(OP_TIMEOUT_MS) });
        return (await got.Body?.transformToString()) ?? '';
      } catch (err) {
        if (err instanceof NoSuchKey) return null;
        throw err;
      }
    };
    let counter = 0;
    const worker = async (processId: number): Promise<void> => {
      while (!stopped) {
        const key = keys[Math.floor(Math.random() * keys.length)];
        const node = running.nodes[Math.floor(Math.random() * running.nodes.length)];
        if (Math.random() < 0.5) {
          const value = `p${processId}-w${counter++}`;
          await history.record(processId, 'write', key, node.id, value, () => write(node, key, value));
        } else {
          await history.record(processId, 'read', key, node.id, null, () => read(node, key));
        }
      }
    };

    // ---- the nemesis ----
    const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)];
    const faults: Fault[] = [
      {
        name: 'kill',
        async apply() {
          const victim = pick(core);
          history.event(`kill -9 ${victim.id}`);
          await running.kill(victim, 'SIGKILL');
          return async () => {
            history.event(`restart ${victim.id}`);
            await running.start(victim);
          };
        },
      },
      {
        name: 'add',
        async apply() {
          history.event(`add ${spare.id}`);
          await running.start(spare);
          return async () => {
            history.event(`remove ${spare.id} (clean stop)`);
            await running.kill(spare, 'SIGTERM');
          };
        },
      },
    ];
    if (options.backend === 'static' && options.net) {
      const net = options.net;
      faults.push({
        name: 'partition',
        async apply() {
          const victim = pick(core);
          history.event(`partition ${victim.id} from the others`);
          await net.partition(running.nodes.filter((n) => n !== victim), [victim]);
          return async () => {
            history.event('heal');
            await net.heal();
          };
        },
      });
    }
    if (options.backend !== 'static') {
      faults.push({
        name: 'cut-membership',
        async apply() {
          const victim = pick(core);
          history.event(`cut ${victim.id} from its own ${options.backend === 'consul' ? 'Consul agent' : 'etcd endpoint'}`);
          proxies.get(victim.id)?.cut();
          return async () => {
            history.event(`restore ${victim.id}'s ${options.backend === 'consul' ? 'agent' : 'etcd endpoint'}`);
            proxies.get(victim.id)?.restore();
          };
        },
      });
    }
    const interval = options.nemesisIntervalMs ?? 4000;
    const nemesis = async (): Promise<void> => {
      while (!stopped) {
        await sleep(interval);
        if (stopped) break;
        const fault = pick(faults);
        const repair = await fault.apply();
        await sleep(interval);
        await repair();
      }
    };

    const started = Date.now();
    const workers = Array.from({ length: clients }, (_, i) => worker(i));
    const chaos = nemesis();
    await sleep(options.durationMs);
    stopped = true;
    await Promise.all([...workers, chaos]);
    log(`jepsen ${options.backend}: ran ${Date.now() - started} ms; healing`);

    // ---- heal, settle, read every key through every node ----
    await options.net?.heal();
    for (const proxy of proxies.values()) proxy.restore();
    for (const node of core) if (!node.child) await running.start(node);
    if (spare.child) await running.kill(spare, 'SIGTERM');
    await waitForSettled(core, 3, 60_000);
    for (const key of keys) for (const node of core) await history.record(-1, 'read', key, node.id, null, () => read(node, key));

    const result = checkRegisters(history.ops);
    const writes = history.ops.filter((op) => op.type === 'write');
    const reads = history.ops.filter((op) => op.type === 'read');
    return {
      backend: options.backend,
      ops: history.ops.length,
      writes: { ok: writes.filter((op) => op.outcome === 'ok').length, info: writes.filter((op) => op.outcome === 'info').length },
      reads: { ok: reads.filter((op) => op.outcome === 'ok').length, fail: reads.filter((op) => op.outcome === 'fail').length },
      events: history.events,
      violations: result.violations,
    };
  } finally {
    await cluster?.stop();
    for (const proxy of proxies.values()) await proxy.close();
    await consul?.close();
  }
}

/** The report as lines for a test log or a terminal. */
export function formatReport(report: JepsenReport): string {
  const lines = [
    `jepsen ${report.backend}: ${report.ops} operations; writes ${report.writes.ok} ok, ${report.writes.info} indeterminate; reads ${report.reads.ok} ok, ${report.reads.fail} failed`,
    `  nemesis (${report.events.length} events): ${report.events.map((e) => e.what).join('; ')}`,
    `  violations: ${report.violations.length}`,
    ...report.violations.slice(0, 20).map((v) => `    ${v.key} via ${v.read.node} at ${v.read.invokedAt}: ${v.reason}`),
  ];
  return lines.join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
