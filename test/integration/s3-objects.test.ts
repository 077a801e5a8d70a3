import { createHash, randomBytes } from 'node:crypto';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { bodyBytes, errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';

let gw: TestGateway;
const Bucket = 'objects';
beforeAll(async () => {
  gw = await startTestGateway();
  await gw.client().send(new CreateBucketCommand({ Bucket }));
});
afterAll(() => gw.close());

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');

test('PUT then GET and HEAD return the bytes, ETag = MD5, and every stored header', async () => {
  const s3 = gw.client();
  const body = randomBytes(100_000);
  const put = await s3.send(
    new PutObjectCommand({
      Bucket,
      Key: 'docs/report.bin',
      Body: body,
      ContentType: 'application/x-report',
      ContentEncoding: 'identity',
      ContentDisposition: 'attachment; filename="report.bin"',
      ContentLanguage: 'en',
      CacheControl: 'max-age=60',
      Metadata: { owner: 'alice', 'project-id': '42' },
    }),
  );
  expect(put.ETag).toBe(`"${md5(body)}"`);

  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'docs/report.bin' }));
  expect(head).toMatchObject({
    ContentLength: body.length,
    ETag: put.ETag,
    ContentType: 'application/x-report',
    ContentEncoding: 'identity',
    ContentDisposition: 'attachment; filename="report.bin"',
    ContentLanguage: 'en',
    CacheControl: 'max-age=60',
    Metadata: { owner: 'alice', 'project-id': '42' },
    AcceptRanges: 'bytes',
  });
  expect(head.LastModified).toBeInstanceOf(Date);

  const get = await s3.send(new GetObjectCommand({ Bucket, Key: 'docs/report.bin' }));
  expect((await bodyBytes(get.Body)).equals(body)).toBe(true);
  expect(get.ETag).toBe(put.ETag);
});

test('default content type is binary/octet-stream; empty objects work', async () => {
  const s3 = gw.client();
  await s3.send(new PutObjectCommand({ Bucket, Key: 'empty', Body: '', ContentLength: 0 }));
  const get = await s3.send(new GetObjectCommand({ Bucket, Key: 'empty' }));
  expect(get.ContentLength).toBe(0);
  expect((await bodyBytes(get.Body)).length).toBe(0);
  expect(get.ETag).toBe(`"${md5('')}"`);
});

test('keys with spaces, unicode, +, %, =, & round-trip through PUT, GET and listing', async () => {
  const s3 = gw.client();
  const keys = ['odd/a b.txt', 'odd/ünïcødé €.txt', 'odd/1+1=2.txt', 'odd/100%.txt', 'odd/a&b=c.txt', 'odd/😀/smile', 'odd/tilde~x'];
  for (const Key of keys) await s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
  for (const Key of keys) {
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    expect((await bodyBytes(got.Body)).toString()).toBe(Key);
  }
  const listed = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'odd/' }));
  expect(listed.Contents?.map((c) => c.Key)).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
});

test('ranges: a-b, a-, -n with 206 and Content-Range; unsatisfiable is 416 InvalidRange', async () => {
  const s3 = gw.client();
  const body = Buffer.from('0123456789abcdefghij');
  await s3.send(new PutObjectCommand({ Bucket, Key: 'range.txt', Body: body }));
  const cases: [string, string, string][] = [
    ['bytes=0-3', '0123', 'bytes 0-3/20'],
    ['bytes=15-', 'fghij', 'bytes 15-19/20'],
    ['bytes=-4', 'ghij', 'bytes 16-19/20'],
    ['bytes=18-100', 'ij', 'bytes 18-19/20'],
  ];
  for (const [Range, text, contentRange] of cases) {
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'range.txt', Range }));
    expect(got.$metadata.httpStatusCode).toBe(206);
    expect(got.ContentRange).toBe(contentRange);
    expect(got.ContentLength).toBe(text.length);
    expect((await bodyBytes(got.Body)).toString()).toBe(text);
  }
  expect(await errorCode(s3.send(new GetObjectCommand({ Bucket, Key: 'range.txt', Range: 'bytes=20-' })))).toBe('InvalidRange');
  const raw = await s3.send(new GetObjectCommand({ Bucket, Key: 'range.txt', Range: 'bytes=0-0' }));
  expect((await bodyBytes(raw.Body)).toString()).toBe('0');
});

