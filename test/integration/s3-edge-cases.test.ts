/** Behaviours found in review that S3 clients depend on. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { bodyBytes, errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';
import { rawRequest } from '../helpers/raw-request';
import { parseConfig } from '../../src/config/load-config';
import { buildApp } from '../../src/app';

let gw: TestGateway;
const Bucket = 'edges';
let publicRoot: string;
beforeAll(async () => {
  publicRoot = await mkdtemp(path.join(os.tmpdir(), 'ringcache-pub-'));
  await writeFile(path.join(publicRoot, 'page.html'), '<script>alert(1)</script>');
  gw = await startTestGateway({
    server: { host: '127.0.0.1', port: 0, maxPutSize: 100_000 },
    mounts: { 'public-edge': { uri: pathToFileURL(publicRoot).href, anonymousRead: true } },
  });
  await gw.client().send(new CreateBucketCommand({ Bucket }));
});
afterAll(async () => {
  await gw.close();
  await rm(publicRoot, { recursive: true, force: true });
});

test('DeleteObjects keeps keys byte-exact (trailing space is part of the key)', async () => {
  const s3 = gw.client();
  await s3.send(new PutObjectCommand({ Bucket, Key: 'keep', Body: 'a' }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'keep ', Body: 'b' }));
  await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'keep ' }] } }));
  expect(await errorCode(s3.send(new HeadObjectCommand({ Bucket, Key: 'keep' })))).toBe('ok');
  expect(await errorCode(s3.send(new HeadObjectCommand({ Bucket, Key: 'keep ' })))).toBe('NotFound');
});

test('the size limit counts the bytes that arrive, with or without honest headers', async () => {
  const big = Buffer.alloc(150_000, 1);
  const chunked = await rawRequest(gw.url, { method: 'PUT', path: `/${Bucket}/too-big-chunked`, headers: { 'transfer-encoding': 'chunked' }, body: big });
  expect(chunked.body).toContain('<Code>EntityTooLarge</Code>');
  const lying = await rawRequest(gw.url, { method: 'PUT', path: `/${Bucket}/too-big-lying`, headers: { 'x-amz-decoded-content-length': '1' }, body: big });
  expect(lying.body).toContain('<Code>EntityTooLarge</Code>');
  expect(await errorCode(gw.client().send(new HeadObjectCommand({ Bucket, Key: 'too-big-chunked' })))).toBe('NotFound');
});

test('response overrides: UTF-8 filenames work, anonymous requests may not use them', async () => {
  const s3 = gw.client();
  await s3.send(new PutObjectCommand({ Bucket, Key: 'doc.bin', Body: 'x' }));
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'doc.bin', ResponseContentDisposition: 'attachment; filename="日本.txt"' }));
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(Buffer.from(res.headers.get('content-disposition') ?? '', 'latin1').toString('utf8')).toBe('attachment; filename="日本.txt"');
  const anonymous = await fetch(`${gw.url}/public-edge/page.html?response-content-type=text/html`);
  expect(anonymous.status).toBe(400);
  expect(await anonymous.text()).toContain('<Code>InvalidRequest</Code>');
});

test('anonymous access is limited to reading and listing objects', async () => {
  expect((await fetch(`${gw.url}/public-edge/page.html`)).status).toBe(200);
  expect((await fetch(`${gw.url}/public-edge?list-type=2`)).status).toBe(200);
  expect((await fetch(`${gw.url}/public-edge?uploads`)).status).toBe(403);
  expect((await fetch(`${gw.url}/public-edge?acl`)).status).toBe(403);
});

test('304 Not Modified carries the ETag and Last-Modified', async () => {
  const s3 = gw.client();
  const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'etag304', Body: 'x' }));
  const res = await rawRequest(gw.url, { method: 'GET', path: `/${Bucket}/etag304`, headers: { 'if-none-match': put.ETag as string } });
  expect(res.status).toBe(304);
  expect(res.headers.etag).toBe(put.ETag);
  expect(res.headers['last-modified']).toBeTruthy();
});

test('GET partNumber=1 of a single-PUT object is 206 with Content-Range; parts count only with partNumber', async () => {
  const s3 = gw.client();
  await s3.send(new PutObjectCommand({ Bucket, Key: 'single', Body: '0123456789' }));
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'single', PartNumber: 1 }));
  expect(got.$metadata.httpStatusCode).toBe(206);
  expect(got.ContentRange).toBe('bytes 0-9/10');
  expect(got.PartsCount).toBe(1);
  expect((await bodyBytes(got.Body)).toString()).toBe('0123456789');
  expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'single' }))).PartsCount).toBeUndefined();
});

test('conditional writes: If-None-Match: * creates only once; If-Match replaces only that version', async () => {
  const s3 = gw.client();
  const first = await s3.send(new PutObjectCommand({ Bucket, Key: 'lock', Body: 'one', IfNoneMatch: '*' }));
  expect(await errorCode(s3.send(new PutObjectCommand({ Bucket, Key: 'lock', Body: 'two', IfNoneMatch: '*' })))).toBe('PreconditionFailed');
  expect(await errorCode(s3.send(new PutObjectCommand({ Bucket, Key: 'lock', Body: 'two', IfMatch: '"0000"' })))).toBe('PreconditionFailed');
  await s3.send(new PutObjectCommand({ Bucket, Key: 'lock', Body: 'three', IfMatch: first.ETag }));
  expect((await bodyBytes((await s3.send(new GetObjectCommand({ Bucket, Key: 'lock' }))).Body)).toString()).toBe('three');
});

test('CompleteMultipartUpload retried after success answers the same result', async () => {
  const s3 = gw.client();
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'retry' }));
  const part = await s3.send(new UploadPartCommand({ Bucket, Key: 'retry', UploadId, PartNumber: 1, Body: 'only part' }));
  const complete = () => s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'retry', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
  const a = await complete();
  const b = await complete();
  expect(b.ETag).toBe(a.ETag);
});

test('ListMultipartUploads pages through several uploads of one key exactly once', async () => {
  const s3 = gw.client();
  const created: string[] = [];
  for (const Key of ['mpu/a', 'mpu/a', 'mpu/a', 'mpu/b', 'mpu/b', 'mpu/c']) {
    created.push((await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }))).UploadId as string);
  }
  const seen: string[] = [];
  let KeyMarker: string | undefined;
  let UploadIdMarker: string | undefined;
  for (;;) {
    const page = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: 'mpu/', MaxUploads: 2, KeyMarker, UploadIdMarker }));
    seen.push(...(page.Uploads ?? []).map((u) => u.UploadId as string));
    if (!page.IsTruncated) break;
    KeyMarker = page.NextKeyMarker;
    UploadIdMarker = page.NextUploadIdMarker;
  }
  expect([...seen].sort()).toEqual([...created].sort());
  expect(new Set(seen).size).toBe(seen.length);
});

test('SSE-C, object lock and tagging headers are refused, never silently ignored', async () => {
  const s3 = gw.client();
  const ssec = await s3
    .send(new PutObjectCommand({ Bucket, Key: 'ssec', Body: 'x', SSECustomerAlgorithm: 'AES256', SSECustomerKey: 'k'.repeat(32) }))
    .catch((e) => e);
  expect(ssec.name).toBe('NotImplemented');
  expect(await errorCode(s3.send(new PutObjectCommand({ Bucket, Key: 'tagged', Body: 'x', Tagging: 'a=b' })))).toBe('NotImplemented');
  expect(await errorCode(s3.send(new HeadObjectCommand({ Bucket, Key: 'ssec' })))).toBe('NotFound');
});

test('keys the store cannot hold: reads are NoSuchKey, deletes succeed, writes are InvalidObjectName', async () => {
  const s3 = gw.client();
  expect(await errorCode(s3.send(new HeadObjectCommand({ Bucket, Key: 'a//b' })))).toBe('NotFound');
  expect((await s3.send(new DeleteObjectCommand({ Bucket, Key: 'a//b' }))).$metadata.httpStatusCode).toBe(204);
  const bulk = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'x//y' }] } }));
  expect(bulk.Errors ?? []).toEqual([]);
  expect(await errorCode(s3.send(new PutObjectCommand({ Bucket, Key: 'a//b', Body: 'x' })))).toBe('InvalidObjectName');
});

test('a PUT with uploadId but no partNumber never overwrites the object', async () => {
  const res = await rawRequest(gw.url, { method: 'PUT', path: `/${Bucket}/victim`, query: { uploadId: 'abc' }, body: 'part bytes' });
  expect(res.status).toBe(400);
  expect(res.body).toContain('<Code>InvalidArgument</Code>');
});

test('CreateBucket over an existing file name is 409, not 500', async () => {
  await writeFile(path.join(gw.dataDir, 'afile'), 'not a folder');
  expect(await errorCode(gw.client().send(new CreateBucketCommand({ Bucket: 'afile' })))).toBe('BucketAlreadyOwnedByYou');
});

test('nested local roots are refused at start', async () => {
  const outer = await mkdtemp(path.join(os.tmpdir(), 'ringcache-outer-'));
  const config = parseConfig({
    mounts: { outer: { uri: pathToFileURL(outer).href }, inner: { uri: pathToFileURL(path.join(outer, 'sub')).href } },
    credentials: [{ accessKeyId: 'abc', secretAccessKey: 'abcdefgh' }],
    // Never ./cache or ./jobs of the working tree.
    cache: { disk: { path: path.join(outer, 'cache') } },
    jobs: { stateDir: path.join(outer, 'jobs') },
  });
  try {
    await expect(buildApp({ config, logger: false })).rejects.toThrow(/must not nest/);
  } finally {
    await rm(outer, { recursive: true, force: true });
  }
});

test('listing still works after all of the above', async () => {
  const res = await gw.client().send(new ListObjectsV2Command({ Bucket, Prefix: 'lock' }));
  expect(res.Contents?.map((c) => c.Key)).toEqual(['lock']);
});
