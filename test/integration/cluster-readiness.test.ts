/**
 * A node of a multi-node cluster answers its health check with 503 until its cluster part has
 * started; a node by itself is ready at once. Started is not owning: a node that cannot see the
 * quorum for a first view (here, one of two configured peers) forms no ring and holds no lease.
 */
import { startTestGateway } from '../helpers/gateway';

const health = async (url: string): Promise<number> => (await fetch(`${url}/_ringcache/healthz`)).status;

describe('readiness', () => {
  it('a clustered node is 503 until cluster.start() resolves, then 200', async () => {
    const gw = await startTestGateway({
      cluster: {
        nodeId: 'only-up',
        secret: 'readiness-test-secret-123',
        peers: [
          { id: 'only-up', url: 'http://127.0.0.1:1' },
          { id: 'never-up', url: 'http://127.0.0.1:9' },
        ],
        health: { probeIntervalMs: 60_000, probeTimeoutMs: 300, failuresBeforeDown: 1 },
      },
    });
    try {
      expect(await health(gw.url)).toBe(503);
      await gw.cluster.start();
      expect(await health(gw.url)).toBe(200);
      // Alone, one of two configured nodes is no majority: no view, no lease, no key owned.
      const view = gw.cluster.node.view();
      expect(view.members.map((m) => m.id)).toEqual([]);
      expect(view.epoch).toBe(0);
      expect(view.lease).toBe(false);
    } finally {
      await gw.close();
    }
  });

  it('a node by itself is ready without starting anything', async () => {
    const gw = await startTestGateway();
    try {
      expect(await health(gw.url)).toBe(200);
    } finally {
      await gw.close();
    }
  });
});
