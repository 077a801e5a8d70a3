/**
 * The dashboard's server side on one gateway: the page's files (no other path served, strict
 * headers), the admin gate of its API (unsigned and non-admin keys refused), the node's
 * statistics (cache fill against quota, counter samples), and the buckets' settings with a
 * store that fails (serve-stale active) and credentials hidden in mount URIs.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { AdminClient, AdminRequestError } from '../../src/cli/admin-client';
import { createAdapter } from '../../src/mounts/adapter-factory';
import { redactUri } from '../../src/admin/redact-uri';
import { NodeStats } from '../../src/admin/node-stats';
import { Metrics } from '../../src/admin/metrics';
import { ufsError } from '../../ufs-adapters/errors';
import type { UfsAdapter } from '../../ufs-adapters/types';
import { ADMIN, READER, startTestGateway, type TestGateway } from '../helpers/gateway';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';

const region = 'us-east-1';

interface NodeEntry {
  id: string;
  self: boolean;
  reachable: boolean;
  version: string;
  ringVersion: string;
  intervalSeconds: number;
  cache: { memory: { bytes: number; pages: number; quotaBytes: number }; disk: { quotaBytes: number } };
  totals: { lookups: { memory: number; disk: number; miss: number }; requests: number };
  samples: unknown[];
}

interface BucketEntry {
  name: string;
  uri: string;
  store: string;
  origin: string;
  metadataTtlSeconds: number;
  serveStale: { enabled: boolean; maxStalenessSeconds: number; active: boolean };
  health: { state: string; lastFailure: string | null };
}

describe('the dashboard API and files on one gateway', () => {
  let gw: TestGateway;
  let flaky: string;
  let failing = false;

  beforeAll(async () => {
    flaky = await mkdtemp(path.join(os.tmpdir(), 'ringcache-flaky-'));
    await writeFile(path.join(flaky, 'obj'), 'cached bytes');
    const flakyUri = `file://${flaky}`;
    gw = await startTestGateway(
      { mounts: { flaky: { uri: flakyUri, metadataTtlSeconds: 0 } }, cache: { serveStale: { enabled: true, maxStalenessSeconds: 3600 } } },
      {
        // The "flaky" store fails every call while `failing` is set.
        adapterFactory: (uri, options) => {
          const inner = createAdapter(uri, options);
          if (uri !== flakyUri) return inner;
          return new Proxy(inner, {
            get(target, prop, receiver) {
              const value = Reflect.get(target, prop, receiver) as unknown;
              if (typeof value !== 'function' || prop === 'close') return value;
              return (...args: unknown[]) => {
                if (failing) throw ufsError('Unavailable', 'the store is down (test)');
                return (value as (...a: unknown[]) => unknown).apply(target, args);
              };
            },
          }) as UfsAdapter;
        },
      },
    );
    await mkdir(path.join(gw.dataDir, 'plain'), { recursive: true });
  });
  afterAll(async () => {
    await gw?.close();
    await rm(flaky, { recursive: true, force: true });
  });

  test('the page and its files are served with a strict policy; nothing else under /ui', async () => {
    const redirect = await fetch(`${gw.url}/_ringcache/ui`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('/_ringcache/ui/');
    const page = await fetch(`${gw.url}/_ringcache/ui/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="app.js"></script>');
    // Nothing from elsewhere: every script and style is this origin's.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    for (const [file, type] of [['app.js', 'text/javascript'], ['sigv4.js', 'text/javascript'], ['sha256.js', 'text/javascript'], ['style.css', 'text/css']]) {
      const response = await fetch(`${gw.url}/_ringcache/ui/${file}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain(type);
      expect(await response.text()).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    }
    for (const other of ['package.json', 'ui-routes.js', 'ui-routes.ts', '%2e%2e%2fadmin-plugin.ts']) expect((await fetch(`${gw.url}/_ringcache/ui/${other}`)).status).toBeGreaterThanOrEqual(400);
  });

  test('the API needs an admin key: unsigned and read-only keys are refused', async () => {
    const unsigned = await fetch(`${gw.url}/_ringcache/stats`);
    expect(unsigned.status).toBe(403);
    expect(await unsigned.json()).toMatchObject({ error: 'AccessDenied' });
    for (const path of ['/_ringcache/stats', '/_ringcache/buckets']) {
      const refused = await new AdminClient(gw.url, { ...READER, region }).json({ path }).catch((err: AdminRequestError) => err);
      expect(refused).toBeInstanceOf(AdminRequestError);
      expect(refused).toMatchObject({ status: 403, code: 'AccessDenied' });
      expect((refused as Error).message).toContain('not an admin key');
    }
    const wrong = await new AdminClient(gw.url, { accessKeyId: ADMIN.accessKeyId, secretAccessKey: 'wrong-secret', region }).json({ path: '/_ringcache/stats' }).catch((err: AdminRequestError) => err);
    expect(wrong).toMatchObject({ status: 403, code: 'SignatureDoesNotMatch' });
  });

  test("the node's statistics: version, ring, cache fill against quota, counters", async () => {
    await gw.client().send(new GetObjectCommand({ Bucket: 'flaky', Key: 'obj' })).then((r) => r.Body?.transformToString());
    const { nodes } = await new AdminClient(gw.url, { ...ADMIN, region }).json<{ nodes: NodeEntry[] }>({ path: '/_ringcache/stats' });
    expect(nodes).toHaveLength(1);
    const [node] = nodes;
    expect(node).toMatchObject({ id: gw.cluster.node.self.id, self: true, reachable: true, version: '0.1.0', ringVersion: gw.cluster.node.version, intervalSeconds: 5 });
    expect(node.cache.memory.quotaBytes).toBe(64 * 1024 * 1024);
    expect(node.cache.disk.quotaBytes).toBe(256 * 1024 * 1024);
    expect(node.totals.requests).toBeGreaterThanOrEqual(1);
    expect(Array.isArray(node.samples)).toBe(true);
  });

  test('buckets: mount URIs, TTLs, and serve-stale active while the store fails', async () => {
    const admin = new AdminClient(gw.url, { ...ADMIN, region });
    const read = async (): Promise<Map<string, BucketEntry>> => new Map((await admin.json<{ buckets: BucketEntry[] }>({ path: '/_ringcache/buckets' })).buckets.map((b) => [b.name, b]));
    const s3 = gw.client();
    // A read while the store answers caches the object; the store then goes down.
    expect(await (await s3.send(new GetObjectCommand({ Bucket: 'flaky', Key: 'obj' }))).Body?.transformToString()).toBe('cached bytes');
    let buckets = await read();
    expect(buckets.get('flaky')).toMatchObject({ origin: 'mount', store: 'local', metadataTtlSeconds: 0, serveStale: { enabled: true, maxStalenessSeconds: 3600, active: false }, health: { state: 'ok' } });
    expect(buckets.get('flaky')?.uri).toBe(`file://${flaky}`);
    expect(buckets.get('plain')).toMatchObject({ origin: 'dataDir', metadataTtlSeconds: 60, serveStale: { active: false } });
    expect(buckets.get('plain')?.uri).toMatch(/^file:\/\/\/.*\/plain$/);

    failing = true;
    try {
      // Served stale: the store is down, the cached copy answers.
      expect(await (await s3.send(new GetObjectCommand({ Bucket: 'flaky', Key: 'obj' }))).Body?.transformToString()).toBe('cached bytes');
      buckets = await read();
      expect(buckets.get('flaky')).toMatchObject({ serveStale: { enabled: true, active: true }, health: { state: 'failing', lastFailure: 'Unavailable' } });
    } finally {
      failing = false;
    }
    await s3.send(new GetObjectCommand({ Bucket: 'flaky', Key: 'obj' })).then((r) => r.Body?.transformToString());
    expect((await read()).get('flaky')).toMatchObject({ serveStale: { active: false }, health: { state: 'ok' } });
  });
});

test('mount URIs are shown without credentials', () => {
  expect(redactUri('s3://lake/raw?endpoint=http%3A%2F%2Fminio%3A9000&region=eu-west-1&accessKeyId=AKIAEXAMPLE&secretAccessKey=s3cr3t')).toBe(
    's3://lake/raw?endpoint=http%3A%2F%2Fminio%3A9000&region=eu-west-1&accessKeyId=***&secretAccessKey=***',
  );
  expect(redactUri('hdfs://alice:pw@namenode:9870/warehouse?user=hive&delegation=TOKEN')).toBe('hdfs://***:***@namenode:9870/warehouse?user=hive&delegation=***');
  expect(redactUri('gs://models/prod/')).toBe('gs://models/prod/');
  expect(redactUri('file:///srv/nfs/archive')).toBe('file:///srv/nfs/archive');
  expect(redactUri('not a uri')).toBe('(not a URI)');
});

test('node statistics keep what the counters grew by, per interval, for a bounded number of intervals', async () => {
  let clock = Date.parse('2026-12-01T00:00:00Z');
  const metrics = new Metrics();
  const stats = new NodeStats({ metrics, now: () => clock, keep: 3 });
  await stats.sample();
  expect((await stats.view()).samples).toEqual([]);
  metrics.pageLookupCells.cell('memory').add(3);
  metrics.pageLookupCells.cell('miss').add(1);
  metrics.bytesServedCells.cell('ufs').add(4096);
  metrics.requestCells.cell('GetObject', '404').add();
  metrics.requestCells.cell('GetObject', '503').add(2);
  metrics.ufsCalls.labels('local', 'stat', 'Unavailable').inc();
  metrics.ufsCalls.labels('local', 'stat', 'ok').inc(3);
  metrics.ufsCalls.labels('local', 'stat', 'NotFound').inc();
  clock += 5000;
  await stats.sample();
  const [first] = (await stats.view()).samples;
  expect(first).toMatchObject({ at: '2026-12-01T00:00:05.000Z', seconds: 5, lookups: { memory: 3, disk: 0, miss: 1 }, served: { store: 4096, memory: 0 }, clientErrors: 1, serverErrors: 2, requests: 3, storeCalls: 5, storeErrors: 1 });
  for (let i = 0; i < 4; i++) {
    clock += 5000;
    await stats.sample();
  }
  const view = await stats.view();
  expect(view.samples).toHaveLength(3);
  expect(view.samples.map((s) => s.at)).toEqual(['2026-12-01T00:00:15.000Z', '2026-12-01T00:00:20.000Z', '2026-12-01T00:00:25.000Z']);
  expect(view.samples.every((s) => s.requests === 0)).toBe(true);
  expect(view.totals.requests).toBe(3);
  expect(view.cache).toBeNull();
});
