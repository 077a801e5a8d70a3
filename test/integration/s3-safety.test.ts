import http from 'node:http';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';
import { rawRequest, signRequest, type RawRequestOptions } from '../helpers/raw-request';

let gw: TestGateway;
const Bucket = 'safe';
beforeAll(async () => {
  gw = await startTestGateway();
  await gw.client().send(new CreateBucketCommand({ Bucket }));
  await gw.client().send(new CreateBucketCommand({ Bucket: 'neighbour' }));
});
afterAll(() => gw.close());

async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(path.relative(dir, path.join(entry.parentPath ?? (entry as any).path, entry.name)));
  }
  return out.sort();
}

test.each([
  '/safe/..%2F..%2Fescape.txt',
  '/safe/%2e%2e/%2e%2e/escape.txt',
  '/safe/%2E%2E%2Fneighbour%2Fplanted',
  '/safe/a/../../neighbour/planted',
  '/safe/..%5C..%5Cescape.txt',
  '/safe/%2Fetc%2Fescape',
  '/safe/nul%00byte',
  '/safe/.ringcache/meta/x',
  '/safe/a//b',
])('PUT %s never writes outside the bucket root', async (target) => {
  const before = await listTree(gw.dataDir);
  const res = await rawRequest(gw.url, { method: 'PUT', path: target, body: 'planted' });
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(res.body).toMatch(/<Code>(InvalidObjectName|InvalidURI|KeyTooLongError)<\/Code>/);
  expect(await listTree(gw.dataDir)).toEqual(before);
});

test('GET of a traversal key cannot read outside the root', async () => {
  await writeFile(path.join(gw.dataDir, 'secret.txt'), 'top secret');
  const res = await rawRequest(gw.url, { method: 'GET', path: '/safe/..%2Fsecret.txt' });
  // A key the store cannot hold cannot exist in it: NoSuchKey, as S3 would answer.
  expect(res.status).toBe(404);
  expect(res.body).toContain('<Code>NoSuchKey</Code>');
  expect(res.body).not.toContain('top secret');
});

test('client errors never answer 500', async () => {
  const cases: RawRequestOptions[] = [
    { method: 'PUT', path: '/safe/k', headers: { 'content-md5': '!!!' }, body: 'x' },
    { method: 'POST', path: '/safe', query: { delete: '' }, body: 'not xml' },
    { method: 'POST', path: '/safe/k', query: { uploadId: 'nope' }, body: '<CompleteMultipartUpload></CompleteMultipartUpload>' },
    { method: 'GET', path: '/safe', query: { 'list-type': '2', 'max-keys': 'abc' } },
    { method: 'GET', path: '/safe/k', query: { partNumber: 'x' } },
    { method: 'PUT', path: '/safe/k', query: { partNumber: '1', uploadId: 'missing' }, body: 'x' },
    { method: 'GET', path: '/safe', query: { 'list-type': '2', 'encoding-type': 'base64' } },
  ];
  for (const c of cases) {
    const res = await rawRequest(gw.url, c);
    expect({ c, status: res.status }).toEqual({ c, status: expect.any(Number) });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body).toMatch(/<Error><Code>\w+<\/Code>/);
  }
});

test('a killed upload leaves no object and no temporary file', async () => {
  const total = 8 * 1024 * 1024;
  const { path: target, headers } = await signRequest(gw.url, { method: 'PUT', path: '/safe/killed.bin', headers: { 'content-length': String(total) } });
  const { hostname, port } = new URL(gw.url);
  await new Promise<void>((resolve) => {
    const req = http.request({ host: hostname, port, method: 'PUT', path: target, headers });
    req.on('error', () => resolve());
    req.write(Buffer.alloc(1024 * 1024, 7), () => setTimeout(() => req.destroy(), 100));
    req.on('close', () => resolve());
  });
  await new Promise((r) => setTimeout(r, 300));
  expect(await errorCode(gw.client().send(new HeadObjectCommand({ Bucket, Key: 'killed.bin' })))).toBe('NotFound');
  const leftovers = (await listTree(path.join(gw.dataDir, Bucket))).filter((f) => !f.includes('/meta/'));
  expect(leftovers.filter((f) => f.includes('killed') || f.includes('tmp'))).toEqual([]);
  const listing = await gw.client().send(new ListObjectsV2Command({ Bucket }));
  expect((listing.Contents ?? []).map((c) => c.Key)).not.toContain('killed.bin');
});

test('the reserved .ringcache folder never shows in listings', async () => {
  await mkdir(path.join(gw.dataDir, Bucket, 'visible'), { recursive: true });
  await writeFile(path.join(gw.dataDir, Bucket, 'visible', 'file.txt'), 'from NFS');
  const listing = await gw.client().send(new ListObjectsV2Command({ Bucket }));
  const keys = (listing.Contents ?? []).map((c) => c.Key);
  expect(keys).toContain('visible/file.txt');
  expect(keys.some((k) => k?.startsWith('.ringcache'))).toBe(false);
});

test('requests racing the removal of a data-dir bucket folder answer NoSuchBucket, not 503', async () => {
  const client = gw.client();
  await client.send(new CreateBucketCommand({ Bucket: 'vanishing' }));
  const put = await rawRequest(gw.url, { method: 'PUT', path: '/vanishing/k', body: 'v' });
  expect(put.status).toBe(200);
  // The folder goes the way a concurrent DeleteBucket moves it aside, while this node still
  // knows the bucket (it was seen a moment ago and is not stat-ed again for a second).
  await rm(path.join(gw.dataDir, 'vanishing'), { recursive: true, force: true });
  for (const request of [
    { method: 'DELETE', path: '/vanishing/k' },
    { method: 'PUT', path: '/vanishing/k2', body: 'w' },
  ] as RawRequestOptions[]) {
    const res = await rawRequest(gw.url, request);
    expect([request.method, res.status, res.body]).toEqual([request.method, 404, expect.stringContaining('<Code>NoSuchBucket</Code>')]);
  }
});
