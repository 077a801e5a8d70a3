/**
 * A test cluster in which the other nodes reach one member through a TCP proxy: a test switches
 * the proxy to blackhole to make that member hang (it accepts connections and never answers), or
 * reads the bytes the proxy recorded. Started, waited for, and with the test's bucket created.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { ringKey } from '../../src/cluster/cluster-node';
import { buildRing } from '../../src/cluster/ring';
import { startTestCluster, waitForRings, waitForSettled, type TestCluster } from './cluster-processes';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

interface ProxiedClusterOptions {
  size: number;
  /** The node id reached through the proxy, e.g. "node-c". */
  proxied: string;
  bucket: string;
  config?: Record<string, unknown>;
  /** The proxy keeps the bytes it carries (`proxy.recorded()`). */
  record?: boolean;
  /** What to wait for once every node started: each node's ring of `size` members, or the agreed view settled (default). */
  wait?: 'rings' | 'settled';
}

export async function startProxiedCluster(options: ProxiedClusterOptions): Promise<{ cluster: TestCluster; proxy: TcpProxy }> {
  let proxyUrl = '';
  const cluster = await startTestCluster(options.size, {
    start: false,
    advertise: (node) => (node.id === options.proxied ? proxyUrl : node.url),
    ...(options.config ? { config: options.config } : {}),
  });
  let proxy: TcpProxy | undefined;
  try {
    const proxiedNode = cluster.nodes.find((n) => n.id === options.proxied);
    if (!proxiedNode) throw new Error(`no node ${options.proxied} in a cluster of ${options.size}`);
    proxy = await startTcpProxy(proxiedNode.port, { record: options.record });
    proxyUrl = proxy.url;
    await Promise.all(cluster.nodes.map((n) => cluster.start(n)));
    if (options.wait === 'rings') await waitForRings(cluster.nodes, options.size);
    else await waitForSettled(cluster.nodes, options.size);
    await cluster.client(cluster.nodes[0]).send(new CreateBucketCommand({ Bucket: options.bucket }));
    return { cluster, proxy };
  } catch (err) {
    // The test never gets them to stop: stopped here.
    await cluster.stop();
    await proxy?.close();
    throw err;
  }
}

/** The first `count` keys `${prefix}-0`, `${prefix}-1`, ... that `owner` owns on the ring of `members`. */
export function keysOwnedBy(owner: string, bucket: string, prefix: string, count: number, members = ['node-a', 'node-b', 'node-c']): string[] {
  const ring = buildRing(members);
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) if (ring.owner(ringKey(bucket, `${prefix}-${i}`)) === owner) keys.push(`${prefix}-${i}`);
  return keys;
}
