/**
 * The paged cache in front of the store: repeat reads cost no store reads, changed objects
 * are served fresh (never mixed), one store read per page under concurrency, corrupt disk
 * pages are caught, a restart keeps hits, a down store keeps cached data readable.
 */
import { randomBytes } from 'node:crypto';
import { readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { bodyBytes, startTestGateway, type TestGateway, type TestGatewayOptions } from '../helpers/gateway';
import { InstrumentedUfs } from '../helpers/instrumented-ufs';
import { createAdapter } from '../../src/mounts/adapter-factory';
import type { ConfigInput } from '../../src/config/schema';
import { purgeCommand } from '../../src/cli/purge';
import { ADMIN } from '../helpers/gateway';

const PAGE = 64 * 1024;
const Bucket = 'cached';

interface Harness {
  gw: TestGateway;
  ufs: () => InstrumentedUfs;
}

async function start(cache: ConfigInput['cache'] = {}, options: TestGatewayOptions = {}): Promise<Harness> {
  let instrumented: InstrumentedUfs | undefined;
  const gw = await startTestGateway(
    { cache: { pageSize: PAGE, readAheadPages: 2, ...cache } },
    {
      ...options,
      adapterFactory: (uri) => {
        instrumented = new InstrumentedUfs(createAdapter(uri));
        return instrumented;
      },
    },
  );
  return { gw, ufs: () => instrumented as InstrumentedUfs };
}

const get = async (gw: TestGateway, Key: string, Range?: string) =>
  bodyBytes((await gw.client().send(new GetObjectCommand({ Bucket, Key, Range }))).Body);

async function metric(gw: TestGateway, name: string, labels: Record<string, string> = {}): Promise<number> {
  const found = (await gw.metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return found
    .filter((v) => Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want))
    .reduce((n, v) => n + v.value, 0);
}

describe('paged cache', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await start({ metadata: { ttlSeconds: 3600 } });
    await h.gw.client().send(new CreateBucketCommand({ Bucket }));
  });
  afterAll(() => h.gw.close());

  test('the second read of an object causes zero store reads', async () => {
    const data = randomBytes(5 * PAGE + 123);
    await h.gw.client().send(new PutObjectCommand({ Bucket, Key: 'twice.bin', Body: data }));
    h.ufs().reads = [];
    expect((await get(h.gw, 'twice.bin')).equals(data)).toBe(true);
    expect(h.ufs().reads).toHaveLength(6); // one per page
    const before = await metric(h.gw, 'ringcache_ufs_reads_total');
    h.ufs().reads = [];
    expect((await get(h.gw, 'twice.bin')).equals(data)).toBe(true);
    expect(h.ufs().reads).toHaveLength(0);
    expect(await metric(h.gw, 'ringcache_ufs_reads_total')).toBe(before);
    expect(await metric(h.gw, 'ringcache_cache_bytes_served_total', { tier: 'memory' })).toBeGreaterThanOrEqual(data.length);
  });

  test('a range read fetches only the pages it touches', async () => {
    const data = randomBytes(10 * PAGE);
    await h.gw.client().send(new PutObjectCommand({ Bucket, Key: 'ranged.bin', Body: data }));
    h.ufs().reads = [];
    const part = await get(h.gw, 'ranged.bin', `bytes=${5 * PAGE + 10}-${5 * PAGE + 99}`);
    expect(part.equals(data.subarray(5 * PAGE + 10, 5 * PAGE + 100))).toBe(true);
    expect(h.ufs().reads).toEqual([{ start: 5 * PAGE, end: 6 * PAGE - 1 }]);
  });

  test('64 concurrent cold GETs of one object: one store read per page', async () => {
    const data = randomBytes(8 * PAGE);
    await h.gw.client().send(new PutObjectCommand({ Bucket, Key: 'herd.bin', Body: data }));
    h.ufs().reads = [];
    const joinsBefore = await metric(h.gw, 'ringcache_cache_singleflight_joins_total');
    const s3 = h.gw.client(undefined, { requestHandler: { requestTimeout: 30_000, httpAgent: { maxSockets: 64 } } as never });
    const bodies = await Promise.all(Array.from({ length: 64 }, () => s3.send(new GetObjectCommand({ Bucket, Key: 'herd.bin' })).then((r) => bodyBytes(r.Body))));
    for (const body of bodies) expect(body.equals(data)).toBe(true);
    const starts = h.ufs().reads.map((r) => r.start).sort((a, b) => a - b);
    expect(starts).toEqual(Array.from({ length: 8 }, (_, i) => i * PAGE));
    expect(await metric(h.gw, 'ringcache_cache_singleflight_joins_total')).toBeGreaterThan(joinsBefore);
  });

  test('writes through the gateway are read back at once (invalidation before the acknowledgement)', async () => {
    await h.gw.client().send(new PutObjectCommand({ Bucket, Key: 'rw.txt', Body: 'version one' }));
    expect((await get(h.gw, 'rw.txt')).toString()).toBe('version one');
    await h.gw.client().send(new PutObjectCommand({ Bucket, Key: 'rw.txt', Body: 'version two!' }));
    expect((await get(h.gw, 'rw.txt')).toString()).toBe('version two!');
  });

  test('purge drops an object: the next read goes to the store again', async () => {
    await h.gw.client().send(new PutObjectCommand({ Bucket, Key: 'purge/me.txt', Body: 'cached' }));
    await get(h.gw, 'purge/me.txt');
    h.ufs().reads = [];
    await get(h.gw, 'purge/me.txt');
    expect(h.ufs().reads).toHaveLength(0);
    const out = await purgeCommand(`${Bucket}/purge/me.txt`, { prefix: false, endpoint: h.gw.url, credentials: { ...ADMIN, region: 'us-east-1' } });
    expect(JSON.parse(out)).toEqual({ purged: 1 });
    await get(h.gw, 'purge/me.txt');
    expect(h.ufs().reads).toHaveLength(1);
    const byPrefix = await purgeCommand(`${Bucket}/purge/`, { prefix: true, endpoint: h.gw.url, credentials: { ...ADMIN, region: 'us-east-1' } });
    expect(JSON.parse(byPrefix).purged).toBeGreaterThanOrEqual(1);
    const denied = await purgeCommand(`${Bucket}/purge/me.txt`, { prefix: false, endpoint: h.gw.url, credentials: { accessKeyId: 'test-reader', secretAccessKey: 'test-reader-secret', region: 'us-east-1' } }).catch((e) => e);
    expect(String(denied)).toContain('AccessDenied');
  });
});

