/**
 * TLS between nodes (issue #13), with real gateway processes and certificates made at test time
 * with openssl: three nodes serve HTTPS and talk to each other over mutual TLS (each verifies the
 * other's certificate against the cluster CA and presents its own). Objects written and read
 * through any node are forwarded to their owners over it, byte-identical; the ring view, metrics
 * and health work over HTTPS. A node-to-node request with a valid hop marker is refused without a
 * client certificate of the cluster (none, or one from another CA), and accepted with one.
 */
import { randomBytes } from 'node:crypto';
import https from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ringKey } from '../../src/cluster/cluster-node';
import { HopSigner } from '../../src/cluster/peer-auth';
import { buildRing } from '../../src/cluster/ring';
import { bodyBytes } from '../helpers/gateway';
import { CLUSTER_SECRET, metricValue, ringView, startTestCluster, waitForRings, type TestCluster } from '../helpers/cluster-processes';
import { rawRequest } from '../helpers/raw-request';
import { haveOpenssl, makeCerts, type CertFiles } from '../helpers/test-certs';

jest.setTimeout(120_000);

const BUCKET = 'secure';
const ring = buildRing(['node-a', 'node-b', 'node-c']);

let opensslHere = true;
beforeAll(async () => {
  opensslHere = await haveOpenssl();
  if (!opensslHere && process.env.CI === 'true') throw new Error('openssl is required in CI (apt-get install openssl)');
});

describe('three nodes over mutual TLS', () => {
  let dir: string;
  let certs: CertFiles;
  let outsider: CertFiles;
  let cluster: TestCluster;

  beforeAll(async () => {
    if (!opensslHere) return;
    dir = await mkdtemp(path.join(os.tmpdir(), 'ringcache-tls-'));
    certs = await makeCerts(dir, 'cluster');
    outsider = await makeCerts(dir, 'outsider');
    cluster = await startTestCluster(3, { tls: { ...certs, mutual: true } });
    await waitForRings(cluster.nodes, 3);
  });
  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('forwards every object request over TLS to its owner, byte-identical', async () => {
    if (!opensslHere) return console.warn('skipped: openssl is not installed');
    const [a, b, c] = cluster.nodes;
    expect(a.url).toMatch(/^https:/);
    const view = await ringView(a);
    expect(view.members.map((m) => m.url.slice(0, 8))).toEqual(['https://', 'https://', 'https://']);
    await cluster.client(a).send(new CreateBucketCommand({ Bucket: BUCKET }));
    const objects = Array.from({ length: 12 }, (_, i) => ({ key: `obj-${i}`, body: randomBytes(150 * 1024 + i) }));
    for (const [i, o] of objects.entries()) await cluster.client(cluster.nodes[i % 3]).send(new PutObjectCommand({ Bucket: BUCKET, Key: o.key, Body: o.body }));
    for (const node of [a, b, c]) {
      for (const o of objects) {
        const got = await cluster.client(node).send(new GetObjectCommand({ Bucket: BUCKET, Key: o.key }));
        expect((await bodyBytes(got.Body)).equals(o.body)).toBe(true);
      }
    }
    const forwarded = await Promise.all([a, b, c].map(async (n) => metricValue(await cluster.metrics(n), 'ringcache_cluster_requests_total', { route: 'forwarded' })));
    expect(forwarded.every((n) => n > 0)).toBe(true);
    const failures = await Promise.all([a, b, c].map(async (n) => metricValue(await cluster.metrics(n), 'ringcache_cluster_forward_failures_total')));
    expect(failures).toEqual([0, 0, 0]);
  });

  it('refuses node-to-node requests without a client certificate of the cluster', async () => {
    if (!opensslHere) return console.warn('skipped: openssl is not installed');
    const c = cluster.nodes[2];
    const key = ((): string => {
      for (let i = 0; ; i++) if (ring.owner(ringKey(BUCKET, `obj-${i}`)) === 'node-c') return `obj-${i}`;
    })();
    const signer = new HopSigner('node-a', CLUSTER_SECRET);
    const hop = (): Record<string, string> => signer.headers('forward', { method: 'GET', rawUrl: `/${BUCKET}/${key}`, to: 'node-c' });
    const get = (tls: { ca: Buffer; cert?: Buffer; key?: Buffer }) => rawRequest(c.url, { method: 'GET', path: `/${BUCKET}/${key}`, headers: hop(), tls });
    const none = await get({ ca: certs.ca });
    expect({ status: none.status, body: none.body }).toMatchObject({ status: 403, body: expect.stringContaining('client certificate') });
    const foreign = await get({ ca: certs.ca, cert: outsider.cert, key: outsider.key });
    expect(foreign.status).toBe(403);
    const member = await get({ ca: certs.ca, cert: certs.cert, key: certs.key });
    expect(member.status).toBe(200);
    // The internal endpoints too.
    const rawUrl = '/_ringcache/cluster/jobs';
    const internal = (tls: { ca: Buffer; cert?: Buffer; key?: Buffer }) =>
      rawRequest(c.url, { method: 'GET', path: rawUrl, headers: signer.headers('jobs', { method: 'GET', rawUrl, to: 'node-c' }), unsigned: true, tls });
    expect((await internal({ ca: certs.ca })).status).toBe(403);
    expect((await internal({ ca: certs.ca, cert: certs.cert, key: certs.key })).status).toBe(200);
    // A plain S3 client needs no certificate.
    expect((await rawRequest(c.url, { method: 'GET', path: `/${BUCKET}/${key}`, tls: { ca: certs.ca } })).status).toBe(200);
  });

  it('refuses a client without a certificate that resumes its TLS session', async () => {
    if (!opensslHere) return console.warn('skipped: openssl is not installed');
    // Node reports a resumed TLS 1.3 session as authorized even when the client never presented a
    // certificate: connect once without one, then come back on the session ticket.
    const c = cluster.nodes[2];
    const signer = new HopSigner('node-a', CLUSTER_SECRET);
    const rawUrl = '/_ringcache/cluster/jobs';
    const agent = new https.Agent({ keepAlive: false, maxCachedSessions: 10 });
    try {
      const ask = () => rawRequest(c.url, { method: 'GET', path: rawUrl, headers: signer.headers('jobs', { method: 'GET', rawUrl, to: 'node-c' }), unsigned: true, tls: { ca: certs.ca }, agent });
      const first = await ask();
      expect(first.status).toBe(403);
      const again = await ask();
      expect(again.tlsSessionReused).toBe(true);
      expect(again.status).toBe(403);
      const key = ((): string => {
        for (let i = 0; ; i++) if (ring.owner(ringKey(BUCKET, `obj-${i}`)) === 'node-c') return `obj-${i}`;
      })();
      const object = await rawRequest(c.url, { method: 'GET', path: `/${BUCKET}/${key}`, headers: signer.headers('forward', { method: 'GET', rawUrl: `/${BUCKET}/${key}`, to: 'node-c' }), tls: { ca: certs.ca }, agent });
      expect(object.tlsSessionReused).toBe(true);
      expect(object.status).toBe(403);
    } finally {
      agent.destroy();
    }
  });
});
