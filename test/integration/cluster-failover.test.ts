/**
 * Failover with real processes: kill -9 of a node during a read loop through the others,
 * a node returning (no stale metadata, warm hand-off from the node that stood in), a node
 * joining (it takes about 1/N of the keys), reads with every owner down (served uncached),
 * and the optional 307 mode.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { buildRing } from '../../src/cluster/ring';
import { ringKey } from '../../src/cluster/cluster-node';
import { bodyBytes } from '../helpers/gateway';
import { rawRequest } from '../helpers/raw-request';
import { metricValue, ringMembers as members, startTestCluster, waitFor, waitForSettled, type NodeProcess, type TestCluster } from '../helpers/cluster-processes';

jest.setTimeout(120_000);

const BUCKET = 'data';

async function residency(node: NodeProcess, key: string): Promise<{ cached: boolean; pages?: number; memory?: number; disk?: number }> {
  const response = await rawRequest(node.url, { method: 'GET', path: '/_ringcache/cache/object', query: { bucket: BUCKET, key } });
  return JSON.parse(response.body);
}

async function read(client: S3Client, key: string): Promise<Buffer> {
  const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return bodyBytes(got.Body);
}

async function seed(cluster: TestCluster, count: number, size = 300 * 1024): Promise<Map<string, Buffer>> {
  const client = cluster.client(cluster.nodes[0]);
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const objects = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const key = `k/${i}`;
    const body = randomBytes(size);
    objects.set(key, body);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  }
  return objects;
}

describe('kill -9 during a read loop, then the node returns', () => {
  let cluster: TestCluster;
  let objects: Map<string, Buffer>;
  const ring3 = buildRing(['node-a', 'node-b', 'node-c']);
  const ownedByC = (key: string): boolean => ring3.owner(ringKey(BUCKET, key)) === 'node-c';

  beforeAll(async () => {
    cluster = await startTestCluster(3);
    await waitFor(async () => (await members(cluster.nodes[0])).length === 3 && (await members(cluster.nodes[2])).length === 3, 15_000, 'ring of 3');
    objects = await seed(cluster, 60);
  });
  afterAll(() => cluster?.stop());

  it('reads through the surviving nodes never fail (SDK retries only), and the ring drops the dead node', async () => {
    const [a, b, c] = cluster.nodes;
    // SDK default: up to 3 attempts with backoff; that is the bounded retry window.
    const clients = [cluster.client(a, { maxAttempts: 3 }), cluster.client(b, { maxAttempts: 3 })];
    const keys = [...objects.keys()];
    for (const key of keys) await read(clients[0], key); // warm the owners
    let reads = 0;
    let failures = 0;
    let slowest = 0;
    let killedAt = 0;
    const loop = async (worker: number): Promise<void> => {
      for (let round = 0; round < 4; round++) {
        for (let i = worker; i < keys.length; i += 2) {
          const started = Date.now();
          try {
            const bytes = await read(clients[(i + round) % 2], keys[i]);
            expect(bytes.equals(objects.get(keys[i]) as Buffer)).toBe(true);
          } catch (err) {
            failures++;
            throw err;
          }
          slowest = Math.max(slowest, Date.now() - started);
          reads++;
          if (reads === 60 && killedAt === 0) {
            killedAt = Date.now();
            void cluster.kill(c, 'SIGKILL');
          }
        }
      }
    };
    await Promise.all([loop(0), loop(1)]);
    expect(killedAt).toBeGreaterThan(0);
    expect(failures).toBe(0);
    expect(reads).toBe(keys.length * 4);
    // No read waited long: a refused connection fails over at once.
    expect(slowest).toBeLessThan(5000);
    await waitFor(async () => (await members(a)).length === 2 && (await members(b)).length === 2, 5000, 'ring of 2');
    // The keys c owned belong to a or b now, which cache them once their fences and cache grace
    // have passed: read them until each is resident on its new owner (the hand-off test below
    // needs them there; how many of the loop's reads came after that depends on the machine).
    await waitForSettled([a, b], 2);
    const ring2 = buildRing(['node-a', 'node-b']);
    const byId = new Map(cluster.nodes.map((n) => [n.id, n]));
    await waitFor(
      async () => {
        let resident = true;
        for (const key of keys.filter(ownedByC)) {
          await read(clients[0], key);
          if (!(await residency(byId.get(ring2.owner(ringKey(BUCKET, key)) as string) as NodeProcess, key)).cached) resident = false;
        }
        return resident;
      },
      20_000,
      "c's keys cached by their new owners",
    );
  });

  it('writes after the owner died go to the owner in the agreed ring without it, and the store; nothing is lost', async () => {
    const [a] = cluster.nodes;
    const client = cluster.client(a, { maxAttempts: 3 });
    for (const key of [...objects.keys()].filter(ownedByC).slice(0, 5)) {
      const fresh = randomBytes(200 * 1024);
      objects.set(key, fresh);
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: fresh }));
      expect((await read(client, key)).equals(fresh)).toBe(true);
    }
  });

  it('the returning node serves no stale metadata, and takes pages from the node that stood in (warm hand-off)', async () => {
    const [a, b, c] = cluster.nodes;
    await cluster.start(c);
    await waitForSettled([a, b, c], 3);
    const client = cluster.client(b, { maxAttempts: 3 });
    for (const [key, body] of objects) expect((await read(client, key)).equals(body)).toBe(true);
    const cMetrics = await cluster.metrics(c);
    // Pages of c's keys that a or b cached while c was away came from them, not the store.
    expect(metricValue(cMetrics, 'ringcache_cluster_handoff_pages_total', { result: 'hit' })).toBeGreaterThan(0);
    for (const key of [...objects.keys()].filter(ownedByC)) expect((await residency(c, key)).cached).toBe(true);
  });
});

describe('a node joining', () => {
  let cluster: TestCluster;
  afterAll(() => cluster?.stop());

  it('takes about 1/N of the keys; the other keys keep their owners', async () => {
    cluster = await startTestCluster(4, { start: false });
    const [a, b, c, d] = cluster.nodes;
    await Promise.all([a, b, c].map((n) => cluster.start(n)));
    await waitForSettled([a, b, c], 3);
    const objects = await seed(cluster, 120, 4096);
    const client = cluster.client(a);
    for (const key of objects.keys()) await read(client, key);
    const before = new Map<string, string>();
    for (const key of objects.keys()) {
      for (const node of [a, b, c]) if ((await residency(node, key)).cached) before.set(key, node.id);
    }
    expect(before.size).toBe(objects.size);

    await cluster.start(d);
    // The keys d gains are cached once their fence and grace have passed (ownership by agreement).
    await waitForSettled([a, b, c, d], 4);
    for (const key of objects.keys()) await read(client, key);
    let moved = 0;
    for (const key of objects.keys()) {
      if ((await residency(d, key)).cached) {
        moved++;
      } else {
        // Keys that did not move are still served by their old owner.
        const owner = [a, b, c].find((n) => n.id === before.get(key)) as NodeProcess;
        expect((await residency(owner, key)).cached).toBe(true);
      }
    }
    const share = moved / objects.size;
    expect(share).toBeGreaterThan(0.12);
    expect(share).toBeLessThan(0.38);
    const ring4 = buildRing(['node-a', 'node-b', 'node-c', 'node-d']);
    const expected = [...objects.keys()].filter((k) => ring4.owner(ringKey(BUCKET, k)) === 'node-d').length;
    expect(moved).toBe(expected);
  });
});

describe('every owner down before membership notices', () => {
  let cluster: TestCluster;
  afterAll(() => cluster?.stop());

  it('the receiving node serves the read from the store without caching it', async () => {
    // Probes never take a node out: the ring keeps the dead nodes, so only the forwarding failure reveals them.
    cluster = await startTestCluster(3, { config: { cluster: { health: { probeIntervalMs: 300, probeTimeoutMs: 500, failuresBeforeDown: 100_000 }, suspectSeconds: 30 } } });
    const [a, b, c] = cluster.nodes;
    await waitForSettled([a, b, c], 3);
    const objects = await seed(cluster, 30, 2048);
    const ring3 = buildRing(['node-a', 'node-b', 'node-c']);
    // A key whose owner and successor are both b and c: a is the last in line.
    const key = [...objects.keys()].find((k) => ring3.owners(ringKey(BUCKET, k), 3)[2] === 'node-a') as string;
    expect(key).toBeDefined();
    await cluster.kill(b);
    await cluster.kill(c);
    const client = cluster.client(a);
    expect((await read(client, key)).equals(objects.get(key) as Buffer)).toBe(true);
    // Nothing kept: neither pages nor metadata (the owners may change the object unseen).
    expect(await residency(a, key)).toMatchObject({ cached: false });
    expect(metricValue(await cluster.metrics(a), 'ringcache_cluster_requests_total', { route: 'uncached' })).toBeGreaterThan(0);
    expect(metricValue(await cluster.metrics(a), 'ringcache_cluster_forward_failures_total')).toBeGreaterThanOrEqual(2);
  });
});

describe('redirect mode', () => {
  let cluster: TestCluster;
  afterAll(() => cluster?.stop());

  it('answers GETs of keys owned elsewhere with 307 to the owner', async () => {
    cluster = await startTestCluster(2, { config: { server: { baseDomain: 's3.localhost' }, cluster: { routing: 'redirect' } } });
    const [a, b] = cluster.nodes;
    await waitForSettled([a, b], 2);
    const objects = await seed(cluster, 10, 100);
    const ring2 = buildRing(['node-a', 'node-b']);
    const key = [...objects.keys()].find((k) => ring2.owner(ringKey(BUCKET, k)) === 'node-b') as string;
    const response = await rawRequest(a.url, { method: 'GET', path: `/${BUCKET}/${key}` });
    expect(response.status).toBe(307);
    expect(response.headers.location).toBe(`${b.url}/${BUCKET}/${key}`);
    // Virtual-hosted request: the bucket comes from the Host header, the Location keeps it.
    const vhost = await rawRequest(a.url, { method: 'GET', path: `/${key}`, headers: { host: `${BUCKET}.s3.localhost:${a.port}` } });
    expect(vhost.status).toBe(307);
    expect(vhost.headers.location).toBe(`${b.url}/${BUCKET}/${key}`);
  });
});
