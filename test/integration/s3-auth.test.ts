import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListBucketsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ADMIN, bodyBytes, errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';
import { rawRequest, signRequest } from '../helpers/raw-request';
import { encodeSignedChunks, encodeUnsignedChunks } from '../helpers/aws-chunked';
import { createChecksum } from '../../src/s3/auth';

let gw: TestGateway;
let publicRoot: string;
const Bucket = 'auth';

beforeAll(async () => {
  publicRoot = await mkdtemp(path.join(os.tmpdir(), 'ringcache-public-'));
  await mkdir(path.join(publicRoot, 'docs'));
  await writeFile(path.join(publicRoot, 'docs', 'readme.txt'), 'public text');
  gw = await startTestGateway({ mounts: { 'public-data': { uri: pathToFileURL(publicRoot).href, anonymousRead: true } } });
  await gw.client().send(new CreateBucketCommand({ Bucket }));
  await gw.client().send(new PutObjectCommand({ Bucket, Key: 'secret.txt', Body: 'classified' }));
});
afterAll(async () => {
  await gw.close();
  await rm(publicRoot, { recursive: true, force: true });
});

const send = (target: string, method: string, headers: Record<string, string>, body: Buffer) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const { hostname, port } = new URL(gw.url);
    const req = http.request({ host: hostname, port, method, path: target, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });

test('wrong secret -> 403 SignatureDoesNotMatch', async () => {
  const s3 = gw.client({ accessKeyId: ADMIN.accessKeyId, secretAccessKey: 'not-the-secret' });
  const err = await s3.send(new GetObjectCommand({ Bucket, Key: 'secret.txt' })).catch((e) => e);
  expect(err.name).toBe('SignatureDoesNotMatch');
  expect(err.$metadata.httpStatusCode).toBe(403);
});

test('unknown access key -> 403 InvalidAccessKeyId', async () => {
  const err = await gw.client({ accessKeyId: 'nobody', secretAccessKey: 'whatever-secret' }).send(new ListBucketsCommand({})).catch((e) => e);
  expect(err.name).toBe('InvalidAccessKeyId');
  expect(err.$metadata.httpStatusCode).toBe(403);
});

test('clock skew over 15 minutes -> 403 RequestTimeTooSkewed', async () => {
  const res = await rawRequest(gw.url, { method: 'GET', path: `/${Bucket}/secret.txt`, signingDate: new Date(Date.now() - 20 * 60_000) });
  expect(res.status).toBe(403);
  expect(res.body).toContain('<Code>RequestTimeTooSkewed</Code>');
});

test('presigned GET works; an expired one is 403; a tampered one is 403', async () => {
  const s3 = gw.client();
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'secret.txt' }), { expiresIn: 60 });
  const ok = await fetch(url);
  expect(ok.status).toBe(200);
  expect(await ok.text()).toBe('classified');

  const expired = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'secret.txt' }), {
    expiresIn: 60,
    signingDate: new Date(Date.now() - 5 * 60_000),
  });
  const res = await fetch(expired);
  expect(res.status).toBe(403);
  expect(await res.text()).toMatch(/<Code>AccessDenied<\/Code><Message>Request has expired/);

  const tampered = await fetch(url.replace('secret.txt', 'secret.txt2'));
  expect(tampered.status).toBe(403);
  expect(await tampered.text()).toContain('SignatureDoesNotMatch');
});

test('presigned PUT uploads', async () => {
  const url = await getSignedUrl(gw.client(), new PutObjectCommand({ Bucket, Key: 'presigned-put.txt' }), { expiresIn: 60 });
  const res = await fetch(url, { method: 'PUT', body: 'via presigned url' });
  expect(res.status).toBe(200);
  const got = await gw.client().send(new GetObjectCommand({ Bucket, Key: 'presigned-put.txt' }));
  expect((await bodyBytes(got.Body)).toString()).toBe('via presigned url');
});

