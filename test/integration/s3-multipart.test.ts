import { createHash, randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { bodyBytes, errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';
import { sweepAbandonedUploads } from '../../src/s3/multipart-sweeper';

let gw: TestGateway;
const Bucket = 'multi';
const MiB = 1024 * 1024;
beforeAll(async () => {
  gw = await startTestGateway();
  await gw.client().send(new CreateBucketCommand({ Bucket }));
});
afterAll(() => gw.close());

const md5 = (b: Buffer) => createHash('md5').update(b).digest();

test('create, upload parts, list parts, complete: ETag is md5-of-md5s-N, bytes and metadata intact', async () => {
  const s3 = gw.client();
  const Key = 'big/object.bin';
  const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1234)];
  const created = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType: 'application/x-big', Metadata: { origin: 'mpu' } }));
  const UploadId = created.UploadId as string;
  expect(UploadId).toBeTruthy();

  const etags: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const res = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: parts[i] }));
    expect(res.ETag).toBe(`"${md5(parts[i]).toString('hex')}"`);
    etags.push(res.ETag as string);
  }
  const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
  expect(listed.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual(parts.map((p, i) => [i + 1, p.length, etags[i]]));
  const paged = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId, MaxParts: 2 }));
  expect(paged.IsTruncated).toBe(true);
  expect(paged.NextPartNumberMarker).toBe('2');
  const rest = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId, PartNumberMarker: paged.NextPartNumberMarker }));
  expect(rest.Parts?.map((p) => p.PartNumber)).toEqual([3]);

  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket }));
  expect(uploads.Uploads?.map((u) => [u.Key, u.UploadId])).toContainEqual([Key, UploadId]);

  const done = await s3.send(
    new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
  );
  const expected = createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex');
  expect(done.ETag).toBe(`"${expected}-3"`);

  const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
  expect(head).toMatchObject({ ContentLength: 10 * MiB + 1234, ContentType: 'application/x-big', Metadata: { origin: 'mpu' }, ETag: done.ETag });
  const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
  expect((await bodyBytes(got.Body)).equals(Buffer.concat(parts))).toBe(true);

  const part2 = await s3.send(new GetObjectCommand({ Bucket, Key, PartNumber: 2 }));
  expect(part2.PartsCount).toBe(3);
  expect(part2.ContentRange).toBe(`bytes ${5 * MiB}-${10 * MiB - 1}/${10 * MiB + 1234}`);
  expect((await bodyBytes(part2.Body)).equals(parts[1])).toBe(true);
  expect(await errorCode(s3.send(new GetObjectCommand({ Bucket, Key, PartNumber: 4 })))).toBe('InvalidRange');

  expect((await s3.send(new ListMultipartUploadsCommand({ Bucket }))).Uploads ?? []).toEqual([]);
});

test('completion errors: InvalidPart, InvalidPartOrder, EntityTooSmall, NoSuchUpload', async () => {
  const s3 = gw.client();
  const Key = 'bad/mpu';
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
  const small = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 1) }));
  const second = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: Buffer.alloc(1024, 2) }));
  const complete = (Parts: { ETag?: string; PartNumber: number }[]) =>
    errorCode(s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } })));
  expect(await complete([{ ETag: '"0123456789abcdef0123456789abcdef"', PartNumber: 1 }])).toBe('InvalidPart');
  expect(await complete([{ ETag: small.ETag, PartNumber: 7 }])).toBe('InvalidPart');
  expect(await complete([{ ETag: second.ETag, PartNumber: 2 }, { ETag: small.ETag, PartNumber: 1 }])).toBe('InvalidPartOrder');
  expect(await complete([{ ETag: small.ETag, PartNumber: 1 }, { ETag: second.ETag, PartNumber: 2 }])).toBe('EntityTooSmall');
  expect(await errorCode(s3.send(new HeadObjectCommand({ Bucket, Key })))).toBe('NotFound');

  await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
  expect(await errorCode(s3.send(new ListPartsCommand({ Bucket, Key, UploadId })))).toBe('NoSuchUpload');
  expect(await errorCode(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: 'x' })))).toBe('NoSuchUpload');
  expect(await errorCode(s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: 'nonexistent' })))).toBe('NoSuchUpload');
  expect(await errorCode(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 0, Body: 'x' })))).toBe('InvalidArgument');
});

test('UploadPartCopy copies a byte range of another object into a part', async () => {
  const s3 = gw.client();
  const source = randomBytes(6 * MiB);
  await s3.send(new PutObjectCommand({ Bucket, Key: 'copy/source', Body: source }));
  const Key = 'copy/assembled';
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
  const p1 = await s3.send(
    new UploadPartCopyCommand({ Bucket, Key, UploadId, PartNumber: 1, CopySource: `${Bucket}/copy/source`, CopySourceRange: `bytes=0-${5 * MiB - 1}` }),
  );
  const p2 = await s3.send(new UploadPartCopyCommand({ Bucket, Key, UploadId, PartNumber: 2, CopySource: `${Bucket}/copy/source` }));
  expect(p1.CopyPartResult?.ETag).toBe(`"${md5(source.subarray(0, 5 * MiB)).toString('hex')}"`);
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket,
      Key,
      UploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.CopyPartResult?.ETag }, { PartNumber: 2, ETag: p2.CopyPartResult?.ETag }] },
    }),
  );
  const got = await bodyBytes((await s3.send(new GetObjectCommand({ Bucket, Key }))).Body);
  expect(got.equals(Buffer.concat([source.subarray(0, 5 * MiB), source]))).toBe(true);
  expect(
    await errorCode(
      s3.send(new UploadPartCopyCommand({ Bucket, Key: 'copy/x', UploadId: 'nope', PartNumber: 1, CopySource: `${Bucket}/copy/source` })),
    ),
  ).toBe('NoSuchUpload');
});

test('lib-storage Upload of a 23 MiB stream of unknown length', async () => {
  const s3 = gw.client();
  const data = randomBytes(23 * MiB);
  const upload = new Upload({ client: s3, params: { Bucket, Key: 'stream/23mib', Body: Readable.from([data.subarray(0, 7 * MiB), data.subarray(7 * MiB)]) }, partSize: 5 * MiB, queueSize: 3 });
  const result = await upload.done();
  expect(result.ETag).toMatch(/-5"$/);
  const got = await bodyBytes((await s3.send(new GetObjectCommand({ Bucket, Key: 'stream/23mib' }))).Body);
  expect(got.equals(data)).toBe(true);
});

test('abandoned uploads are swept after the configured age', async () => {
  const s3 = gw.client();
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'sweep/me' }));
  await s3.send(new UploadPartCommand({ Bucket, Key: 'sweep/me', UploadId, PartNumber: 1, Body: 'abc' }));
  expect(await sweepAbandonedUploads(gw.buckets, 3600_000)).toBe(0);
  await new Promise((r) => setTimeout(r, 20));
  expect(await sweepAbandonedUploads(gw.buckets, 10)).toBeGreaterThanOrEqual(1);
  expect(await errorCode(s3.send(new ListPartsCommand({ Bucket, Key: 'sweep/me', UploadId })))).toBe('NoSuchUpload');
});
