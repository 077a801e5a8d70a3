import { CreateBucketCommand, ListObjectsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTestGateway, type TestGateway } from '../helpers/gateway';

let gw: TestGateway;
const Bucket = 'listing';
const keys = [
  'a.txt',
  'photos/2025/jan/1.jpg',
  'photos/2025/jan/2.jpg',
  'photos/2025/feb/1.jpg',
  'photos/2026/mar/1.jpg',
  'photos/index.html',
  'photos-old/x',
  'z/deep/er/still',
  'ärger/ü',
];
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

beforeAll(async () => {
  gw = await startTestGateway();
  const s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket }));
  for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
});
afterAll(() => gw.close());

test('V2: full listing in UTF-8 byte order with sizes and ETags', async () => {
  const res = await gw.client().send(new ListObjectsV2Command({ Bucket }));
  expect(res.Contents?.map((c) => c.Key)).toEqual([...keys].sort(byteOrder));
  expect(res.KeyCount).toBe(keys.length);
  expect(res.IsTruncated).toBe(false);
  expect(res.Contents?.[0]).toMatchObject({ Size: 5, StorageClass: 'STANDARD' });
  expect(res.Contents?.[0].ETag).toMatch(/^"[0-9a-f]{32}"$/);
  expect(res.Contents?.[0].Owner).toBeUndefined();
});

test('V2: prefix + delimiter gives CommonPrefixes', async () => {
  const res = await gw.client().send(new ListObjectsV2Command({ Bucket, Prefix: 'photos/', Delimiter: '/' }));
  expect(res.Contents?.map((c) => c.Key)).toEqual(['photos/index.html']);
  expect(res.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['photos/2025/', 'photos/2026/']);
  const top = await gw.client().send(new ListObjectsV2Command({ Bucket, Delimiter: '/' }));
  expect(top.Contents?.map((c) => c.Key)).toEqual(['a.txt']);
  expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['photos-old/', 'photos/', 'z/', 'ärger/']);
  const partial = await gw.client().send(new ListObjectsV2Command({ Bucket, Prefix: 'photos', Delimiter: '/' }));
  expect(partial.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['photos-old/', 'photos/']);
});

test('V2: pages of max-keys with continuation tokens cover everything exactly once', async () => {
  const s3 = gw.client();
  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const res = await s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 2, ContinuationToken: token }));
    expect((res.Contents ?? []).length).toBeLessThanOrEqual(2);
    seen.push(...(res.Contents ?? []).map((c) => c.Key as string));
    token = res.NextContinuationToken;
    pages++;
    if (res.IsTruncated) expect(token).toBeTruthy();
  } while (token);
  expect(seen).toEqual([...keys].sort(byteOrder));
  expect(pages).toBe(Math.ceil(keys.length / 2));
});

test('V2: paging with a delimiter rolls each prefix up once across pages', async () => {
  const s3 = gw.client();
  const entries: string[] = [];
  let token: string | undefined;
  do {
    const res = await s3.send(new ListObjectsV2Command({ Bucket, Delimiter: '/', MaxKeys: 1, ContinuationToken: token }));
    entries.push(...(res.Contents ?? []).map((c) => c.Key as string), ...(res.CommonPrefixes ?? []).map((p) => p.Prefix as string));
    token = res.NextContinuationToken;
  } while (token);
  expect(entries).toEqual(['a.txt', 'photos-old/', 'photos/', 'z/', 'ärger/']);
});

test('V2: start-after, fetch-owner, max-keys=0, bad token', async () => {
  const s3 = gw.client();
  const after = await s3.send(new ListObjectsV2Command({ Bucket, StartAfter: 'photos/2025/jan/2.jpg', FetchOwner: true }));
  expect(after.Contents?.map((c) => c.Key)).toEqual(['photos/2026/mar/1.jpg', 'photos/index.html', 'z/deep/er/still', 'ärger/ü']);
  expect(after.Contents?.[0].Owner?.ID).toBe('test-admin');
  const none = await s3.send(new ListObjectsV2Command({ Bucket, MaxKeys: 0 }));
  expect(none.Contents ?? []).toEqual([]);
  expect(none.KeyCount).toBe(0);
  const bad = await s3.send(new ListObjectsV2Command({ Bucket, ContinuationToken: '!!!' })).catch((e) => e);
  expect(bad.name).toBe('InvalidArgument');
});

test('V2: encoding-type=url encodes keys and prefixes', async () => {
  const res = await gw.client().send(new ListObjectsV2Command({ Bucket, Prefix: 'ä', EncodingType: 'url' }));
  expect(res.EncodingType).toBe('url');
  expect(res.Contents?.map((c) => c.Key)).toEqual([encodeURIComponent('ärger/ü').replace(/%2F/g, '/')]);
  expect(res.Prefix).toBe(encodeURIComponent('ä'));
});

test('V1: marker paging, NextMarker, Owner always present', async () => {
  const s3 = gw.client();
  const first = await s3.send(new ListObjectsCommand({ Bucket, MaxKeys: 3 }));
  expect(first.IsTruncated).toBe(true);
  expect(first.Contents?.[0].Owner?.ID).toBe('test-admin');
  const sorted = [...keys].sort(byteOrder);
  expect(first.Contents?.map((c) => c.Key)).toEqual(sorted.slice(0, 3));
  const second = await s3.send(new ListObjectsCommand({ Bucket, Marker: first.NextMarker, MaxKeys: 100 }));
  expect(second.Contents?.map((c) => c.Key)).toEqual(sorted.slice(3));
  expect(second.IsTruncated).toBe(false);
  const delim = await s3.send(new ListObjectsCommand({ Bucket, Delimiter: '/', Prefix: 'photos/2025/' }));
  expect(delim.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['photos/2025/feb/', 'photos/2025/jan/']);
});

test('listing a missing bucket is NoSuchBucket; a missing prefix is empty', async () => {
  const s3 = gw.client();
  const err = await s3.send(new ListObjectsV2Command({ Bucket: 'not-there' })).catch((e) => e);
  expect(err.name).toBe('NoSuchBucket');
  const empty = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'nothing/here/' }));
  expect(empty.KeyCount).toBe(0);
  expect(empty.Contents ?? []).toEqual([]);
});
