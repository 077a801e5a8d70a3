/**
 * S3 behaviours real applications rely on (issue #15, the smaller ones): Expect handling, any
 * Content-Type stored as sent, non-ASCII user metadata, CreateBucket of a bucket you own,
 * ListBuckets pagination, anonymous requests for buckets that do not exist, the UploadPartCopy
 * range error.
 */
import http from 'node:http';
import net from 'node:net';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  GetObjectAttributesCommand,
  UploadPartCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';
import { signRequest } from '../helpers/raw-request';

const Bucket = 'compat';
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
  await gw.client().send(new CreateBucketCommand({ Bucket }));
  await gw.client().send(new PutObjectCommand({ Bucket, Key: 'src.txt', Body: 'source bytes' }));
});
afterAll(() => gw.close());

interface Exchange {
  continued: boolean;
  status: number;
  text: string;
}

/** A PUT with `Expect: 100-continue` over a raw socket: did the server invite the body, and what did it answer? */
async function putExpecting(headers: Record<string, string>, path: string, body: string): Promise<Exchange> {
  const socket = net.connect(gw.port, '127.0.0.1');
  const lines = Object.entries({ ...headers, host: `127.0.0.1:${gw.port}`, 'content-length': String(Buffer.byteLength(body)), expect: '100-continue' }).map(([k, v]) => `${k}: ${v}`);
  socket.write(`PUT ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
  let received = '';
  let continued = false;
  return new Promise<Exchange>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer; got so far: ${received}`)), 10_000);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (!continued && received.startsWith('HTTP/1.1 100')) {
        continued = true;
        received = received.slice(received.indexOf('\r\n\r\n') + 4);
        socket.write(body);
      }
      const status = /^HTTP\/1\.1 (\d{3})/.exec(received);
      const end = received.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(received);
      if (status && end >= 0 && status[1] !== '100' && (!length || received.length >= end + 4 + Number(length[1]))) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ continued, status: Number(status[1]), text: received });
      }
    });
    socket.on('error', reject);
  });
}

describe('Expect', () => {
  it('100-continue is answered for a signed request allowed to write, and the upload completes', async () => {
    const { path, headers } = await signRequest(gw.url, { method: 'PUT', path: `/${Bucket}/continued.txt`, headers: { expect: '100-continue' } });
    const answer = await putExpecting(headers, path, 'hello');
    expect(answer).toMatchObject({ continued: true, status: 200 });
  });

  it('an unsigned upload gets its 403 without the body being invited', async () => {
    const answer = await putExpecting({}, `/${Bucket}/refused.txt`, 'hello');
    expect(answer.continued).toBe(false);
    expect(answer.status).toBe(403);
    expect(answer.text).toContain('<Code>AccessDenied</Code>');
  });

  it('a read-only key is refused without the body being invited', async () => {
    const { path, headers } = await signRequest(gw.url, { method: 'PUT', path: `/${Bucket}/reader.txt`, headers: { expect: '100-continue' }, credentials: { accessKeyId: 'test-reader', secretAccessKey: 'test-reader-secret' } });
    const answer = await putExpecting(headers, path, 'hello');
    expect(answer).toMatchObject({ continued: false, status: 403 });
  });

  it.each(['', 'something-else'])('an Expect of "%s" is ignored, as S3 does (no 417)', async (value) => {
    const { path, headers } = await signRequest(gw.url, { method: 'PUT', path: `/${Bucket}/expect-${value || 'empty'}.txt`, body: 'data' });
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: gw.port, method: 'PUT', path, headers: { ...headers, expect: value } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end('data');
    });
    expect(status).toBe(200);
  });
});

describe.each(['', 'foo', 'weird value', 'text/plain; charset=utf-8'])('Content-Type "%s"', (contentType) => {
  it('is stored as sent and returned', async () => {
    const Key = `ct-${Buffer.from(contentType).toString('hex') || 'empty'}.txt`;
    const { path, headers } = await signRequest(gw.url, { method: 'PUT', path: `/${Bucket}/${Key}`, headers: { 'content-type': contentType }, body: 'x' });
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: gw.port, method: 'PUT', path, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end('x');
    });
    expect(status).toBe(200);
    const head = await gw.client().send(new HeadObjectCommand({ Bucket, Key }));
    expect(head.ContentType).toBe(contentType);
  });
});

test('non-ASCII user metadata: the signature covers the bytes sent, the value is kept and returned RFC 2047 encoded', async () => {
  const value = 'café – 東京';
  const { path, headers } = await signRequest(gw.url, { method: 'PUT', path: `/${Bucket}/meta.txt`, headers: { 'x-amz-meta-place': value }, body: 'x' });
  // On the wire the value is its UTF-8 bytes (Node writes header strings as latin1: one char per byte).
  const wire = { ...headers, 'x-amz-meta-place': Buffer.from(value, 'utf8').toString('latin1') };
  const [status, text] = await new Promise<[number, string]>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: gw.port, method: 'PUT', path, headers: wire }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve([res.statusCode ?? 0, body]));
    });
    req.on('error', reject);
    // A Buffer body: Node writes a string body together with the header block in the body's
    // encoding (UTF-8), which would re-encode the header's latin1 characters.
    req.end(Buffer.from('x'));
  });
  expect([status, text]).toEqual([200, '']);
  const head = await gw.client().send(new HeadObjectCommand({ Bucket, Key: 'meta.txt' }));
  expect(head.Metadata?.place).toBe(`=?UTF-8?B?${Buffer.from(value).toString('base64')}?=`);
});