test('an object changed behind the gateway is served fresh after the TTL, never mixed with old pages', async () => {
  const h = await start({ metadata: { ttlSeconds: 1 } });
  try {
    await h.gw.client().send(new CreateBucketCommand({ Bucket }));
    const v1 = Buffer.alloc(4 * PAGE, 1);
    await h.gw.client().send(new PutObjectCommand({ Bucket, Key: 'nfs.bin', Body: v1 }));
    // Only the first page gets cached.
    expect((await get(h.gw, 'nfs.bin', `bytes=0-99`)).equals(v1.subarray(0, 100))).toBe(true);
    // Another NFS client rewrites the file in place: same size, new content, new mtime.
    const file = path.join(h.gw.dataDir, Bucket, 'nfs.bin');
    const v2 = Buffer.alloc(4 * PAGE, 2);
    await writeFile(file, v2);
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    // Within the TTL: one whole version, or (if the change is discovered after the headers
    // went out) an aborted response. Never a mix of pages of both versions.
    const within = await get(h.gw, 'nfs.bin').catch(() => 'aborted' as const);
    if (within !== 'aborted') expect(within.equals(v1) || within.equals(v2)).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    const after = await get(h.gw, 'nfs.bin');
    expect(after.equals(v2)).toBe(true);
  } finally {
    await h.gw.close();
  }
});

