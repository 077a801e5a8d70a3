/**
 * A node of a multi-node cluster answers its health check with 503 until it has joined (its
 * first membership answer), so peers do not route to it while it still trusts metadata from
 * before a restart; a node by itself is ready at once.
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
      expect(gw.cluster.node.view().members.map((m) => m.id)).toEqual(['only-up']);
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
