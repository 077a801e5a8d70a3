/**
 * The warm-hit path (src/s3/hit-path.ts) answers GET and HEAD of cached objects in front of
 * fastify. Its answers must be the fastify handler's answers, byte for byte: for each kind of
 * request the key is purged, asked once (a miss: fastify serves it), asked again (a hit: the hit
 * path serves it), and the two responses compared (status, every header but the request id and
 * the date, body). Requests it must not answer (errors, other owners, no cache) fall through.
 */
import http from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTestGateway, type TestGateway } from '../helpers/gateway';
import { signRequest } from '../helpers/raw-request';

const Bucket = 'hits';
const SMALL = Buffer.from('hello, warm path: a small object in one page');
const LARGE = Buffer.alloc(200 * 1024, 7).map((_, i) => i % 251);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function fetchRaw(url: string, pathAndQuery: string, method: string, headers: Record<string, string>): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, method, path: pathAndQuery, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** The parts of a response both paths must agree on. */
function comparable(answer: Answer): object {
  const { 'x-amz-request-id': _id, 'x-amz-id-2': _id2, date: _date, ...headers } = answer.headers;
  return { status: answer.status, headers, body: answer.body.toString('base64') };
}

let gw: TestGateway;
let publicDir: string;

async function warmHits(): Promise<number> {
  const values = (await gw.metrics.registry.getSingleMetric('ringcache_s3_warm_hits_total')?.get())?.values ?? [];
  return values.reduce((n, v) => n + v.value, 0);
}

beforeAll(async () => {
  publicDir = await mkdtemp(path.join(os.tmpdir(), 'ringcache-public-'));
  await mkdir(path.join(publicDir, 'docs'), { recursive: true });
  await writeFile(path.join(publicDir, 'docs', 'readme.txt'), SMALL);
  gw = await startTestGateway({
    cache: { pageSize: 64 * 1024 },
    mounts: { public: { uri: pathToFileURL(publicDir).href, anonymousRead: true } },
  });
  const s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(
    new PutObjectCommand({
      Bucket,
      Key: 'dir/small.txt',
      Body: SMALL,
      ContentType: 'text/plain; charset=utf-8',
      CacheControl: 'max-age=60',
      ContentDisposition: 'inline',
      Metadata: { color: 'blue', shape: 'round' },
      ChecksumAlgorithm: 'CRC32',
    }),
  );
  await s3.send(new PutObjectCommand({ Bucket, Key: 'large.bin', Body: LARGE }));
});

afterAll(async () => {
  await gw?.close();
  await rm(publicDir, { recursive: true, force: true });
});

async function purge(bucket: string, key: string): Promise<void> {
  await (await gw.buckets.get(bucket)).cache?.purge({ key });
}

/** Asks twice after a purge: the miss (fastify) and the hit (hit path), and checks the hit was counted. */
async function missThenHit(bucket: string, key: string, ask: () => Promise<Answer>): Promise<[Answer, Answer]> {
  await purge(bucket, key);
  const before = await warmHits();
  const miss = await ask();
  expect(await warmHits()).toBe(before);
  const hit = await ask();
  expect(await warmHits()).toBe(before + 1);
  return [miss, hit];
}

async function signed(method: string, pathOnly: string, extra: Record<string, string> = {}, query: Record<string, string> = {}): Promise<Answer> {
  const { path: p, headers } = await signRequest(gw.url, { method, path: pathOnly, headers: extra, query });
  return fetchRaw(gw.url, p, method, headers);
}

describe.each([
  ['GET of a one-page object with metadata', 'dir/small.txt', 'GET', {}, {}],
  ['HEAD of it', 'dir/small.txt', 'HEAD', {}, {}],
  ['a range inside one page', 'dir/small.txt', 'GET', { range: 'bytes=3-9' }, {}],
  ['checksum mode', 'dir/small.txt', 'GET', { 'x-amz-checksum-mode': 'ENABLED' }, {}],
  ['response-* overrides', 'dir/small.txt', 'GET', {}, { 'response-content-type': 'application/x-test', 'response-cache-control': 'no-store' }],
  ['partNumber=1', 'dir/small.txt', 'GET', {}, { partNumber: '1' }],
  ['If-Match that holds', 'dir/small.txt', 'GET', { 'if-match': '*' }, {}],
  ['GET of a multi-page object', 'large.bin', 'GET', {}, {}],
  ['a range across pages', 'large.bin', 'GET', { range: 'bytes=60000-140000' }, {}],
  ['a suffix range', 'large.bin', 'GET', { range: 'bytes=-70000' }, {}],
  ['HEAD with a range', 'large.bin', 'HEAD', { range: 'bytes=0-99' }, {}],
])('%s', (_what, key, method, headers, query) => {
  it('the hit path answers exactly as the fastify handler', async () => {
    const [miss, hit] = await missThenHit(Bucket, key, () => signed(method, `/${Bucket}/${key}`, headers as Record<string, string>, query as Record<string, string>));
    expect(miss.status).toBeLessThan(300);
    expect(comparable(hit)).toEqual(comparable(miss));
  });
});