test('conditional GET: If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since', async () => {
  const s3 = gw.client();
  const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'cond.txt', Body: 'conditional' }));
  const future = new Date(Date.now() + 3600_000);
  const past = new Date(Date.now() - 3600_000);
  const get = (extra: Record<string, unknown>) =>
    s3.send(new GetObjectCommand({ Bucket, Key: 'cond.txt', ...extra })).then(
      () => 'ok',
      (err) => (err.$metadata?.httpStatusCode === 304 ? '304' : err.name),
    );
  expect(await get({ IfMatch: put.ETag })).toBe('ok');
  expect(await get({ IfMatch: '"nope"' })).toBe('PreconditionFailed');
  expect(await get({ IfNoneMatch: put.ETag })).toBe('304');
  expect(await get({ IfNoneMatch: '"nope"' })).toBe('ok');
  expect(await get({ IfModifiedSince: future })).toBe('304');
  expect(await get({ IfModifiedSince: past })).toBe('ok');
  expect(await get({ IfUnmodifiedSince: past })).toBe('PreconditionFailed');
  expect(await get({ IfUnmodifiedSince: future })).toBe('ok');
  // HEAD errors have no body, so the SDK only sees the status.
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'cond.txt', IfMatch: '"nope"' })).catch((e) => e);
  expect(head.$metadata.httpStatusCode).toBe(412);
});

test('response-* overrides on GET', async () => {
  const s3 = gw.client();
  await s3.send(new PutObjectCommand({ Bucket, Key: 'override.txt', Body: 'x', ContentType: 'text/plain' }));
  const got = await s3.send(
    new GetObjectCommand({
      Bucket,
      Key: 'override.txt',
      ResponseContentType: 'application/json',
      ResponseContentDisposition: 'inline',
      ResponseCacheControl: 'no-cache',
      ResponseContentLanguage: 'fr',
      ResponseContentEncoding: 'identity',
      ResponseExpires: new Date('2030-01-01T00:00:00Z'),
    }),
  );
  expect(got).toMatchObject({
    ContentType: 'application/json',
    ContentDisposition: 'inline',
    CacheControl: 'no-cache',
    ContentLanguage: 'fr',
    ContentEncoding: 'identity',
  });
  await bodyBytes(got.Body);
});

test('Content-MD5 mismatch is BadDigest and stores nothing; a right one is accepted', async () => {
  const s3 = gw.client();
  const wrong = createHash('md5').update('something else').digest('base64');
  expect(await errorCode(s3.send(new PutObjectCommand({ Bucket, Key: 'md5.txt', Body: 'payload', ContentMD5: wrong })))).toBe('BadDigest');
  expect(await errorCode(s3.send(new HeadObjectCommand({ Bucket, Key: 'md5.txt' })))).toBe('NotFound');
  const right = createHash('md5').update('payload').digest('base64');
  await s3.send(new PutObjectCommand({ Bucket, Key: 'md5.txt', Body: 'payload', ContentMD5: right }));
  expect(await errorCode(s3.send(new PutObjectCommand({ Bucket, Key: 'md5.txt', Body: 'payload', ContentMD5: 'not-base64-md5' })))).toBe('InvalidDigest');
});

test.each(['CRC32', 'CRC32C', 'SHA1', 'SHA256', 'CRC64NVME'] as const)(
  'x-amz-checksum %s: verified, stored and returned with checksum mode',
  async (ChecksumAlgorithm) => {
    const s3 = gw.client();
    const Key = `checksum-${ChecksumAlgorithm}`;
    const body = randomBytes(70_000);
    const put = await s3.send(new PutObjectCommand({ Bucket, Key, Body: body, ChecksumAlgorithm }));
    const field = `Checksum${ChecksumAlgorithm}` as const;
    expect(put[field]).toBeTruthy();
    const head = await s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
    expect(head[field]).toBe(put[field]);
    const get = await s3.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
    expect((await bodyBytes(get.Body)).equals(body)).toBe(true);
  },
);

