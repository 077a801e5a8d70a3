/**
 * The per-peer failure counter (`ringcache_cluster_forward_failures_total{peer}`) keeps labels of
 * current members only (issue #13): a gateway with one peer that answers its health probes but
 * resets every other connection (so a forward to it fails and is counted); once the peer stops
 * answering probes and leaves the ring, its label is gone from the metrics, so node ids that come
 * and go (pods, autoscaling) do not pile up series.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand, CreateBucketCommand } from '@aws-sdk/client-s3';
import { ringKey } from '../../src/cluster/cluster-node';
import { buildRing } from '../../src/cluster/ring';
import { startTestGateway, type TestGateway } from '../helpers/gateway';
import { metricValue, waitFor } from '../helpers/cluster-processes';
import { rawRequest } from '../helpers/raw-request';

jest.setTimeout(60_000);

test('a peer that left the ring leaves no failure series behind', async () => {
  let healthy = true;
  const peer = http.createServer((req, res) => {
    if (req.url === '/_ringcache/healthz' && healthy) {
      res.end('{"status":"ok"}');
      return;
    }
    req.socket.destroy();
  });
  // Not even a 100 Continue: a node that is going away.
  peer.on('checkContinue', (req) => req.socket.destroy());
  await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
  const peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
  let gw: TestGateway | undefined;
  try {
    gw = await startTestGateway({
      cluster: {
        nodeId: 'self',
        secret: 'failure-metric-secret-0123',
        peers: [{ id: 'ghost', url: peerUrl }],
        health: { probeIntervalMs: 100, probeTimeoutMs: 300, failuresBeforeDown: 1 },
      },
    });
    await gw.cluster.start();
    expect(gw.cluster.node.size).toBe(2);
    const ring = buildRing(['self', 'ghost']);
    const key = ((): string => {
      for (let i = 0; ; i++) if (ring.owner(ringKey('bkt', `k-${i}`)) === 'ghost') return `k-${i}`;
    })();
    const client = gw.client();
    await client.send(new CreateBucketCommand({ Bucket: 'bkt' }));
    // Forwarded to the ghost, which resets the connection: counted, and served here instead.
    await client.send(new PutObjectCommand({ Bucket: 'bkt', Key: key, Body: 'x' }));
    const metrics = async (): Promise<string> => (await rawRequest(gw!.url, { method: 'GET', path: '/_ringcache/metrics', unsigned: true })).body;
    expect(metricValue(await metrics(), 'ringcache_cluster_forward_failures_total', { peer: 'ghost' })).toBe(1);

    healthy = false;
    await waitFor(() => gw!.cluster.node.size === 1, 10_000, 'the ghost out of the ring');
    await waitFor(async () => !(await metrics()).includes('peer="ghost"'), 5000, 'the ghost series gone');
  } finally {
    await gw?.close();
    peer.closeAllConnections();
    await new Promise((resolve) => peer.close(resolve));
  }
});
