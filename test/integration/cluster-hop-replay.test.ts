/**
 * A captured hop cannot be replayed (issue #13), with real gateway processes: node-a and node-b
 * reach node-c through a TCP proxy that records what they send. A DeleteObject forwarded by
 * node-a is captured on the wire; after the key was written again, the captured bytes sent once
 * more to node-c are refused (403 AccessDenied, the hop marker already used) and the key keeps its
 * new content; sent to node-b they are refused too (the marker is addressed to node-c).
 *
 * Before the fix, a forwarded request's marker could be used again for five minutes, at any node.
 */
import net from 'node:net';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { bodyBytes } from '../helpers/gateway';
import type { TestCluster } from '../helpers/cluster-processes';
import { keysOwnedBy, startProxiedCluster } from '../helpers/proxied-cluster';
import type { TcpProxy } from '../helpers/tcp-proxy';

jest.setTimeout(120_000);

const BUCKET = 'replay';
const [key] = keysOwnedBy('node-c', BUCKET, 'k', 1);

/** Sends raw bytes to a port and returns the first response's status line and body. */
async function replay(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    // Sent whole, the socket left open (the request says Connection: close): the answer ends it.
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
  });
}

describe('a captured node-to-node request replayed', () => {
  let cluster: TestCluster;
  let proxy: TcpProxy;

  beforeAll(async () => {
    ({ cluster, proxy } = await startProxiedCluster({ size: 3, proxied: 'node-c', bucket: BUCKET, record: true, wait: 'rings' }));
  });
  afterAll(async () => {
    await cluster?.stop();
    await proxy?.close();
  });

  it('is refused by its receiver (used already) and by any other node (addressed elsewhere); the write it carried does not happen again', async () => {
    const [a, b, c] = cluster.nodes;
    await cluster.client(a).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'v1' }));
    await cluster.client(a).send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    await cluster.client(b).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'v2' }));

    // The forwarded DELETE as it went over the wire (headers only: it has no body).
    const wire = proxy.recorded().map((r) => r.toString('latin1')).join('');
    const start = wire.search(new RegExp(`DELETE /${BUCKET}/${key}(\\?[^ ]*)? HTTP/1\\.1\r\n`));
    expect(start).toBeGreaterThanOrEqual(0);
    const request = wire.slice(start, wire.indexOf('\r\n\r\n', start) + 4);
    expect(request).toMatch(/x-ringcache-hop-nonce: [0-9a-f]{16}\.\d+\r\n/i);
    const bytes = Buffer.from(request.replace(/\r\nconnection: keep-alive\r\n/i, '\r\nConnection: close\r\n'), 'latin1');

    const atC = await replay(c.port, bytes);
    expect(atC).toMatch(/^HTTP\/1\.1 403 /m);
    expect(atC).toContain('<Code>AccessDenied</Code>');
    expect(atC).toContain('already used');
    const atB = await replay(b.port, bytes);
    expect(atB).toMatch(/^HTTP\/1\.1 403 /m);
    expect(atB).toContain('addressed to node-c');

    const got = await cluster.client(a).send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect((await bodyBytes(got.Body)).toString()).toBe('v2');
  });
});