test('CreateBucket of a bucket you own answers 200 in us-east-1 and leaves it as it was', async () => {
  await gw.client().send(new PutObjectCommand({ Bucket, Key: 'kept.txt', Body: 'still here' }));
  await gw.client().send(new CreateBucketCommand({ Bucket }));
  expect((await gw.client().send(new HeadObjectCommand({ Bucket, Key: 'kept.txt' }))).ContentLength).toBe(10);
});

test('ListBuckets pages with max-buckets and continuation-token, and filters by prefix', async () => {
  for (const name of ['page-a', 'page-b', 'page-c']) await gw.client().send(new CreateBucketCommand({ Bucket: name }));
  const first = await gw.client().send(new ListBucketsCommand({ MaxBuckets: 2, Prefix: 'page-' }));
  expect(first.Buckets?.map((b) => b.Name)).toEqual(['page-a', 'page-b']);
  expect(first.ContinuationToken).toBeDefined();
  expect(first.Prefix).toBe('page-');
  const second = await gw.client().send(new ListBucketsCommand({ MaxBuckets: 2, Prefix: 'page-', ContinuationToken: first.ContinuationToken }));
  expect(second.Buckets?.map((b) => b.Name)).toEqual(['page-c']);
  expect(second.ContinuationToken).toBeUndefined();
  expect(await errorCode(gw.client().send(new ListBucketsCommand({ MaxBuckets: 0 })))).toBe('InvalidArgument');
});

test('an anonymous request for a bucket that does not exist is 404 NoSuchBucket; for a private one 403', async () => {
  const status = (path: string): Promise<[number, string]> =>
    new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: gw.port, path }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve([res.statusCode ?? 0, /<Code>([^<]+)/.exec(text)?.[1] ?? '']));
        })
        .on('error', reject);
    });
  expect(await status('/no-such-bucket-here/key')).toEqual([404, 'NoSuchBucket']);
  expect(await status(`/${Bucket}/src.txt`)).toEqual([403, 'AccessDenied']);
});

test('UploadPartCopy with a range past the source is 400 InvalidArgument', async () => {
  const s3 = gw.client();
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'copied' }));
  expect(await errorCode(s3.send(new UploadPartCopyCommand({ Bucket, Key: 'copied', UploadId, PartNumber: 1, CopySource: `${Bucket}/src.txt`, CopySourceRange: 'bytes=0-999' })))).toBe('InvalidArgument');
});

describe('GetObjectAttributes', () => {
  it('answers ETag, ObjectSize, StorageClass and the stored checksum', async () => {
    const s3 = gw.client();
    const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'attrs.txt', Body: 'attribute bytes', ChecksumAlgorithm: 'SHA256' }));
    const attrs = await s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'attrs.txt', ObjectAttributes: ['ETag', 'ObjectSize', 'StorageClass', 'Checksum'] }));
    expect(attrs.ETag).toBe(put.ETag?.replace(/"/g, ''));
    expect(attrs.ObjectSize).toBe(15);
    expect(attrs.StorageClass).toBe('STANDARD');
    expect(attrs.Checksum?.ChecksumSHA256).toBe(put.ChecksumSHA256);
  });

  it('gives the part count of a multipart object without checksums, and no parts (as S3)', async () => {
    const s3 = gw.client();
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'parts.bin' }));
    const part = Buffer.alloc(5 * 1024 * 1024, 1);
    const parts = [];
    for (let n = 1; n <= 3; n++) {
      const { ETag } = await s3.send(new UploadPartCommand({ Bucket, Key: 'parts.bin', UploadId, PartNumber: n, Body: n === 3 ? Buffer.from('tail') : part }));
      parts.push({ PartNumber: n, ETag });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'parts.bin', UploadId, MultipartUpload: { Parts: parts } }));
    const first = await s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'parts.bin', ObjectAttributes: ['ObjectParts', 'ObjectSize'], MaxParts: 2 }));
    expect(first.ObjectSize).toBe(2 * part.length + 4);
    expect(first.ObjectParts).toEqual({ TotalPartsCount: 3 });
    // A single-request object has no ObjectParts at all.
    const single = await s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'attrs.txt', ObjectAttributes: ['ObjectParts', 'ObjectSize'] }));
    expect(single.ObjectParts).toBeUndefined();
  });

  it('refuses an unknown attribute and answers NoSuchKey for a missing object', async () => {
    const s3 = gw.client();
    expect(await errorCode(s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'attrs.txt', ObjectAttributes: ['Color' as 'ETag'] })))).toBe('InvalidArgument');
    expect(await errorCode(s3.send(new GetObjectAttributesCommand({ Bucket, Key: 'missing', ObjectAttributes: ['ETag'] })))).toBe('NoSuchKey');
  });
});
