/**
 * Three gateway processes on loopback with static membership over one shared store: any node
 * serves any key, reads through non-owners are byte-identical, and each object's pages sit
 * in its owner's cache (and nowhere else).
 */
import { createHash, randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, DeleteObjectsCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { buildRing } from '../../src/cluster/ring';
import { ringKey } from '../../src/cluster/cluster-node';
import { bodyBytes, errorCode } from '../helpers/gateway';
import { rawRequest } from '../helpers/raw-request';
import { metricValue, ringView, startTestCluster, waitForRings, type NodeProcess, type TestCluster } from '../helpers/cluster-processes';

jest.setTimeout(120_000);

const BUCKET = 'shared';
let cluster: TestCluster;

async function residency(node: NodeProcess, key: string): Promise<{ node: string; cached: boolean; pages?: number; memory?: number; disk?: number }> {
  const response = await rawRequest(node.url, { method: 'GET', path: '/_ringcache/cache/object', query: { bucket: BUCKET, key } });
  expect(response.status).toBe(200);
  return JSON.parse(response.body);
}

beforeAll(async () => {
  cluster = await startTestCluster(3);
  await waitForRings(cluster.nodes, 3);
});

afterAll(async () => {
  await cluster?.stop();
});

describe('three nodes, static membership', () => {
  const objects = new Map<string, Buffer>();
  const ring = buildRing(['node-a', 'node-b', 'node-c']);
  const ownerOf = (key: string): NodeProcess => cluster.nodes.find((n) => n.id === ring.owner(ringKey(BUCKET, key))) as NodeProcess;

  it('every node reports the same ring: three members, about a third of the keys each', async () => {
    const views = await Promise.all(cluster.nodes.map(ringView));
    expect(new Set(views.map((v) => v.version)).size).toBe(1);
    for (const view of views) {
      expect(view.members.map((m) => m.id)).toEqual(['node-a', 'node-b', 'node-c']);
      for (const m of view.members) expect(m.share).toBeGreaterThan(0.28);
      expect(view.members.filter((m) => m.self)).toHaveLength(1);
    }
  });

  it('writes through any node land in the shared store; reads through every node are byte-identical', async () => {
    const a = cluster.client(cluster.nodes[0]);
    await a.send(new CreateBucketCommand({ Bucket: BUCKET }));
    for (let i = 0; i < 24; i++) {
      const size = [0, 1, 4096, 1024 * 1024, 1024 * 1024 + 1, 2.5 * 1024 * 1024][i % 6];
      const key = `dir/object-${i}.bin`;
      const body = randomBytes(Math.floor(size));
      objects.set(key, body);
      const writer = cluster.client(cluster.nodes[i % 3]);
      await writer.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    }
    for (const node of cluster.nodes) {
      const client = cluster.client(node);
      for (const [key, body] of objects) {
        const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        const bytes = await bodyBytes(got.Body);
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
      }
    }
    // Ranged reads through a non-owner.
    const key = 'dir/object-5.bin';
    const nonOwner = cluster.nodes.find((n) => n !== ownerOf(key)) as NodeProcess;
    const ranged = await cluster.client(nonOwner).send(new GetObjectCommand({ Bucket: BUCKET, Key: key, Range: 'bytes=1048570-1048585' }));
    expect((await bodyBytes(ranged.Body)).equals((objects.get(key) as Buffer).subarray(1048570, 1048586))).toBe(true);
  });

  it("each object's pages sit in its owner's cache and in no other node's", async () => {
    for (const [key, body] of objects) {
      if (body.length === 0) continue;
      const owner = ownerOf(key);
      const pages = Math.ceil(body.length / (1024 * 1024));
      for (const node of cluster.nodes) {
        const held = await residency(node, key);
        expect(held.node).toBe(node.id);
        if (node === owner) {
          expect(held).toMatchObject({ cached: true, pages });
          expect((held.memory ?? 0) + (held.disk ?? 0)).toBe(pages);
        } else {
          expect(held.cached).toBe(false);
        }
      }
    }
  });

  it('non-owners forward object requests; their metrics say so', async () => {
    const texts = await Promise.all(cluster.nodes.map((n) => cluster.metrics(n)));
    for (const text of texts) {
      expect(metricValue(text, 'ringcache_cluster_requests_total', { route: 'forwarded' })).toBeGreaterThan(0);
      expect(metricValue(text, 'ringcache_cluster_requests_total', { route: 'from-peer' })).toBeGreaterThan(0);
      expect(metricValue(text, 'ringcache_cluster_members')).toBe(3);
    }
  });

  it('listing, HEAD and bucket operations work on any node', async () => {
    for (const node of cluster.nodes) {
      const client = cluster.client(node);
      const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'dir/' }));
      expect(listed.KeyCount).toBe(objects.size);
      const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'dir/object-3.bin' }));
      expect(head.ContentLength).toBe(1024 * 1024);
    }
  });

  it('an overwrite through one node is seen through every node at once (the owner invalidated it)', async () => {
    const key = 'dir/object-3.bin';
    const fresh = randomBytes(3000);
    await cluster.client(cluster.nodes[2]).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: fresh }));
    for (const node of cluster.nodes) {
      const got = await cluster.client(node).send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      expect((await bodyBytes(got.Body)).equals(fresh)).toBe(true);
    }
  });

  it('a multi-object delete served by a non-owner reaches the owners: nobody serves the deleted keys', async () => {
    const keys = ['dir/object-1.bin', 'dir/object-2.bin', 'dir/object-4.bin'];
    // Warm them on their owners first.
    for (const key of keys) await cluster.client(cluster.nodes[0]).send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    await cluster.client(cluster.nodes[1]).send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
    // At once: the owners dropped their cached copies before the delete was acknowledged.
    for (const node of cluster.nodes) {
      for (const key of keys) expect(await errorCode(cluster.client(node).send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })))).toBe('NotFound');
    }
  });

  it("an owner's early answer to a forwarded upload reaches the client as is (412, not a reset)", async () => {
    const deleted = ['dir/object-1.bin', 'dir/object-2.bin', 'dir/object-4.bin', 'dir/object-3.bin'];
    const key = [...objects.keys()].find((k) => ownerOf(k) !== cluster.nodes[0] && !deleted.includes(k) && (objects.get(k) as Buffer).length > 0) as string;
    const client = cluster.client(cluster.nodes[0]);
    // The owner refuses before reading the 16 MiB body; the forwarding node must relay its answer.
    const outcome = await errorCode(client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: randomBytes(16 * 1024 * 1024), IfNoneMatch: '*' })));
    expect(outcome).toBe('PreconditionFailed');
    // The pooled connection to the owner still works.
    const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect((await bodyBytes(got.Body)).equals(objects.get(key) as Buffer)).toBe(true);
  });

  it('a forged hop marker is refused with AccessDenied', async () => {
    const response = await rawRequest(cluster.nodes[0].url, {
      method: 'GET',
      path: `/${BUCKET}/dir/object-0.bin`,
      headers: { 'x-ringcache-hop': 'node-b', 'x-ringcache-hop-date': String(Date.now()), 'x-ringcache-hop-signature': '00'.repeat(32) },
    });
    expect(response.status).toBe(403);
    expect(response.body).toContain('<Code>AccessDenied</Code>');
  });

  it('cluster-internal endpoints refuse requests without a valid hop marker', async () => {
    const response = await fetch(`${cluster.nodes[0].url}/_ringcache/cluster/page?key=x`);
    expect(response.status).toBe(403);
  });
});
