/**
 * PeerClient keeps forwarded S3 requests and internal calls on separate connection pools:
 * forwarded downloads that hold every forwarding connection (a slow client reading them)
 * do not hold back hand-off pages, preload batches or invalidations to the same peer. And an
 * internal call queued behind a busy pool still ends at its deadline.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { INTERNAL_CONNECTIONS_PER_PEER, PeerClient } from '../../src/cluster/peer-client';

const SECRET = 'unit-test-cluster-secret';

let server: http.Server;
let peer: { id: string; url: string };
const held: http.ServerResponse[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url?.startsWith('/slow')) {
      // A forwarded download whose client reads nothing: headers and a first chunk, then nothing.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(1024));
      held.push(res);
      return;
    }
    if (req.url?.startsWith('/_ringcache/cluster/load')) {
      // A preload batch that takes long: no answer while the test runs.
      held.push(res);
      return;
    }
    if (req.url?.startsWith('/_ringcache/cluster/page')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.from('page'));
      return;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"invalidated":1}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  peer = { id: 'peer', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
});

afterAll(async () => {
  for (const res of held) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test('internal calls are answered while forwarded downloads hold every forwarding connection', async () => {
  const peers = new PeerClient({ selfId: 'self', secret: SECRET, connectTimeoutMs: 1000, headersTimeoutMs: 5000, connectionsPerPeer: 2 });
  const forwarded = await Promise.all([0, 1].map((i) => peers.dispatch(peer, { method: 'GET', path: `/slow/${i}`, headers: peers.markerFor('GET', `/slow/${i}`) })));
  try {
    expect(forwarded.map((r) => r.statusCode)).toEqual([200, 200]);
    const started = Date.now();
    expect((await peers.page(peer, 'object/00000000', 4, 1000))?.toString()).toBe('page');
    expect(await peers.postJson(peer, '/invalidate', { keys: { bkt: ['k'] } }, undefined, 1000)).toEqual({ invalidated: 1 });
    expect(Date.now() - started).toBeLessThan(1000);
  } finally {
    for (const response of forwarded) response.body.destroy();
    for (const res of held) res.destroy();
    await peers.close();
  }
}, 10_000);

test('an internal call queued behind a full internal pool ends at its deadline', async () => {
  const peers = new PeerClient({ selfId: 'self', secret: SECRET, connectTimeoutMs: 1000, headersTimeoutMs: 5000, connectionsPerPeer: 2 });
  const controller = new AbortController();
  const batches = Array.from({ length: INTERNAL_CONNECTIONS_PER_PEER }, () => peers.postJson(peer, '/load', { items: [] }, controller.signal, 60_000).catch(() => undefined));
  try {
    await new Promise((r) => setTimeout(r, 100)); // every internal connection waits for a batch's answer
    const started = Date.now();
    await expect(peers.page(peer, 'object/00000000', 4, 300)).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1000);
  } finally {
    controller.abort();
    await Promise.all(batches);
    for (const res of held) res.destroy();
    await peers.close();
  }
}, 10_000);
