/**
 * etcd membership against a real etcd server (Debian's etcd-server 3.4, started here on ports
 * chosen by the test): views are the mod revisions of one key, every node sees the same epoch,
 * a node that stops or dies leaves the view, a node cut off from etcd stops owning before the
 * others drop it, and with a 3-member etcd that loses its quorum every node stops owning keys
 * (reads go through to the store, writes answer 503) until it has it again.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { EtcdMembership } from '../../src/cluster/etcd-membership';
import { bodyBytes } from '../helpers/gateway';
import { freePort, ringView, startTestCluster, waitFor, waitForSettled, type TestCluster } from '../helpers/cluster-processes';
import { startCuttableProxy, type CuttableProxy } from '../helpers/cuttable-proxy';
import { etcdMissing, startEtcd, type EtcdCluster } from '../servers/etcd';

jest.setTimeout(120_000);

const silent = { info: () => undefined, warn: () => undefined };
const missing = etcdMissing();
const describeEtcd = missing && process.env.CI !== 'true' ? describe.skip : describe;
if (missing && process.env.CI !== 'true') test.skip(`etcd tests skipped: ${missing} (CI installs etcd-server)`, () => undefined);

describeEtcd('EtcdMembership (one etcd member)', () => {
  let etcd: EtcdCluster;
  const running: EtcdMembership[] = [];
  beforeAll(async () => {
    // Ports given by the caller, as CI would pin them.
    etcd = await startEtcd({ members: 1, clientPorts: [await freePort()], peerPorts: [await freePort()] });
  });
  afterAll(async () => {
    await Promise.all(running.map((m) => m.stop()));
    await etcd?.stop();
  });

  const member = (id: string, prefix: string): EtcdMembership => {
    const m = new EtcdMembership({ etcd: { endpoints: etcd.clientUrls, prefix, leaseSeconds: 2, requestTimeoutMs: 1000 }, self: { id, url: `http://${id}.test:9000` }, clock: () => performance.now(), log: silent });
    running.push(m);
    return m;
  };

  it('every node agrees on one view per change, numbered by etcd revisions, and holds its lease', async () => {
    const prefix = `/t1-${Date.now()}`;
    const [a, b, c] = ['node-a', 'node-b', 'node-c'].map((id) => member(id, prefix));
    await a.start();
    await b.start();
    await c.start();
    await waitFor(() => [a, b, c].every((m) => m.members().length === 3), 10_000, 'three members everywhere');
    await waitFor(() => new Set([a, b, c].map((m) => m.view().epoch)).size === 1, 10_000, 'one epoch');
    const epoch = a.view().epoch;
    expect(epoch).toBeGreaterThan(0);
    await waitFor(() => [a, b, c].every((m) => m.lease.valid()), 5000, 'leases');

    await c.stop(); // revokes its etcd lease: gone at once
    await waitFor(() => [a, b].every((m) => m.members().map((x) => x.id).join() === 'node-a,node-b'), 5000, 'c gone');
    expect(a.view().epoch).toBeGreaterThan(epoch);
    expect(b.view().epoch).toBe(a.view().epoch);
    expect(c.lease.valid()).toBe(false);
  });

  it('a node cut off from etcd stops owning at most one lease after its last renewal, before etcd drops it', async () => {
    const prefix = `/t2-${Date.now()}`;
    const target = new URL(etcd.clientUrls[0]);
    const proxy: CuttableProxy = await startCuttableProxy({ host: target.hostname, port: Number(target.port) });
    try {
      const a = member('node-a', prefix);
      const cutOff = new EtcdMembership({ etcd: { endpoints: [proxy.url], prefix, leaseSeconds: 2, requestTimeoutMs: 500 }, self: { id: 'node-x', url: 'http://x.test:9000' }, clock: () => performance.now(), log: silent });
      running.push(cutOff);
      await a.start();
      await cutOff.start();
      await waitFor(() => a.members().length === 2 && cutOff.lease.valid(), 5000, 'x a member with a lease');
      proxy.cut();
      const cutAt = performance.now();
      await waitFor(() => !cutOff.lease.valid(), 5000, 'x losing its lease');
      const lostAt = performance.now();
      await waitFor(() => a.members().length === 1, 10_000, 'a seeing x gone');
      const droppedAt = performance.now();
      expect(lostAt - cutAt).toBeLessThanOrEqual(2000 + 200);
      expect(lostAt).toBeLessThan(droppedAt);
    } finally {
      await proxy.close();
    }
  });
});

describeEtcd('gateways on etcd', () => {
  let etcd: EtcdCluster;
  let cluster: TestCluster;
  afterAll(async () => {
    await cluster?.stop();
    await etcd?.stop();
  });

  it('three gateways on a 3-member etcd: keys through any node; etcd losing its quorum leaves nobody owning, and they own again after', async () => {
    etcd = await startEtcd({ members: 3 });
    cluster = await startTestCluster(3, { config: { cluster: { peers: [], etcd: { endpoints: etcd.clientUrls, prefix: `/gw-${Date.now()}`, leaseSeconds: 2, requestTimeoutMs: 800 } } } });
    const [a, b, c] = cluster.nodes;
    await waitForSettled([a, b, c], 3, 30_000);
    const client = cluster.client(a, { maxAttempts: 3 });
    await client.send(new CreateBucketCommand({ Bucket: 'etcd-bkt' }));
    const body = randomBytes(3000);
    await cluster.client(b, { maxAttempts: 3 }).send(new PutObjectCommand({ Bucket: 'etcd-bkt', Key: 'x', Body: body }));
    for (const node of [a, b, c]) expect((await bodyBytes((await cluster.client(node).send(new GetObjectCommand({ Bucket: 'etcd-bkt', Key: 'x' }))).Body)).equals(body)).toBe(true);
    const views = await Promise.all([a, b, c].map(ringView));
    expect(new Set(views.map((v) => v.epoch)).size).toBe(1);

    // Two of three etcd members paused: no quorum, no renewal, no lease anywhere.
    etcd.members[1].pause();
    etcd.members[2].pause();
    await waitFor(async () => (await Promise.all([a, b, c].map(ringView))).every((v) => !v.lease), 15_000, 'every lease gone');
    const refused = await cluster.client(a).send(new PutObjectCommand({ Bucket: 'etcd-bkt', Key: 'x', Body: randomBytes(10) })).then(
      () => 200,
      (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode,
    );
    expect(refused).toBe(503);
    // Reads still work, through to the store.
    expect((await bodyBytes((await cluster.client(c).send(new GetObjectCommand({ Bucket: 'etcd-bkt', Key: 'x' }))).Body)).equals(body)).toBe(true);

    etcd.members[1].resume();
    etcd.members[2].resume();
    await waitForSettled([a, b, c], 3, 30_000);
    await cluster.client(a, { maxAttempts: 3 }).send(new PutObjectCommand({ Bucket: 'etcd-bkt', Key: 'x', Body: body }));
  });

  it('a gateway killed with -9 leaves the view once its etcd lease expires', async () => {
    const [a, b, c] = cluster.nodes;
    await cluster.kill(c);
    await waitForSettled([a, b], 2, 20_000);
    await cluster.start(c);
    await waitForSettled([a, b, c], 3, 20_000);
  });
});