async function chunkedPut(key: string, chunks: Buffer[], tamper?: (body: Buffer) => Buffer) {
  const date = new Date();
  const decoded = chunks.reduce((n, c) => n + c.length, 0);
  const { path: target, headers } = await signRequest(gw.url, {
    method: 'PUT',
    path: `/${Bucket}/${key}`,
    signingDate: date,
    headers: {
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': String(decoded),
    },
  });
  const seed = /Signature=([0-9a-f]{64})/.exec(headers.authorization)![1];
  let body = await encodeSignedChunks(chunks, { seed, date, region: 'us-east-1', credentials: ADMIN });
  if (tamper) body = tamper(body);
  return send(target, 'PUT', { ...headers, 'content-length': String(body.length) }, body);
}

test('signed aws-chunked upload: framing stripped, bytes stored exactly', async () => {
  const chunks = [randomBytes(65536), randomBytes(65536), randomBytes(10)];
  const res = await chunkedPut('chunked.bin', chunks);
  expect(res.status).toBe(200);
  const got = await gw.client().send(new GetObjectCommand({ Bucket, Key: 'chunked.bin' }));
  expect((await bodyBytes(got.Body)).equals(Buffer.concat(chunks))).toBe(true);
  expect(got.ContentEncoding).toBeUndefined();
});

test('tampered aws-chunked chunk -> 403 and no object stored', async () => {
  const chunks = [Buffer.alloc(65536, 1), Buffer.alloc(65536, 2)];
  const res = await chunkedPut('tampered.bin', chunks, (body) => {
    const copy = Buffer.from(body);
    copy[copy.length - 200] ^= 0xff; // a byte inside the second chunk's data
    return copy;
  });
  expect(res.status).toBe(403);
  expect(res.body).toContain('<Code>SignatureDoesNotMatch</Code>');
  expect(await errorCode(gw.client().send(new HeadObjectCommand({ Bucket, Key: 'tampered.bin' })))).toBe('NotFound');
});

