/**
 * An owner that hangs instead of refusing (issue #13): the other nodes reach node-c through a TCP
 * proxy that, switched to blackhole, accepts connections and never answers, and stalls the
 * connections it was carrying. Membership is told to keep node-c (failuresBeforeDown: 1000), as
 * it does for a peer that still answers its probes but not its requests. A GET and a PUT of
 * node-c's keys through the other nodes then cost about the first-byte bound
 * (`forward.firstByteTimeoutMs`, 1.5 s here), not the 30 s headers timeout; node-c is marked
 * suspect, so the next requests skip it at once; the data is right.
 *
 * Before the fix, a hop had only the 30 s headers timeout, which never marked the owner suspect:
 * every request for node-c's keys cost 30 s and a 503.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ringKey } from '../../src/cluster/cluster-node';
import { buildRing } from '../../src/cluster/ring';
import { bodyBytes } from '../helpers/gateway';
import { metricValue, ringView, startTestCluster, waitForRings, type TestCluster } from '../helpers/cluster-processes';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';

jest.setTimeout(120_000);

const BUCKET = 'hung';
const ring = buildRing(['node-a', 'node-b', 'node-c']);
const ownedByC = (prefix: string, count: number): string[] => {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) if (ring.owner(ringKey(BUCKET, `${prefix}-${i}`)) === 'node-c') keys.push(`${prefix}-${i}`);
  return keys;
};
/** The first-byte bound, and what a request may take around it on a busy machine. */
const FIRST_BYTE_MS = 1500;
const BOUND_MS = FIRST_BYTE_MS + 4000;

describe('an owner that accepts connections and never answers', () => {
  let cluster: TestCluster;
  let proxy: TcpProxy;

  beforeAll(async () => {
    let proxyUrl = '';
    cluster = await startTestCluster(3, {
      start: false,
      advertise: (node) => (node.id === 'node-c' ? proxyUrl : node.url),
      config: { cluster: { forward: { firstByteTimeoutMs: FIRST_BYTE_MS }, health: { probeIntervalMs: 300, probeTimeoutMs: 500, failuresBeforeDown: 1000 }, suspectSeconds: 30 } },
    });
    proxy = await startTcpProxy(cluster.nodes[2].port);
    proxyUrl = proxy.url;
    await Promise.all(cluster.nodes.map((n) => cluster.start(n)));
    await waitForRings(cluster.nodes, 3);
    await cluster.client(cluster.nodes[0]).send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  afterAll(async () => {
    await cluster?.stop();
    await proxy?.close();
  });

  it('costs the first-byte bound once, marks the owner suspect, and serves the data right', async () => {
    const [a, b] = cluster.nodes;
    const [readKey, writeKey, laterKey] = ownedByC('k', 3);
    const body = randomBytes(200 * 1024);
    // Written and read through node-c while it answers (pooled connections to it exist).
    await cluster.client(a).send(new PutObjectCommand({ Bucket: BUCKET, Key: readKey, Body: body }));
    expect((await bodyBytes((await cluster.client(b).send(new GetObjectCommand({ Bucket: BUCKET, Key: readKey }))).Body)).equals(body)).toBe(true);

    proxy.mode = 'blackhole';

    let started = Date.now();
    const got = await cluster.client(a).send(new GetObjectCommand({ Bucket: BUCKET, Key: readKey }));
    expect((await bodyBytes(got.Body)).equals(body)).toBe(true);
    const readMs = Date.now() - started;

    started = Date.now();
    const written = randomBytes(100 * 1024);
    await cluster.client(b).send(new PutObjectCommand({ Bucket: BUCKET, Key: writeKey, Body: written }));
    const writeMs = Date.now() - started;
    expect((await readFile(path.join(cluster.dataDir, BUCKET, writeKey))).equals(written)).toBe(true);

    // node-c is suspect on both: the next request for its keys does not wait at all.
    started = Date.now();
    await cluster.client(a).send(new PutObjectCommand({ Bucket: BUCKET, Key: laterKey, Body: 'later' }));
    const laterMs = Date.now() - started;

    expect({ readMs, writeMs, laterMs }).toEqual({ readMs: expect.any(Number), writeMs: expect.any(Number), laterMs: expect.any(Number) });
    expect({ read: readMs < BOUND_MS, write: writeMs < BOUND_MS, later: laterMs < FIRST_BYTE_MS }).toEqual({ read: true, write: true, later: true });
    for (const node of [a, b]) {
      expect((await ringView(node)).members.find((m) => m.id === 'node-c')?.suspect).toBe(true);
      expect(metricValue(await cluster.metrics(node), 'ringcache_cluster_forward_failures_total', { peer: 'node-c' })).toBeGreaterThanOrEqual(1);
    }
  });
});

/**
 * A write served for an owner that did not answer reaches that owner before it serves the key
 * again: node-a keeps node-c's keys away from node-c while the invalidation it owes node-c is
 * not delivered, even once node-c answers again and is no longer suspect (node-c kept the old
 * metadata: membership never dropped it, so no ring change made it revalidate).
 */
describe('an owner back from a stall before it heard of the writes served for it', () => {
  let cluster: TestCluster;
  let proxy: TcpProxy;

  beforeAll(async () => {
    let proxyUrl = '';
    cluster = await startTestCluster(3, {
      start: false,
      advertise: (node) => (node.id === 'node-c' ? proxyUrl : node.url),
      config: { cluster: { forward: { firstByteTimeoutMs: FIRST_BYTE_MS }, health: { probeIntervalMs: 300, probeTimeoutMs: 500, failuresBeforeDown: 1000 }, suspectSeconds: 1 } },
    });
    proxy = await startTcpProxy(cluster.nodes[2].port);
    proxyUrl = proxy.url;
    await Promise.all(cluster.nodes.map((n) => cluster.start(n)));
    await waitForRings(cluster.nodes, 3);
    await cluster.client(cluster.nodes[0]).send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  afterAll(async () => {
    await cluster?.stop();
    await proxy?.close();
  });

  it('never serves the old version: the owner gets no request for its keys until it was told', async () => {
    const a = cluster.nodes[0];
    const [key] = ownedByC('stale', 1);
    await cluster.client(a).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'v1' }));
    expect((await bodyBytes((await cluster.client(a).send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body)).toString()).toBe('v1');

    proxy.mode = 'blackhole';
    await cluster.client(a).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'v2' })); // served without node-c
    // node-c is no longer suspect; the invalidation owed to it is stuck on a stalled connection.
    await new Promise((r) => setTimeout(r, 1500));
    proxy.mode = 'pass';
    const reads: string[] = [];
    const until = Date.now() + 4000;
    while (Date.now() < until) reads.push((await bodyBytes((await cluster.client(a).send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body)).toString());
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.filter((r) => r !== 'v2')).toEqual([]);
  });
});
