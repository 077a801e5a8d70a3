/**
 * The owner's side of a remote preload batch (POST /_ringcache/cluster/load) and the
 * coordinator's client for it: the owner stops when the coordinator gives up, and a batch
 * whose answer takes longer than the forwarding pool's headers timeout still completes.
 */
import { createHash } from 'node:crypto';
import fastify, { type FastifyInstance } from 'fastify';
import { clusterPlugin } from '../../src/cluster/cluster-plugin';
import { HopSigner, HopVerifier } from '../../src/cluster/peer-auth';
import { PeerClient } from '../../src/cluster/peer-client';
import type { BucketRegistry } from '../../src/mounts/bucket-registry';

const SECRET = 'unit-test-cluster-secret';

/** An owner whose every key takes `delayMs` to warm; records the keys it finished. */
async function slowOwner(delayMs: number): Promise<{ app: FastifyInstance; url: string; warmed: string[] }> {
  const warmed: string[] = [];
  const cache = {
    async warm(key: string, options: { signal?: AbortSignal }) {
      await new Promise((r) => setTimeout(r, delayMs));
      options.signal?.throwIfAborted();
      warmed.push(key);
      return { size: 10, bytesLoaded: 10, bytesSkipped: 0 };
    },
  };
  const buckets = { get: async () => ({ name: 'bkt', cache }) } as unknown as BucketRegistry;
  const app = fastify();
  await app.register(clusterPlugin, { prefix: '/_ringcache/cluster', node: {} as never, verifier: new HopVerifier('owner', SECRET), signer: undefined, tls: { mutual: false }, buckets, callers: {} as never });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, warmed };
}

const batch = (n: number) => ({ bucket: 'bkt', items: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, size: 10 })), options: { skipCached: true, metadataOnly: false } });

describe('POST /_ringcache/cluster/load', () => {
  it('stops loading when the coordinator disconnects', async () => {
    const owner = await slowOwner(200);
    const rawUrl = '/_ringcache/cluster/load';
    const body = JSON.stringify(batch(16));
    const bodySha256 = createHash('sha256').update(body).digest('hex');
    let answered = 0;
    await fetch(`${owner.url}${rawUrl}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...new HopSigner('n1', SECRET).headers('load', { method: 'POST', rawUrl, to: 'owner', bodySha256 }) },
      body,
      signal: AbortSignal.timeout(300),
    }).then(
      () => answered++,
      () => undefined,
    );
    await new Promise((r) => setTimeout(r, 1500));
    await owner.app.close();
    expect(answered).toBe(0);
    // The batch was accepted (the marker and body verified): the first keys were loaded.
    expect(owner.warmed.length).toBeGreaterThan(0);
    // 16 keys at 4 at a time and 200 ms each would take 800 ms: at most the first round finishes.
    expect(owner.warmed.length).toBeLessThanOrEqual(4);
  });

  it('a batch answered after the pool headers timeout still completes (its own deadline applies)', async () => {
    const owner = await slowOwner(400);
    const peers = new PeerClient({ signer: new HopSigner('n1', SECRET), verifier: new HopVerifier('n1', SECRET), connectTimeoutMs: 1000, headersTimeoutMs: 300, tls: {} });
    try {
      const results = await peers.postJson<{ ok: boolean }[]>({ id: 'owner', url: owner.url }, 'load', '/load', batch(8), undefined, 10_000);
      expect(results).toHaveLength(8);
      expect(results.every((r) => r.ok)).toBe(true);
    } finally {
      await peers.close();
      await owner.app.close();
    }
  });

  it('refuses a batch without a valid hop marker', async () => {
    const owner = await slowOwner(1);
    const response = await fetch(`${owner.url}/_ringcache/cluster/load`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch(1)) });
    expect(response.status).toBe(403);
    expect(owner.warmed).toHaveLength(0);
    await owner.app.close();
  });
});