test('STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer is verified and stored', async () => {
  const data = randomBytes(100_000);
  const crc = createChecksum('CRC32');
  crc.update(data);
  const value = await crc.digestBase64();
  const put = async (key: string, trailerValue: string) => {
    const body = encodeUnsignedChunks([data.subarray(0, 60_000), data.subarray(60_000)], { name: 'x-amz-checksum-crc32', value: trailerValue });
    const { path: target, headers } = await signRequest(gw.url, {
      method: 'PUT',
      path: `/${Bucket}/${key}`,
      headers: {
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(data.length),
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
    });
    return send(target, 'PUT', { ...headers, 'content-length': String(body.length) }, body);
  };
  expect((await put('trailer.bin', value)).status).toBe(200);
  const head = await gw.client().send(new HeadObjectCommand({ Bucket, Key: 'trailer.bin', ChecksumMode: 'ENABLED' }));
  expect(head.ChecksumCRC32).toBe(value);
  expect(head.ContentLength).toBe(data.length);

  const bad = await put('trailer-bad.bin', 'AAAAAA==');
  expect(bad.status).toBe(400);
  expect(bad.body).toContain('<Code>BadDigest</Code>');
  expect(await errorCode(gw.client().send(new HeadObjectCommand({ Bucket, Key: 'trailer-bad.bin' })))).toBe('NotFound');
});

test('the SDK default (flexible checksums on a stream) round-trips', async () => {
  const { Readable } = await import('node:stream');
  const data = randomBytes(300_000);
  await gw.client().send(new PutObjectCommand({ Bucket, Key: 'sdk-stream.bin', Body: Readable.from([data]), ContentLength: data.length }));
  const got = await gw.client().send(new GetObjectCommand({ Bucket, Key: 'sdk-stream.bin' }));
  expect((await bodyBytes(got.Body)).equals(data)).toBe(true);
});

test('signed payload hash (x-amz-content-sha256 = hex) is checked against the body', async () => {
  const { path: target, headers } = await signRequest(gw.url, {
    method: 'PUT',
    path: `/${Bucket}/hashed.txt`,
    headers: { 'x-amz-content-sha256': require('node:crypto').createHash('sha256').update('original').digest('hex') },
    body: 'original',
  });
  const bad = await send(target, 'PUT', { ...headers, 'content-length': '8' }, Buffer.from('modified'));
  expect(bad.status).toBe(400);
  expect(bad.body).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
  expect(await errorCode(gw.client().send(new HeadObjectCommand({ Bucket, Key: 'hashed.txt' })))).toBe('NotFound');
  const good = await send(target, 'PUT', { ...headers, 'content-length': '8' }, Buffer.from('original'));
  expect(good.status).toBe(200);
});

test('anonymous: read of an anonymousRead mount works, everything else is AccessDenied', async () => {
  const ok = await fetch(`${gw.url}/public-data/docs/readme.txt`);
  expect(ok.status).toBe(200);
  expect(await ok.text()).toBe('public text');
  const list = await fetch(`${gw.url}/public-data?list-type=2`);
  expect(await list.text()).toContain('<Key>docs/readme.txt</Key>');
  const put = await fetch(`${gw.url}/public-data/new.txt`, { method: 'PUT', body: 'x', headers: { 'content-length': '1' } });
  expect(put.status).toBe(403);
  expect(await put.text()).toContain('<Code>AccessDenied</Code>');
  const privateRead = await fetch(`${gw.url}/${Bucket}/secret.txt`);
  expect(privateRead.status).toBe(403);
  expect(await privateRead.text()).not.toContain('classified');
});

test('virtual-hosted-style requests resolve the bucket from the Host header', async () => {
  const vgw = await startTestGateway({ server: { host: '127.0.0.1', port: 0, baseDomain: 's3.test' } });
  try {
    await vgw.client().send(new CreateBucketCommand({ Bucket: 'vhost' }));
    const host = `vhost.s3.test:${vgw.port}`;
    const put = await rawRequest(vgw.url, { method: 'PUT', path: '/dir/v.txt', headers: { host }, body: 'virtual' });
    expect(put.status).toBe(200);
    const get = await rawRequest(vgw.url, { method: 'GET', path: '/dir/v.txt', headers: { host } });
    expect(get.body).toBe('virtual');
    const list = await rawRequest(vgw.url, { method: 'GET', path: '/', query: { 'list-type': '2' }, headers: { host } });
    expect(list.body).toContain('<Name>vhost</Name>');
    expect(list.body).toContain('<Key>dir/v.txt</Key>');
    const pathStyle = await vgw.client().send(new GetObjectCommand({ Bucket: 'vhost', Key: 'dir/v.txt' }));
    expect((await bodyBytes(pathStyle.Body)).toString()).toBe('virtual');
  } finally {
    await vgw.close();
  }
});

test('metrics and health on the reserved /_ringcache/ prefix', async () => {
  const health = await fetch(`${gw.url}/_ringcache/healthz`);
  expect(health.status).toBe(200);
  expect(await health.json()).toMatchObject({ status: 'ok' });
  const metrics = await (await fetch(`${gw.url}/_ringcache/metrics`)).text();
  expect(metrics).toMatch(/ringcache_s3_requests_total\{op="GetObject",status="200"\} \d+/);
  expect(metrics).toMatch(/ringcache_s3_requests_total\{op="GetObject",status="403"\} \d+/);
  expect(metrics).toMatch(/ringcache_s3_request_duration_seconds_bucket\{le="[^"]+",op="PutObject"\}/);
  expect(metrics).toMatch(/ringcache_s3_bytes_total\{op="PutObject",direction="in"\} [1-9]/);
  expect(metrics).toMatch(/ringcache_s3_bytes_total\{op="GetObject",direction="out"\} [1-9]/);
});
