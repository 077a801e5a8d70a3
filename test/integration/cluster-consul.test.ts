/**
 * Three gateway processes find each other through Consul (the emulator in
 * test/emulators/consul, driven by the real `consul` package inside each process): the ring
 * follows registrations, a clean shutdown deregisters at once, a kill -9 leaves the ring
 * when its TTL check lapses, and a restarted node registers again.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startConsulEmulator, type ConsulEmulator } from '../emulators/consul/consul-emulator';
import { bodyBytes } from '../helpers/gateway';
import { ringMembers, startTestCluster, waitFor, type NodeProcess, type TestCluster } from '../helpers/cluster-processes';

jest.setTimeout(120_000);

let consul: ConsulEmulator;
let cluster: TestCluster;

const allSee = async (nodes: NodeProcess[], count: number): Promise<boolean> => (await Promise.all(nodes.map(ringMembers))).every((m) => m.length === count);

beforeAll(async () => {
  consul = await startConsulEmulator();
  cluster = await startTestCluster(3, {
    config: { cluster: { peers: [], consul: { url: consul.url, checkTtlSeconds: 1, waitSeconds: 5, deregisterCriticalAfterSeconds: 60 } } },
  });
});

afterAll(async () => {
  await cluster?.stop();
  await consul?.close();
});

describe('membership through Consul', () => {
  it('every node registers with its URL and a TTL check, and every ring holds the three', async () => {
    await waitFor(() => allSee(cluster.nodes, 3), 10_000, 'three-member rings');
    const services = consul.services();
    expect(services.map((s) => s.id).sort()).toEqual(['node-a', 'node-b', 'node-c']);
    for (const node of cluster.nodes) {
      const service = services.find((s) => s.id === node.id);
      expect(service?.meta?.url).toBe(node.url);
    }
    // The nodes wait for changes with blocking queries.
    expect(consul.requests.some((r) => r.path.startsWith('/v1/health/service/ringcache') && Number(r.query.index) > 0 && r.query.wait === '5s')).toBe(true);
  });

  it('serves any key through any node', async () => {
    const client = cluster.client(cluster.nodes[0]);
    await client.send(new CreateBucketCommand({ Bucket: 'via-consul' }));
    const body = randomBytes(5000);
    await cluster.client(cluster.nodes[1]).send(new PutObjectCommand({ Bucket: 'via-consul', Key: 'x', Body: body }));
    for (const node of cluster.nodes) {
      const got = await cluster.client(node).send(new GetObjectCommand({ Bucket: 'via-consul', Key: 'x' }));
      expect((await bodyBytes(got.Body)).equals(body)).toBe(true);
    }
  });

  it('a clean shutdown deregisters: the others drop the node at once', async () => {
    const [a, b, c] = cluster.nodes;
    const started = Date.now();
    await cluster.kill(c, 'SIGTERM');
    await waitFor(() => allSee([a, b], 2), 5000, 'rings of two');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(consul.services().map((s) => s.id)).not.toContain('node-c');
  });

  it('a node killed with -9 leaves the rings when its TTL check lapses, and registers again on restart', async () => {
    const [a, b, c] = cluster.nodes;
    await cluster.start(c);
    await waitFor(() => allSee([a, b, c], 3), 10_000, 'rings of three');
    await cluster.kill(b, 'SIGKILL');
    await waitFor(() => allSee([a, c], 2), 8000, 'b out after its TTL');
    // Still registered (critical), not deregistered: Consul reaps it later.
    expect(consul.services().find((s) => s.id === 'node-b')?.checks?.[0]?.status ?? 'critical').toBe('critical');
    await cluster.start(b);
    await waitFor(() => allSee([a, b, c], 3), 10_000, 'b back');
  });
});