test('restart keeps hits; a corrupted LMDB page is detected, dropped and re-read', async () => {
  const first = await start({ metadata: { ttlSeconds: 3600 }, memory: { maxBytes: 0 } }, { keepDirs: true });
  const marker = Buffer.from('RINGCACHE-CORRUPTION-MARKER-'.repeat(4));
  const data = Buffer.concat([marker, randomBytes(3 * PAGE - marker.length)]);
  await first.gw.client().send(new CreateBucketCommand({ Bucket }));
  await first.gw.client().send(new PutObjectCommand({ Bucket, Key: 'persist.bin', Body: data }));
  const other = randomBytes(2 * PAGE);
  await first.gw.client().send(new PutObjectCommand({ Bucket, Key: 'other.bin', Body: other }));
  await get(first.gw, 'persist.bin');
  await get(first.gw, 'other.bin');
  await first.gw.cache?.store.flush();
  const { dataDir, cacheDir } = first.gw;
  await first.gw.close();

  // Restart on the same folders: hits at once, no store reads.
  const second = await start({ metadata: { ttlSeconds: 3600 }, memory: { maxBytes: 0 } }, { dataDir, cacheDir, keepDirs: true });
  await second.gw.buckets.get(Bucket); // data-dir buckets get their adapter on first use
  second.ufs().reads = [];
  expect((await get(second.gw, 'persist.bin')).equals(data)).toBe(true);
  expect(second.ufs().reads).toHaveLength(0);
  expect(await metric(second.gw, 'ringcache_cache_bytes_served_total', { tier: 'disk' })).toBe(data.length);
  await second.gw.close();

  // Flip one byte of the cached page on disk.
  const mdb = path.join(cacheDir, (await readdir(cacheDir)).find((f) => f.endsWith('.mdb')) ?? 'data.mdb');
  const bytes = await readFile(mdb);
  const at = bytes.indexOf(marker);
  expect(at).toBeGreaterThan(0);
  bytes[at + 5] ^= 0xff;
  await writeFile(mdb, bytes);

  const third = await start({ metadata: { ttlSeconds: 3600 }, memory: { maxBytes: 0 } }, { dataDir, cacheDir });
  try {
    await third.gw.buckets.get(Bucket);
    third.ufs().reads = [];
    expect((await get(third.gw, 'persist.bin')).equals(data)).toBe(true);
    expect(await metric(third.gw, 'ringcache_cache_checksum_failures_total')).toBe(1);
    expect(third.ufs().reads.map((r) => r.start)).toEqual([0]); // only the corrupt page was re-read
    expect((await get(third.gw, 'other.bin')).equals(other)).toBe(true);
  } finally {
    await third.gw.close();
  }
});

test('store down: cached objects are still served; uncached ones answer 503', async () => {
  const h = await start({ metadata: { ttlSeconds: 0 }, serveStale: { enabled: true, maxStalenessSeconds: 3600 } });
  try {
    await h.gw.client().send(new CreateBucketCommand({ Bucket }));
    const data = randomBytes(2 * PAGE);
    await h.gw.client().send(new PutObjectCommand({ Bucket, Key: 'warm.bin', Body: data }));
    await h.gw.client().send(new PutObjectCommand({ Bucket, Key: 'cold.bin', Body: 'never read' }));
    await get(h.gw, 'warm.bin');
    h.ufs().down = true;
    expect((await get(h.gw, 'warm.bin')).equals(data)).toBe(true);
    const head = await h.gw.client().send(new HeadObjectCommand({ Bucket, Key: 'warm.bin' }));
    expect(head.ContentLength).toBe(data.length);
    const cold = await h.gw.client().send(new GetObjectCommand({ Bucket, Key: 'cold.bin' })).catch((e) => e);
    expect(cold.$metadata.httpStatusCode).toBe(503);
    expect(cold.name).toBe('ServiceUnavailable');
    expect(await metric(h.gw, 'ringcache_cache_metadata_lookups_total', { result: 'stale' })).toBeGreaterThan(0);
    h.ufs().down = false;
    expect((await get(h.gw, 'cold.bin')).toString()).toBe('never read');
  } finally {
    await h.gw.close();
  }
});
