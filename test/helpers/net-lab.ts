/**
 * A small network lab for partition tests: each node runs in its own network namespace
 * (`ip netns`), joined by a veth pair to a bridge in the test's own namespace, with an address of
 * its own (10.77.X.N). The test process reaches every node; the nodes reach each other while
 * their veths share a bridge.
 *
 * A partition moves the veths of each group to a bridge of its own (layer 2 apart: the groups
 * cannot even resolve each other's addresses, and packets of open connections are dropped, as
 * with a cut cable), while the test process keeps an address on every bridge and a host route
 * to each node, so clients still reach both sides. `heal()` puts everyone back on one bridge.
 *
 * Needs root and the `ip` command (iproute2); `netLabUnavailable()` says why not, so tests can
 * skip (or fail in CI). Names carry the process id, and `close()` removes everything it made.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LabNode {
  name: string;
  ns: string;
  ip: string;
}

export interface NetLab {
  /** The test process's address (on every bridge). */
  hostIp: string;
  addNode(name: string): Promise<LabNode>;
  /** argv that runs `argv` inside the node's namespace (the same process: `ip netns exec` execs). */
  wrap(node: LabNode, argv: string[]): string[];
  /** Nodes in different groups cannot talk; nodes listed in no group stay with the first. */
  partition(...groups: Placeable[][]): Promise<void>;
  heal(): Promise<void>;
  close(): Promise<void>;
}

/** A lab node, or a test cluster's node process running in one. */
export type Placeable = LabNode | { lab?: LabNode };

const nsOf = (p: Placeable): string | undefined => ('ns' in p ? p.ns : p.lab?.ns);

let labs = 0;

async function ip(...args: string[]): Promise<void> {
  await run('ip', args, { timeout: 10_000 });
}

/** Why partition tests cannot run here (undefined: they can). Synchronous, for describe blocks. */
export function netLabUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `rcp${process.pid % 100000}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe', timeout: 10_000 });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe', timeout: 10_000 });
    execFileSync('ip', ['link', 'add', `${probe}b`, 'type', 'bridge'], { stdio: 'pipe', timeout: 10_000 });
    execFileSync('ip', ['link', 'del', `${probe}b`], { stdio: 'pipe', timeout: 10_000 });
    return undefined;
  } catch (err) {
    return `ip netns / bridges are not usable here: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** describe() when the lab can be built; otherwise a skipped test that says why (a failure in CI). */
export function describeWithNetLab(title: string, body: () => void): void {
  const missing = netLabUnavailable();
  if (missing && process.env.CI !== 'true') {
    describe(title, () => {
      test.skip(`skipped: ${missing}`, () => undefined);
    });
    return;
  }
  describe(title, () => {
    if (missing) test('network lab', () => { throw new Error(missing); });
    else body();
  });
}

export async function createNetLab(): Promise<NetLab> {
  labs++;
  const tag = `r${process.pid % 10000}${labs}`;
  const subnet = `10.77.${(process.pid * 7 + labs * 13) % 250}`;
  const hostIp = `${subnet}.1`;
  const bridges: string[] = [];
  const nodes: (LabNode & { veth: string })[] = [];
  const hostRoutes = new Set<string>();

  const bridge = async (index: number): Promise<string> => {
    while (bridges.length <= index) {
      const name = `${tag}b${bridges.length}`;
      await ip('link', 'add', name, 'type', 'bridge');
      await ip('link', 'set', name, 'up');
      // The host's address on every bridge: a /24 on the first, the same address alone on the others.
      await ip('addr', 'add', bridges.length === 0 ? `${hostIp}/24` : `${hostIp}/32`, 'dev', name);
      bridges.push(name);
    }
    return bridges[index];
  };

  const place = async (node: (typeof nodes)[number], index: number): Promise<void> => {
    const target = await bridge(index);
    await ip('link', 'set', node.veth, 'master', target);
    if (index === 0) {
      if (hostRoutes.delete(node.ip)) await ip('route', 'del', `${node.ip}/32`).catch(() => undefined);
    } else {
      await ip('route', 'replace', `${node.ip}/32`, 'dev', target, 'src', hostIp);
      hostRoutes.add(node.ip);
    }
  };

  const flushNeighbours = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => ip('-n', n.ns, 'neigh', 'flush', 'all').catch(() => undefined)));
  };

  return {
    hostIp,
    async addNode(name) {
      const index = nodes.length + 2;
      const ns = `${tag}n${index}`;
      const veth = `${tag}v${index}`;
      const inner = `${tag}i${index}`;
      const address = `${subnet}.${index}`;
      await bridge(0);
      await ip('netns', 'add', ns);
      await ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', inner);
      await ip('link', 'set', inner, 'netns', ns);
      await ip('link', 'set', veth, 'master', bridges[0], 'up');
      await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', inner);
      await ip('-n', ns, 'link', 'set', inner, 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      const node = { name, ns, ip: address, veth };
      nodes.push(node);
      return { name, ns, ip: address };
    },
    wrap: (node, argv) => ['ip', 'netns', 'exec', node.ns, ...argv],
    async partition(...groups) {
      for (const node of nodes) {
        const index = groups.findIndex((g) => g.some((n) => nsOf(n) === node.ns));
        await place(node, Math.max(0, index));
      }
      await flushNeighbours();
    },
    async heal() {
      for (const node of nodes) await place(node, 0);
      await flushNeighbours();
    },
    async close() {
      for (const route of hostRoutes) await ip('route', 'del', `${route}/32`).catch(() => undefined);
      for (const node of nodes) {
        await ip('link', 'del', node.veth).catch(() => undefined);
        await ip('netns', 'del', node.ns).catch(() => undefined);
      }
      for (const name of bridges) await ip('link', 'del', name).catch(() => undefined);
    },
  };
}
