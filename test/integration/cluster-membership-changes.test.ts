/**
 * Membership changes without restarts, static peers: a node is added and another removed
 * through the admin API on one node, and the new list reaches every node (heart-beats) which
 * then agree on a view of the live listed nodes; a reloaded peers file does the same. A node
 * removed keeps running, owns nothing and forwards; nothing stale is read across the changes.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { bodyBytes } from '../helpers/gateway';
import { rawRequest } from '../helpers/raw-request';
import { ringView, startTestCluster, waitFor, waitForSettled, type NodeProcess, type TestCluster } from '../helpers/cluster-processes';

jest.setTimeout(180_000);

const setPeers = (node: NodeProcess, peers: { id: string; url: string }[]) =>
  rawRequest(node.url, { method: 'PUT', path: '/_ringcache/cluster/peers', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ peers }) });

describe('static peers changed through the admin API', () => {
  let cluster: TestCluster;
  afterAll(() => cluster?.stop());

  it('adds a node and removes another without restarting anyone; reads stay right', async () => {
    cluster = await startTestCluster(3);
    const [a, b, c] = cluster.nodes;
    await waitForSettled([a, b, c], 3, 30_000);
    const d = await cluster.addNode('node-d'); // d lists a, b, c, d; they do not list d
    await cluster.start(d);
    await waitFor(async () => (await ringView(d)).members.length === 3, 15_000, 'd seeing the view of three');
    expect((await ringView(d)).detached).toBe(true);

    const client = cluster.client(a, { maxAttempts: 3 });
    await client.send(new CreateBucketCommand({ Bucket: 'grow' }));
    const objects = new Map<string, Buffer>();
    for (let i = 0; i < 40; i++) {
      const body = randomBytes(1000);
      objects.set(`k/${i}`, body);
      await client.send(new PutObjectCommand({ Bucket: 'grow', Key: `k/${i}`, Body: body }));
    }

    // Unsigned or signed without admin rights: refused.
    expect((await fetch(`${b.url}/_ringcache/cluster/peers`, { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } })).status).toBe(403);
    const added = await setPeers(b, [a, b, c, d].map((n) => ({ id: n.id, url: n.url })));
    expect(added.status).toBe(200);
    expect(JSON.parse(added.body).version).toBe(1);
    await waitForSettled([a, b, c, d], 4, 30_000);
    const listed = JSON.parse((await rawRequest(a.url, { method: 'GET', path: '/_ringcache/cluster/peers' })).body) as { version: number; peers: { id: string }[] };
    expect(listed.version).toBe(1);
    expect(listed.peers.map((p) => p.id)).toEqual(['node-a', 'node-b', 'node-c', 'node-d']);
    for (const [key, body] of objects) expect((await bodyBytes((await cluster.client(d, { maxAttempts: 3 }).send(new GetObjectCommand({ Bucket: 'grow', Key: key }))).Body)).equals(body)).toBe(true);
    expect((await ringView(d)).members.find((m) => m.self)?.share).toBeGreaterThan(0.1);

    // Scale in: c leaves the list; it keeps running, owns nothing, and forwards.
    const removed = await setPeers(d, [a, b, d].map((n) => ({ id: n.id, url: n.url })));
    expect(JSON.parse(removed.body).version).toBe(2);
    await waitForSettled([a, b, d], 3, 30_000);
    await waitFor(async () => (await ringView(c)).detached, 15_000, 'c detached');
    for (const [key, body] of objects) {
      const fresh = randomBytes(1000);
      await cluster.client(c, { maxAttempts: 3 }).send(new PutObjectCommand({ Bucket: 'grow', Key: key, Body: fresh }));
      objects.set(key, fresh);
      expect((await bodyBytes((await cluster.client(a, { maxAttempts: 3 }).send(new GetObjectCommand({ Bucket: 'grow', Key: key }))).Body)).equals(fresh)).toBe(true);
      void body;
    }
  });
});

describe('static peers from a reloaded peers file', () => {
  let cluster: TestCluster;
  afterAll(() => cluster?.stop());

  it('a node added to one node\'s peers file joins everywhere', async () => {
    cluster = await startTestCluster(3, { start: false });
    const [a, b, c] = cluster.nodes;
    const fileOf = (node: NodeProcess): string => path.join(cluster.base, `peers-${node.id}.json`);
    const two = [a, b].map((n) => ({ id: n.id, url: n.url }));
    const three = [a, b, c].map((n) => ({ id: n.id, url: n.url }));
    await writeFile(fileOf(a), JSON.stringify(two));
    await writeFile(fileOf(b), JSON.stringify({ peers: two }));
    await writeFile(fileOf(c), JSON.stringify(three));
    for (const node of [a, b]) await cluster.start(node, { peers: [], peersFile: fileOf(node) });
    await waitForSettled([a, b], 2, 30_000);
    await cluster.start(c, { peers: [], peersFile: fileOf(c) });
    await waitFor(async () => (await ringView(c)).members.length === 2, 15_000, 'c seeing the view of two');
    await writeFile(fileOf(a), JSON.stringify(three)); // picked up within the 2 s poll
    await waitForSettled([a, b, c], 3, 30_000);
  });
});