test('a wrong x-amz-checksum value is BadDigest and stores nothing', async () => {
  const res = await gw.client().send(new PutObjectCommand({ Bucket, Key: 'bad-crc', Body: 'abc', ChecksumCRC32: 'AAAAAA==' })).catch((e) => e);
  expect(res.name).toBe('BadDigest');
  expect(await errorCode(gw.client().send(new HeadObjectCommand({ Bucket, Key: 'bad-crc' })))).toBe('NotFound');
});

test('missing keys: GET is NoSuchKey, HEAD is 404 without body', async () => {
  const s3 = gw.client();
  const err = await s3.send(new GetObjectCommand({ Bucket, Key: 'missing' })).catch((e) => e);
  expect(err.name).toBe('NoSuchKey');
  expect(err.$metadata.httpStatusCode).toBe(404);
  expect(await errorCode(s3.send(new HeadObjectCommand({ Bucket, Key: 'missing' })))).toBe('NotFound');
  expect(await errorCode(s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'x' })))).toBe('NoSuchBucket');
});

test('CopyObject: COPY keeps metadata, REPLACE replaces it, self-copy needs REPLACE, copy-source conditions', async () => {
  const s3 = gw.client();
  const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'copy/src', Body: 'copy me', ContentType: 'text/plain', Metadata: { a: '1' } }));

  const copied = await s3.send(new CopyObjectCommand({ Bucket, Key: 'copy/dst', CopySource: `${Bucket}/copy/src` }));
  expect(copied.CopyObjectResult?.ETag).toBe(put.ETag);
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'copy/dst' }));
  expect(head).toMatchObject({ ContentType: 'text/plain', Metadata: { a: '1' } });

  await s3.send(
    new CopyObjectCommand({ Bucket, Key: 'copy/dst2', CopySource: `/${Bucket}/copy/src`, MetadataDirective: 'REPLACE', ContentType: 'text/x-new', Metadata: { b: '2' } }),
  );
  expect(await s3.send(new HeadObjectCommand({ Bucket, Key: 'copy/dst2' }))).toMatchObject({ ContentType: 'text/x-new', Metadata: { b: '2' } });

  expect(await errorCode(s3.send(new CopyObjectCommand({ Bucket, Key: 'copy/src', CopySource: `${Bucket}/copy/src` })))).toBe('InvalidRequest');
  await s3.send(new CopyObjectCommand({ Bucket, Key: 'copy/src', CopySource: `${Bucket}/copy/src`, MetadataDirective: 'REPLACE', Metadata: { c: '3' } }));
  const self = await s3.send(new GetObjectCommand({ Bucket, Key: 'copy/src' }));
  expect(self.Metadata).toEqual({ c: '3' });
  expect((await bodyBytes(self.Body)).toString()).toBe('copy me');

  const cond = (extra: Record<string, unknown>) =>
    errorCode(s3.send(new CopyObjectCommand({ Bucket, Key: 'copy/cond', CopySource: `${Bucket}/copy/src`, ...extra })));
  expect(await cond({ CopySourceIfMatch: '"nope"' })).toBe('PreconditionFailed');
  expect(await cond({ CopySourceIfNoneMatch: put.ETag })).toBe('PreconditionFailed');
  expect(await cond({ CopySourceIfUnmodifiedSince: new Date(Date.now() - 3600_000) })).toBe('PreconditionFailed');
  expect(await cond({ CopySourceIfModifiedSince: new Date(Date.now() + 3600_000) })).toBe('PreconditionFailed');
  expect(await cond({ CopySourceIfMatch: put.ETag })).toBe('ok');
  expect(await errorCode(s3.send(new CopyObjectCommand({ Bucket, Key: 'copy/x', CopySource: `${Bucket}/copy/missing` })))).toBe('NoSuchKey');
  const spaced = 'copy/with space+plus€';
  await s3.send(new PutObjectCommand({ Bucket, Key: spaced, Body: 'sp' }));
  await s3.send(new CopyObjectCommand({ Bucket, Key: 'copy/from-spaced', CopySource: encodeURIComponent(`${Bucket}/${spaced}`) }));
  expect((await bodyBytes((await s3.send(new GetObjectCommand({ Bucket, Key: 'copy/from-spaced' }))).Body)).toString()).toBe('sp');
});

