/**
 * Pages are cut at a node's cache.pageSize, and page i of one cut is not page i of another:
 * a node restarted with another page size over the same disk cache, and a warm hand-off from
 * a node configured with another page size, must serve the object's own bytes.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { buildApp, type RingcacheApp } from '../../src/app';
import { ringKey } from '../../src/cluster/cluster-node';
import { buildRing } from '../../src/cluster/ring';
import { parseConfig } from '../../src/config/load-config';
import { ADMIN, bodyBytes, startTestGateway } from '../helpers/gateway';
import { CLUSTER_SECRET, freePort, metricValue, waitFor } from '../helpers/cluster-processes';

const KiB = 1024;
/** Five 64 KiB stripes whose bytes are 0, 1, 2, 3, 4: a page from the wrong offset shows. */
function striped(): Buffer {
  const body = Buffer.alloc(5 * 64 * KiB);
  for (let i = 0; i < body.length; i++) body[i] = i >> 16;
  return body;
}

const clientOf = (url: string): S3Client => new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: { ...ADMIN }, maxAttempts: 1 });

const getBytes = async (s3: S3Client, Key: string, Range?: string): Promise<Buffer> => bodyBytes((await s3.send(new GetObjectCommand({ Bucket: 'bkt', Key, Range }))).Body);

test('a restart with another page size over the same disk cache serves the right bytes', async () => {
  const body = striped();
  const first = await startTestGateway({ cache: { pageSize: 256 * KiB } }, { keepDirs: true });
  const { dataDir, cacheDir } = first;
  try {
    await first.client().send(new CreateBucketCommand({ Bucket: 'bkt' }));
    await first.client().send(new PutObjectCommand({ Bucket: 'bkt', Key: 'obj', Body: body }));
    expect((await getBytes(first.client(), 'obj')).equals(body)).toBe(true); // cached in 256 KiB pages
    await first.cache?.store.flush();
  } finally {
    await first.close();
  }
  const second = await startTestGateway({ cache: { pageSize: 64 * KiB } }, { dataDir, cacheDir });
  try {
    expect((await getBytes(second.client(), 'obj', 'bytes=65536-131071')).equals(body.subarray(65536, 131072))).toBe(true);
    expect((await getBytes(second.client(), 'obj')).equals(body)).toBe(true);
  } finally {
    await second.close();
    await rm(path.dirname(cacheDir), { recursive: true, force: true });
  }
});

describe('warm hand-off between nodes with different page sizes', () => {
  let base: string;
  const nodes: (RingcacheApp & { url: string })[] = [];
  afterAll(async () => {
    for (const node of nodes) await node.app.close();
    await rm(base, { recursive: true, force: true });
  });

  test('the new owner serves the right bytes (and did ask the previous owner)', async () => {
    base = await mkdtemp(path.join(os.tmpdir(), 'ringcache-pagesize-'));
    const dataDir = path.join(base, 'data');
    await mkdir(path.join(dataDir, 'bkt'), { recursive: true });
    const ports: Record<string, number> = { 'node-a': await freePort(), 'node-b': await freePort() };
    const peers = Object.entries(ports).map(([id, port]) => ({ id, url: `http://127.0.0.1:${port}` }));
    // node-b starts alone (a bootstrap quorum of 1); node-a, with the default (both), joins the view node-b formed.
    const start = async (id: string, pageSize: number, bootstrap?: number): Promise<RingcacheApp & { url: string }> => {
      const config = parseConfig({
        server: { host: '127.0.0.1', port: ports[id] },
        dataDir,
        credentials: [{ ...ADMIN, grants: { '*': 'write' } }],
        cache: { pageSize, disk: { path: path.join(base, `cache-${id}`), maxBytes: 64 * 1024 * 1024 }, memory: { maxBytes: 16 * 1024 * 1024 } },
        jobs: { stateDir: path.join(base, `jobs-${id}`) },
        log: { level: 'error' },
        cluster: { nodeId: id, advertiseUrl: `http://127.0.0.1:${ports[id]}`, secret: CLUSTER_SECRET, peers, health: { probeIntervalMs: 200, probeTimeoutMs: 300, failuresBeforeDown: 1 },
          lease: { durationMs: 1200, marginMs: 200, cacheGraceMs: 300 },
          ...(bootstrap === undefined ? {} : { quorum: { bootstrap } }),
        },
      });
      const built = await buildApp({ config, logger: false });
      await built.app.listen({ host: '127.0.0.1', port: ports[id] });
      await built.cluster.start();
      const node = { ...built, url: `http://127.0.0.1:${ports[id]}` };
      nodes.push(node);
      return node;
    };
    const ring = buildRing(['node-a', 'node-b']);
    let key = '';
    for (let i = 0; !key; i++) if (ring.owner(ringKey('bkt', `k${i}`)) === 'node-a') key = `k${i}`;
    const body = striped();
    await writeFile(path.join(dataDir, 'bkt', key), body);

    // node-b alone owns every key and caches the object in 256 KiB pages.
    const b = await start('node-b', 256 * KiB, 1);
    await waitFor(() => b.cluster.node.ownsKey('bkt', key), 20_000, 'node-b owns every key alone');
    const viaB = clientOf(b.url);
    expect((await getBytes(viaB, key)).equals(body)).toBe(true);
    viaB.destroy();

    // node-a joins with 64 KiB pages and owns the key: on a miss it asks node-b first.
    const a = await start('node-a', 64 * KiB);
    await waitFor(() => a.cluster.node.size === 2 && a.cluster.node.ownsKey('bkt', key), 20_000, 'node-a owns the key in the view of both');
    const viaA = clientOf(a.url);
    const got = await getBytes(viaA, key);
    viaA.destroy();
    expect(Array.from({ length: 5 }, (_, i) => got[i * 64 * KiB])).toEqual([0, 1, 2, 3, 4]);
    expect(got.equals(body)).toBe(true);
    const metrics = await a.metrics.registry.metrics();
    expect(metricValue(metrics, 'ringcache_cluster_handoff_pages_total')).toBeGreaterThan(0);
    expect(metricValue(metrics, 'ringcache_cluster_handoff_pages_total', { result: 'hit' })).toBe(0);
  });
});

