/**
 * The holder of a presigned URL may add headers to the request, but none that widens what the
 * signer allowed: an unsigned x-amz-copy-source would turn a presigned PUT into a copy of any
 * object the signer can read, an unsigned x-amz-meta-* would add metadata. Every x-amz-* header
 * must be signed, but the payload and checksum declarations (they only constrain the body).
 */
import http from 'node:http';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { bodyBytes, errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';

const Bucket = 'presigned';
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
  const s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'secret.txt', Body: 'the signer can read this' }));
});
afterAll(() => gw.close());

function put(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: target.hostname, port: target.port, method: 'PUT', path: target.pathname + target.search, headers: { 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

const presignedPut = (Key: string, extra: Partial<ConstructorParameters<typeof PutObjectCommand>[0]> = {}) =>
  getSignedUrl(gw.client(), new PutObjectCommand({ Bucket, Key, ...extra }), { expiresIn: 600 });

test('an unsigned x-amz-copy-source on a presigned PUT is refused, and nothing is copied', async () => {
  const url = await presignedPut('target.txt');
  const answer = await put(url, '', { 'x-amz-copy-source': `/${Bucket}/secret.txt` });
  expect(answer.status).toBe(403);
  expect(answer.body).toContain('<Code>AccessDenied</Code>');
  expect(await errorCode(gw.client().send(new HeadObjectCommand({ Bucket, Key: 'target.txt' })))).toBe('NotFound');
});

test('an unsigned x-amz-meta-* on a presigned PUT is refused', async () => {
  const url = await presignedPut('meta.txt');
  expect((await put(url, 'data', { 'x-amz-meta-role': 'admin' })).status).toBe(403);
  expect(await errorCode(gw.client().send(new HeadObjectCommand({ Bucket, Key: 'meta.txt' })))).toBe('NotFound');
});

test('metadata the signer signed as a header is accepted', async () => {
  const url = await getSignedUrl(gw.client(), new PutObjectCommand({ Bucket, Key: 'signed-meta.txt', Metadata: { role: 'reader' } }), {
    expiresIn: 600,
    unhoistableHeaders: new Set(['x-amz-meta-role']),
  });
  const answer = await put(url, 'data', { 'x-amz-meta-role': 'reader' });
  expect(answer.status).toBe(200);
  const head = await gw.client().send(new HeadObjectCommand({ Bucket, Key: 'signed-meta.txt' }));
  expect(head.Metadata).toEqual({ role: 'reader' });
});

test('metadata the presigner moved into the query applies, as S3 applies it', async () => {
  const url = await getSignedUrl(gw.client(), new PutObjectCommand({ Bucket, Key: 'hoisted-meta.txt', Metadata: { role: 'reader', team: 'data lake' } }), { expiresIn: 600 });
  expect(new URL(url).searchParams.get('x-amz-meta-role')).toBe('reader');
  const answer = await put(url, 'data', {});
  expect(answer.status).toBe(200);
  const head = await gw.client().send(new HeadObjectCommand({ Bucket, Key: 'hoisted-meta.txt' }));
  expect(head.Metadata).toEqual({ role: 'reader', team: 'data lake' });
  // Changing a hoisted value breaks the signature.
  const changed = url.replace('x-amz-meta-role=reader', 'x-amz-meta-role=admin');
  expect((await put(changed, 'data', {})).status).toBe(403);
});

test('a hoisted header Ringcache cannot honour is refused as the header is, and nothing is stored', async () => {
  const url = await getSignedUrl(gw.client(), new PutObjectCommand({ Bucket, Key: 'hoisted-sse.txt', ServerSideEncryption: 'aws:kms' }), {
    expiresIn: 600,
    hoistableHeaders: new Set(['x-amz-server-side-encryption']),
  });
  expect(new URL(url).searchParams.get('x-amz-server-side-encryption')).toBe('aws:kms');
  const answer = await put(url, 'data', {});
  expect(answer.status).toBe(501);
  expect(answer.body).toContain('NotImplemented');
  expect(await errorCode(gw.client().send(new HeadObjectCommand({ Bucket, Key: 'hoisted-sse.txt' })))).toBe('NotFound');
});

test('an unsigned checksum header only constrains the body: a right one is accepted, a wrong one refused', async () => {
  const url = await presignedPut('checksummed.txt');
  const { crc32 } = await import('node:zlib');
  const good = Buffer.alloc(4);
  good.writeUInt32BE(crc32(Buffer.from('data')) >>> 0);
  expect((await put(url, 'data', { 'x-amz-checksum-crc32': good.toString('base64') })).status).toBe(200);
  expect((await put(url, 'data', { 'x-amz-checksum-crc32': 'AAAAAA==' })).status).toBe(400);
  expect((await bodyBytes((await gw.client().send(new GetObjectCommand({ Bucket, Key: 'checksummed.txt' }))).Body)).toString()).toBe('data');
});
