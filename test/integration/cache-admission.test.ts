/**
 * Per-mount admission rules (mounts.*.cache) through a real gateway, counted at the store:
 * maxObjectBytes keeps large objects out of the cache; minUses caches an object from its
 * minUses-th read on (also when the first page comes with the metadata in one store round
 * trip); preload jobs ignore minUses but not maxObjectBytes.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createAdapter } from '../../src/mounts/adapter-factory';
import { bodyBytes, startTestGateway, type TestGateway } from '../helpers/gateway';
import { InstrumentedUfs } from '../helpers/instrumented-ufs';

const PAGE = 64 * 1024;

let gw: TestGateway;
let root: string;
const stores = new Map<string, InstrumentedUfs>();

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'ringcache-admission-'));
  for (const name of ['small-only', 'twice', 'twice-fresh']) await mkdir(path.join(root, name));
  const uri = (name: string): string => pathToFileURL(path.join(root, name)).href;
  gw = await startTestGateway(
    {
      cache: { pageSize: PAGE, readAheadPages: 2, metadata: { ttlSeconds: 3600 } },
      mounts: {
        'small-only': { uri: uri('small-only'), cache: { maxObjectBytes: 100 * 1024 } },
        twice: { uri: uri('twice'), cache: { minUses: 2 } },
        // Metadata revalidated on every read: the first page comes with it from the store.
        'twice-fresh': { uri: uri('twice-fresh'), cache: { minUses: 2 }, metadataTtlSeconds: 0 },
      },
    },
    {
      adapterFactory: (u) => {
        const store = new InstrumentedUfs(createAdapter(u));
        stores.set(path.basename(new URL(u).pathname), store);
        return store;
      },
    },
  );
});

afterAll(async () => {
  await gw?.close();
  await rm(root, { recursive: true, force: true });
});

async function object(bucket: string, key: string, size: number): Promise<Buffer> {
  const data = randomBytes(size);
  await writeFile(path.join(root, bucket, key), data);
  return data;
}

/** GETs (a range, or the whole object) and returns how many data reads reached the store. */
async function storeReads(bucket: string, key: string, expected: Buffer, range?: [number, number]): Promise<number> {
  const store = stores.get(bucket) as InstrumentedUfs;
  store.reads = [];
  const Range = range ? `bytes=${range[0]}-${range[1]}` : undefined;
  const body = await bodyBytes((await gw.client().send(new GetObjectCommand({ Bucket: bucket, Key: key, Range }))).Body);
  expect(body.equals(range ? expected.subarray(range[0], range[1] + 1) : expected)).toBe(true);
  return store.reads.length;
}

test('maxObjectBytes: a larger object is read from the store every time; a smaller one is cached', async () => {
  const big = await object('small-only', 'big.bin', 5 * PAGE);
  const small = await object('small-only', 'small.bin', PAGE + 10);
  expect(await storeReads('small-only', 'big.bin', big)).toBe(5);
  expect(await storeReads('small-only', 'big.bin', big)).toBe(5);
  expect(await storeReads('small-only', 'big.bin', big, [PAGE, PAGE + 9])).toBe(1);
  expect(await storeReads('small-only', 'small.bin', small)).toBe(2);
  expect(await storeReads('small-only', 'small.bin', small)).toBe(0);
  const residency = gw.buckets.peek('small-only')?.cache?.residency('big.bin');
  expect(residency).toMatchObject({ pages: 5, memory: 0, disk: 0 });
});

test('minUses 2: the first read stores nothing, the second stores the pages, the third is a hit', async () => {
  const data = await object('twice', 'data.bin', 3 * PAGE);
  expect(await storeReads('twice', 'data.bin', data)).toBe(3);
  expect(gw.buckets.peek('twice')?.cache?.residency('data.bin')).toMatchObject({ memory: 0, disk: 0 });
  expect(await storeReads('twice', 'data.bin', data)).toBe(3);
  expect(await storeReads('twice', 'data.bin', data)).toBe(0);
  // A ranged GET is a read of the object too.
  const other = await object('twice', 'ranged.bin', 2 * PAGE);
  expect(await storeReads('twice', 'ranged.bin', other, [0, 99])).toBe(1);
  expect(await storeReads('twice', 'ranged.bin', other, [PAGE, PAGE + 99])).toBe(1);
  expect(await storeReads('twice', 'ranged.bin', other)).toBe(1); // page 1 is cached now, page 0 not yet
  expect(await storeReads('twice', 'ranged.bin', other)).toBe(0);
});

test('minUses 2 when the metadata and the first page come in one store round trip: the first read keeps no page', async () => {
  const data = await object('twice-fresh', 'data.bin', 2 * PAGE);
  expect(await storeReads('twice-fresh', 'data.bin', data)).toBe(2);
  expect(gw.buckets.peek('twice-fresh')?.cache?.residency('data.bin')).toMatchObject({ memory: 0, disk: 0 });
  expect(await storeReads('twice-fresh', 'data.bin', data)).toBe(2);
  expect(gw.buckets.peek('twice-fresh')?.cache?.residency('data.bin')).toMatchObject({ memory: 2, disk: 0 });
  expect(await storeReads('twice-fresh', 'data.bin', data)).toBe(0);
});

test('a preload ignores minUses but not maxObjectBytes', async () => {
  const preloaded = await object('twice', 'preload.bin', 2 * PAGE);
  const warmed = await gw.buckets.peek('twice')!.cache!.warm('preload.bin');
  expect(warmed).toMatchObject({ size: 2 * PAGE, bytesLoaded: 2 * PAGE });
  expect(await storeReads('twice', 'preload.bin', preloaded)).toBe(0);

  const huge = await object('small-only', 'huge.bin', 3 * PAGE);
  const skipped = await gw.buckets.peek('small-only')!.cache!.warm('huge.bin');
  expect(skipped).toEqual({ size: 3 * PAGE, bytesLoaded: 0, bytesSkipped: 0 });
  expect(await storeReads('small-only', 'huge.bin', huge)).toBe(3);
});
