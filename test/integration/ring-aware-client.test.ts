/**
 * The ring-aware client (src/client/ring-aware.ts) against three gateway processes: a client
 * configured with node-a sends object requests straight to their owners (node-a forwards
 * none of them), keeps working when an owner is killed (fallback through node-a, then the
 * refreshed two-member ring), and leaves bucket operations and listing to node-a.
 */
import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { withRingAwareness, type RingAwareHandle } from '../../src/client/ring-aware';
import { ringKey } from '../../src/cluster/cluster-node';
import { buildRing } from '../../src/cluster/ring';
import { bodyBytes } from '../helpers/gateway';
import { metricValue, ringView, startTestCluster, waitFor, waitForRings, type NodeProcess, type TestCluster } from '../helpers/cluster-processes';

jest.setTimeout(120_000);

const BUCKET = 'ring-aware';
const SIZES = [0, 1000, 300 * 1024, 1.5 * 1024 * 1024];
let cluster: TestCluster;
let client: S3Client;
let handle: RingAwareHandle;
const objects = new Map<string, Buffer>();

const byId = (id: string): NodeProcess => cluster.nodes.find((n) => n.id === id) as NodeProcess;

/** `ringcache_s3_requests_total` of one operation (metricValue's name pattern has no digits). */
const s3Requests = (text: string, op: string): number =>
  [...text.matchAll(new RegExp(`^ringcache_s3_requests_total\\{op="${op}",[^}]*\\} (\\S+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);

/** Per node: cluster routes, and S3 requests of one operation. */
async function counters(op = 'ListObjectsV2'): Promise<Map<string, { local: number; forwarded: number; op: number }>> {
  const live = cluster.nodes.filter((n) => n.child);
  const texts = await Promise.all(live.map((n) => cluster.metrics(n)));
  return new Map(
    live.map((n, i) => [
      n.id,
      {
        local: metricValue(texts[i], 'ringcache_cluster_requests_total', { route: 'local' }),
        forwarded: metricValue(texts[i], 'ringcache_cluster_requests_total', { route: 'forwarded' }),
        op: s3Requests(texts[i], op),
      },
    ]),
  );
}

function delta(before: Awaited<ReturnType<typeof counters>>, after: Awaited<ReturnType<typeof counters>>, id: string, field: 'local' | 'forwarded' | 'op'): number {
  return (after.get(id)?.[field] ?? 0) - (before.get(id)?.[field] ?? 0);
}

async function expectObject(key: string): Promise<void> {
  const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  expect((await bodyBytes(got.Body)).equals(objects.get(key) as Buffer)).toBe(true);
}

beforeAll(async () => {
  cluster = await startTestCluster(3);
  await waitForRings(cluster.nodes, 3);
  client = cluster.client(cluster.nodes[0]);
  // A long period: ring changes must be noticed through the response header and fallbacks.
  handle = withRingAwareness(client, { refreshIntervalMs: 600_000 });
});

afterAll(async () => {
  handle?.close();
  await cluster?.stop();
});

describe('ring-aware client configured with node-a', () => {
  const ring3 = buildRing(['node-a', 'node-b', 'node-c']);
  const ownerOf = (key: string): string => ring3.owner(ringKey(BUCKET, key)) as string;

  beforeAll(() => {
    // Six keys owned by each node, all sizes among them.
    const perOwner = new Map<string, number>();
    for (let i = 0; objects.size < 18; i++) {
      const key = `obj/${i}.bin`;
      const owner = ownerOf(key);
      const n = perOwner.get(owner) ?? 0;
      if (n >= 6) continue;
      perOwner.set(owner, n + 1);
      objects.set(key, randomBytes(SIZES[n % SIZES.length]));
    }
  });

  it('refuses a client without path-style addressing', () => {
    const virtualHosted = cluster.client(cluster.nodes[0], { forcePathStyle: false });
    expect(() => withRingAwareness(virtualHosted)).toThrow(/forcePathStyle/);
  });

  it('sends object writes and reads straight to the owners, byte-identical; node-a forwards none', async () => {
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const before = await counters();
    for (const [key, body] of objects) await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    for (const key of objects.keys()) await expectObject(key);
    const after = await counters();

    expect(handle.version).toBe((await ringView(cluster.nodes[0])).version);
    expect(handle.members()).toEqual(['node-a', 'node-b', 'node-c']);
    expect(handle.stats()).toMatchObject({ direct: 2 * objects.size, viaEndpoint: 0, fallbacks: 0 });
    expect(delta(before, after, 'node-a', 'forwarded')).toBe(0);
    for (const id of ['node-a', 'node-b', 'node-c']) {
      const owned = [...objects.keys()].filter((k) => ownerOf(k) === id).length;
      expect(owned).toBe(6);
      expect(delta(before, after, id, 'local')).toBe(2 * owned);
      expect(delta(before, after, id, 'forwarded')).toBe(0);
    }

    // The control: the same kind of request through a plain client of node-a is forwarded.
    const plain = cluster.client(cluster.nodes[0]);
    const key = [...objects.keys()].find((k) => ownerOf(k) === 'node-b') as string;
    const beforePlain = await counters();
    await plain.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(delta(beforePlain, await counters(), 'node-a', 'forwarded')).toBe(1);
  });

  it('leaves bucket operations and listing to the configured endpoint', async () => {
    const stats = handle.stats();
    const before = await counters();
    const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'obj/' }));
    expect(listed.KeyCount).toBe(objects.size);
    // The operation counter is bumped when the response has ended: poll for it.
    let after = await counters();
    await waitFor(async () => delta(before, (after = await counters()), 'node-a', 'op') === 1, 5000, 'ListObjectsV2 counted on node-a');
    expect(delta(before, after, 'node-b', 'op') + delta(before, after, 'node-c', 'op')).toBe(0);

    await client.send(new CreateBucketCommand({ Bucket: 'ring-aware-2' }));
    await client.send(new HeadBucketCommand({ Bucket: 'ring-aware-2' }));
    expect((await client.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(expect.arrayContaining([BUCKET, 'ring-aware-2']));
    await client.send(new PutObjectCommand({ Bucket: 'ring-aware-2', Key: 'x', Body: 'x' }));
    const deleted = await client.send(new DeleteObjectsCommand({ Bucket: 'ring-aware-2', Delete: { Objects: [{ Key: 'x' }] } }));
    expect(deleted.Deleted?.map((d) => d.Key)).toEqual(['x']);
    await client.send(new DeleteBucketCommand({ Bucket: 'ring-aware-2' }));
    // Only the PutObject was an object request.
    expect(handle.stats().direct + handle.stats().viaEndpoint).toBe(stats.direct + stats.viaEndpoint + 1);
  });

  it('keeps working when an owner dies: fallback through node-a, then the two-member ring', async () => {
    const victim = byId('node-c');
    const victimKeys = [...objects.keys()].filter((k) => ownerOf(k) === 'node-c');
    const oldVersion = handle.version;
    await cluster.kill(victim);

    // At once: the client still routes to node-c, gets no answer and retries through node-a.
    for (const key of victimKeys) await expectObject(key);
    const fresh = randomBytes(4096);
    objects.set(victimKeys[0], fresh);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: victimKeys[0], Body: fresh }));
    await expectObject(victimKeys[0]);
    expect(handle.stats().fallbacks).toBeGreaterThanOrEqual(1);

    // The nodes drop node-c; the header of the next responses makes the client refresh.
    await waitForRings([cluster.nodes[0], cluster.nodes[1]], 2, 20_000);
    const serverVersion = (await ringView(cluster.nodes[0])).version;
    expect(serverVersion).not.toBe(oldVersion);
    await waitFor(
      async () => {
        await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: victimKeys[1] }));
        return handle.version === serverVersion;
      },
      15_000,
      'client ring refresh',
    );
    expect(handle.members()).toEqual(['node-a', 'node-b']);

    // Every key, node-c's included, now goes straight to its new owner.
    const ring2 = buildRing(['node-a', 'node-b']);
    const fallbacks = handle.stats().fallbacks;
    // Counted as GetObject requests each node received (a warm hit is answered in front of the
    // router and bumps no route counter; with ownership by agreement, which keys are warm here
    // depends on whether the node's lease lapsed during the change), none forwarded.
    const before = await counters('GetObject');
    for (const key of objects.keys()) await expectObject(key);
    let after = await counters('GetObject');
    const owned = (id: string): number => [...objects.keys()].filter((k) => ring2.owner(ringKey(BUCKET, k)) === id).length;
    // The operation counter is bumped when the response has ended: poll for it.
    await waitFor(
      async () => {
        after = await counters('GetObject');
        return ['node-a', 'node-b'].every((id) => delta(before, after, id, 'op') >= owned(id));
      },
      5000,
      'GetObject counted',
    ).catch(() => undefined);
    expect(handle.stats().fallbacks).toBe(fallbacks);
    for (const id of ['node-a', 'node-b']) {
      expect(delta(before, after, id, 'forwarded')).toBe(0);
      expect(delta(before, after, id, 'op')).toBe(owned(id));
    }
    for (const key of victimKeys) expect(handle.ownerOf(BUCKET, key)).toBe(ring2.owner(ringKey(BUCKET, key)));
  });
});