test('a presigned GET is a hit once warm, with the same answer', async () => {
  const url = new URL(await getSignedUrl(gw.client(), new GetObjectCommand({ Bucket, Key: 'large.bin' }), { expiresIn: 600 }));
  const [miss, hit] = await missThenHit(Bucket, 'large.bin', () => fetchRaw(gw.url, url.pathname + url.search, 'GET', { host: url.host }));
  expect(miss.body.equals(LARGE)).toBe(true);
  expect(comparable(hit)).toEqual(comparable(miss));
});

test('an anonymous GET on an anonymousRead mount is a hit once warm', async () => {
  const [miss, hit] = await missThenHit('public', 'docs/readme.txt', () => fetchRaw(gw.url, '/public/docs/readme.txt', 'GET', {}));
  expect(miss.body.equals(SMALL)).toBe(true);
  expect(comparable(hit)).toEqual(comparable(miss));
});

describe('requests the hit path leaves to fastify, on a warm object', () => {
  let etag = '';
  beforeAll(async () => {
    etag = String((await signed('GET', `/${Bucket}/dir/small.txt`)).headers.etag); // warm
  });

  it.each([
    ['an unsigned GET of a private bucket', () => fetchRaw(gw.url, `/${Bucket}/dir/small.txt`, 'GET', {}), 403],
    ['a bad signature', async () => {
      const { path: p, headers } = await signRequest(gw.url, { method: 'GET', path: `/${Bucket}/dir/small.txt` });
      return fetchRaw(gw.url, p, 'GET', { ...headers, authorization: headers.authorization.replace(/Signature=.{4}/, 'Signature=0000') });
    }, 403],
    ['If-None-Match of the current ETag', () => signed('GET', `/${Bucket}/dir/small.txt`, { 'if-none-match': etag }), 304],
    ['a range past the end', () => signed('GET', `/${Bucket}/dir/small.txt`, { range: 'bytes=9999-' }), 416],
    ['a version id other than null', () => signed('GET', `/${Bucket}/dir/small.txt`, {}, { versionId: 'v2' }), 400],
    ['partNumber=0x1', () => signed('GET', `/${Bucket}/dir/small.txt`, {}, { partNumber: '0x1' }), 400],
    ['an unsupported SSE-C header', () => signed('GET', `/${Bucket}/dir/small.txt`, { 'x-amz-server-side-encryption-customer-algorithm': 'AES256' }), 501],
  ])('%s', async (_what, ask, status) => {
    const before = await warmHits();
    const answer = await ask();
    expect(answer.status).toBe(status);
    expect(await warmHits()).toBe(before);
    if (status !== 304) expect(answer.headers['x-amz-request-id']).toBeDefined();
  });
});

test('a write is seen by the next read (the hit path never serves the old version)', async () => {
  const s3 = gw.client();
  await s3.send(new PutObjectCommand({ Bucket, Key: 'changing.txt', Body: 'one' }));
  expect((await signed('GET', `/${Bucket}/changing.txt`)).body.toString()).toBe('one');
  expect((await signed('GET', `/${Bucket}/changing.txt`)).body.toString()).toBe('one'); // a hit
  await s3.send(new PutObjectCommand({ Bucket, Key: 'changing.txt', Body: 'two!' }));
  expect((await signed('GET', `/${Bucket}/changing.txt`)).body.toString()).toBe('two!');
});

test('without a cache nothing takes the hit path', async () => {
  const plain = await startTestGateway({ cache: { enabled: false } });
  try {
    await plain.client().send(new CreateBucketCommand({ Bucket }));
    await plain.client().send(new PutObjectCommand({ Bucket, Key: 'x', Body: 'x' }));
    const { path: p, headers } = await signRequest(plain.url, { method: 'GET', path: `/${Bucket}/x` });
    for (let i = 0; i < 3; i++) expect((await fetchRaw(plain.url, p, 'GET', headers)).body.toString()).toBe('x');
    const values = (await plain.metrics.registry.getSingleMetric('ringcache_s3_warm_hits_total')?.get())?.values ?? [];
    expect(values.reduce((n, v) => n + v.value, 0)).toBe(0);
  } finally {
    await plain.close();
  }
});
