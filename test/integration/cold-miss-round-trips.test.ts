/**
 * A cold miss costs one store round trip where the store can: the page holding the first byte
 * comes with the metadata (UfsAdapter.readWithInfo), no separate stat. A revalidation whose page
 * is still resident costs a stat and no data read. A HEAD is a stat.
 */
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { bodyBytes, startTestGateway, type TestGateway } from '../helpers/gateway';
import { InstrumentedUfs } from '../helpers/instrumented-ufs';
import { createAdapter } from '../../src/mounts/adapter-factory';

const PAGE = 64 * 1024;
const Bucket = 'cold';
let gw: TestGateway;
let ufs: InstrumentedUfs;

beforeAll(async () => {
  gw = await startTestGateway(
    { cache: { pageSize: PAGE, metadata: { ttlSeconds: 60 } } },
    {
      adapterFactory: (uri) => {
        ufs = new InstrumentedUfs(createAdapter(uri));
        return ufs;
      },
    },
  );
  await gw.client().send(new CreateBucketCommand({ Bucket }));
});
afterAll(() => gw.close());

/** Store calls made by `work`: [metadata round trips, data reads]. */
async function storeCalls(work: () => Promise<unknown>): Promise<[number, number]> {
  const stats = ufs.stats;
  const reads = ufs.reads.length;
  await work();
  return [ufs.stats - stats, ufs.reads.length - reads];
}

const get = async (Key: string, Range?: string): Promise<Buffer> => bodyBytes((await gw.client().send(new GetObjectCommand({ Bucket, Key, Range }))).Body);

test('a cold GET of a one-page object is one store round trip (metadata and bytes together)', async () => {
  const body = Buffer.alloc(10_000, 3);
  await gw.client().send(new PutObjectCommand({ Bucket, Key: 'one-page', Body: body }));
  const withInfo = ufs.reads.length;
  expect(await storeCalls(async () => expect((await get('one-page')).equals(body)).toBe(true))).toEqual([1, 1]);
  expect(ufs.reads.slice(withInfo)).toEqual([{ start: 0, end: PAGE - 1 }]); // the page, asked with the metadata
  expect(await storeCalls(() => get('one-page'))).toEqual([0, 0]);
});

test('a cold ranged GET brings the page holding its first byte; the rest of the range follows', async () => {
  const body = Buffer.alloc(3 * PAGE + 5).map((_, i) => i % 256);
  await gw.client().send(new PutObjectCommand({ Bucket, Key: 'three-pages', Body: body }));
  const [, reads] = await storeCalls(async () => expect((await get('three-pages', `bytes=${PAGE + 10}-${2 * PAGE + 20}`)).equals(body.subarray(PAGE + 10, 2 * PAGE + 21))).toBe(true));
  expect(reads).toBe(2); // page 1 with the metadata, then page 2
});

test('a HEAD is a stat, and the GET after it reads only the page', async () => {
  await gw.client().send(new PutObjectCommand({ Bucket, Key: 'headed', Body: 'abc' }));
  expect(await storeCalls(() => gw.client().send(new HeadObjectCommand({ Bucket, Key: 'headed' })))).toEqual([1, 0]);
  expect(await storeCalls(() => get('headed'))).toEqual([0, 1]);
});

test('a revalidation of an object whose page is resident is a stat, not a page read', async () => {
  await gw.client().send(new PutObjectCommand({ Bucket, Key: 'revalidated', Body: 'same bytes' }));
  await get('revalidated');
  // Expire the metadata without waiting for its TTL: the ring-change watermark does exactly that.
  gw.cache?.shared.metadata.expireBefore(Date.now() + 1);
  expect(await storeCalls(async () => expect((await get('revalidated')).toString()).toBe('same bytes'))).toEqual([1, 0]);
});
