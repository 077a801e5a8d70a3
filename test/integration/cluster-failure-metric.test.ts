/**
 * The per-peer failure counter (`ringcache_cluster_forward_failures_total{peer}`) keeps labels of
 * current members only (issue #13): node-b, a member of the agreed view, hangs (a TCP proxy in
 * front of it accepts connections and never answers), so a read of its key forwarded by node-a
 * fails after the first-byte bound and is counted; node-b is then stopped, the others agree on a
 * view without it, and its label is gone from node-a's metrics, so node ids that come and go
 * (pods, autoscaling) do not pile up series.
 *
 * Ownership by agreement (issue #12): a view forms only with a majority of its members, so a
 * peer that never answers (the 'ghost' this test used before) never joins one; the departing
 * member is a real node, and three nodes are needed for the two others to agree without it.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { bodyBytes } from '../helpers/gateway';
import { metricValue, ringMembers, waitFor, type TestCluster } from '../helpers/cluster-processes';
import { keysOwnedBy, startProxiedCluster } from '../helpers/proxied-cluster';
import type { TcpProxy } from '../helpers/tcp-proxy';

jest.setTimeout(90_000);

const BUCKET = 'bkt';

describe('a member that left the view', () => {
  let cluster: TestCluster;
  let proxy: TcpProxy;

  beforeAll(async () => {
    ({ cluster, proxy } = await startProxiedCluster({ size: 3, proxied: 'node-b', bucket: BUCKET, config: { cluster: { forward: { firstByteTimeoutMs: 1500 } } } }));
  });
  afterAll(async () => {
    await cluster?.stop();
    await proxy?.close();
  });

  it('leaves no failure series behind', async () => {
    const [a, b, c] = cluster.nodes;
    const [key] = keysOwnedBy('node-b', BUCKET, 'k', 1);
    await cluster.client(a).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x' }));
    const failures = async (): Promise<number> => metricValue(await cluster.metrics(a), 'ringcache_cluster_forward_failures_total', { peer: 'node-b' });
    expect(await failures()).toBe(0);

    proxy.mode = 'blackhole';
    // Forwarded to node-b, which never answers: counted, and served by the next owner instead.
    const got = await cluster.client(a).send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect((await bodyBytes(got.Body)).toString()).toBe('x');
    // (The hop was counted unless node-b left node-a's view while it was in flight.)
    const counted = await failures();
    const stillMember = (await ringMembers(a)).includes('node-b');
    expect(counted >= 1 || !stillMember).toBe(true);

    await cluster.kill(b, 'SIGTERM');
    await waitFor(async () => (await Promise.all([a, c].map(ringMembers))).every((m) => m.length === 2 && !m.includes('node-b')), 20_000, 'the view without node-b');
    await waitFor(async () => !(await cluster.metrics(a)).includes('peer="node-b"'), 5000, 'the node-b series gone');
  });
});