test('copy between buckets', async () => {
  const s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'other' }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'xbucket', Body: 'across' }));
  await s3.send(new CopyObjectCommand({ Bucket: 'other', Key: 'landed', CopySource: `${Bucket}/xbucket` }));
  expect((await bodyBytes((await s3.send(new GetObjectCommand({ Bucket: 'other', Key: 'landed' }))).Body)).toString()).toBe('across');
});

test('DeleteObject is 204 also for a missing key', async () => {
  const s3 = gw.client();
  await s3.send(new PutObjectCommand({ Bucket, Key: 'del/one', Body: '1' }));
  const res = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'del/one' }));
  expect(res.$metadata.httpStatusCode).toBe(204);
  expect((await s3.send(new DeleteObjectCommand({ Bucket, Key: 'del/one' }))).$metadata.httpStatusCode).toBe(204);
  expect(await errorCode(s3.send(new HeadObjectCommand({ Bucket, Key: 'del/one' })))).toBe('NotFound');
});

test('DeleteObjects: deletes, quiet mode, per-key errors', async () => {
  const s3 = gw.client();
  for (const Key of ['multi/a', 'multi/b', 'multi/c']) await s3.send(new PutObjectCommand({ Bucket, Key, Body: Key }));
  const res = await s3.send(
    new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'multi/a' }, { Key: 'multi/b' }, { Key: 'multi/never' }, { Key: 'multi/c', VersionId: 'v7' }] } }),
  );
  expect(res.Deleted?.map((d) => d.Key).sort()).toEqual(['multi/a', 'multi/b', 'multi/never']);
  expect(res.Errors).toEqual([expect.objectContaining({ Key: 'multi/c', Code: 'NoSuchVersion' })]);

  const quiet = await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Quiet: true, Objects: [{ Key: 'multi/c' }] } }));
  expect(quiet.Deleted ?? []).toEqual([]);
  expect(quiet.Errors ?? []).toEqual([]);
  expect(await errorCode(s3.send(new HeadObjectCommand({ Bucket, Key: 'multi/c' })))).toBe('NotFound');
});

test('DeleteObjects with malformed XML is MalformedXML', async () => {
  const { SignatureV4 } = await import('@smithy/signature-v4');
  const { NodeSha256: Sha256 } = await import('../../src/s3/auth/sha256');
  const { HttpRequest } = await import('@smithy/protocol-http');
  const body = '<Delete><Object><Key>a</Key></Object>';
  const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: { accessKeyId: 'test-admin', secretAccessKey: 'test-admin-secret' }, sha256: Sha256, uriEscapePath: false });
  const url = new URL(gw.url);
  const signed = await signer.sign(
    new HttpRequest({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: `/${Bucket}`, query: { delete: '' }, headers: { host: url.host, 'content-type': 'application/xml' }, body }),
  );
  const res = await fetch(`${gw.url}/${Bucket}?delete`, { method: 'POST', headers: signed.headers as Record<string, string>, body });
  expect(res.status).toBe(400);
  const text = await res.text();
  expect(text).toContain('<Code>MalformedXML</Code>');
  expect(text).toContain('<RequestId>');
  expect(res.headers.get('x-amz-request-id')).toMatch(/^[0-9A-F]{16}$/);
});

test('folder markers are objects that list like S3', async () => {
  const s3 = gw.client();
  await s3.send(new PutObjectCommand({ Bucket, Key: 'tree/', Body: '', ContentLength: 0 }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'tree/leaf', Body: 'leaf' }));
  const listed = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: 'tree/' }));
  expect(listed.Contents?.map((c) => c.Key)).toEqual(['tree/', 'tree/leaf']);
  expect((await s3.send(new HeadObjectCommand({ Bucket, Key: 'tree/' }))).ContentLength).toBe(0);
});
