/**
 * Forwarded S3 requests (Forwarder, node:http) and internal calls (PeerClient, undici) use
 * separate connection pools: forwarded downloads that hold every forwarding slot (a slow client
 * reading them) do not hold back hand-off pages, preload batches or invalidations to the same
 * peer. An internal call queued behind a busy pool still ends at its deadline. A hand-off page
 * whose answer is not signed by a cluster node for this very request is refused.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fastify, { type FastifyInstance } from 'fastify';
import { Forwarder } from '../../src/cluster/forwarder';
import { HopSigner, HopVerifier, HOP_NONCE_HEADER } from '../../src/cluster/peer-auth';
import { INTERNAL_CONNECTIONS_PER_PEER, PAGE_SIGNATURE_HEADER, PeerClient } from '../../src/cluster/peer-client';

const SECRET = 'unit-test-cluster-secret';

let server: http.Server;
let peer: { id: string; url: string };
const held: http.ServerResponse[] = [];
/** The peer signs its pages as a node would (false: as something that is not a node). */
let signPages = true;
const peerSigner = new HopSigner('peer', SECRET);

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
      const data = Buffer.from('page');
      const signature = signPages ? peerSigner.answerSignature('page', req.headers[HOP_NONCE_HEADER] as string, 'object/00000000', data) : 'ab'.repeat(32);
      res.writeHead(200, { 'content-type': 'application/octet-stream', [PAGE_SIGNATURE_HEADER]: signature });
      res.end(data);
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

const client = (): PeerClient => new PeerClient({ signer: new HopSigner('self', SECRET), verifier: new HopVerifier('self', SECRET), connectTimeoutMs: 1000, headersTimeoutMs: 5000, tls: {} });

/** A node whose every request is forwarded to the peer (two forwarding slots). */
async function forwardingNode(): Promise<{ app: FastifyInstance; url: string; forwarder: Forwarder }> {
  const forwarder = new Forwarder(new HopSigner('self', SECRET), { connectTimeoutMs: 1000, firstByteTimeoutMs: 5000, headersTimeoutMs: 5000, connectionsPerPeer: 2, tls: {} });
  const app = fastify();
  app.get('/*', async (request, reply) => {
    await forwarder.forward(request, reply, peer, new AbortController().signal);
    return reply;
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, forwarder, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` };
}

test('internal calls are answered while forwarded downloads hold every forwarding slot', async () => {
  const node = await forwardingNode();
  const peers = client();
  const downloads = [0, 1].map(() => new AbortController());
  try {
    const forwarded = await Promise.all([0, 1].map((i) => fetch(`${node.url}/slow/${i}`, { signal: downloads[i].signal })));
    expect(forwarded.map((r) => r.status)).toEqual([200, 200]);
    const started = Date.now();
    expect((await peers.page(peer, 'object/00000000', 4, 1000))?.toString()).toBe('page');
    expect(await peers.postJson(peer, 'invalidate', '/invalidate', { keys: { bkt: ['k'] } }, undefined, 1000)).toEqual({ invalidated: 1 });
    expect(Date.now() - started).toBeLessThan(1000);
  } finally {
    for (const d of downloads) d.abort();
    for (const res of held) res.destroy();
    await peers.close();
    await node.forwarder.close();
    await node.app.close();
  }
}, 10_000);

test('a page whose answer is not signed by a cluster node for this request is refused', async () => {
  const peers = client();
  try {
    signPages = false;
    await expect(peers.page(peer, 'object/00000000', 4, 1000)).rejects.toThrow(/does not verify/);
  } finally {
    signPages = true;
    await peers.close();
  }
});

test('an internal call queued behind a full internal pool ends at its deadline', async () => {
  const peers = client();
  const controller = new AbortController();
  const batches = Array.from({ length: INTERNAL_CONNECTIONS_PER_PEER }, () => peers.postJson(peer, 'load', '/load', { items: [] }, controller.signal, 60_000).catch(() => undefined));
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
