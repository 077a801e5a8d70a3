/**
 * Multipart upload checksums as S3 has them, driven by @aws-sdk/client-s3 (which computes and
 * sends the checksums itself): the algorithm and type named at CreateMultipartUpload, part
 * checksums verified, kept and listed, the object's COMPOSITE ("<b64>-N") or FULL_OBJECT (combined
 * CRC) checksum made at completion, returned by HeadObject/GetObject with checksum mode (the SDK
 * validates a full-object CRC against the body it receives) and by GetObjectAttributes (with the
 * parts of a COMPOSITE object, each with its checksum, paged); the
 * refusals S3 makes (InvalidPart, InvalidRequest, BadDigest).
 */
import { createHash, randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type ChecksumAlgorithm,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { bodyBytes, errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';

jest.setTimeout(60_000);

let gw: TestGateway;
let s3: S3Client;
const Bucket = 'sums';
const MiB = 1024 * 1024;

beforeAll(async () => {
  gw = await startTestGateway();
  s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket }));
});
afterAll(() => gw.close());

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();
const crc32 = (b: Buffer): string => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(zlib.crc32(b) >>> 0);
  return out.toString('base64');
};

async function uploadParts(Key: string, UploadId: string, parts: Buffer[], ChecksumAlgorithm: ChecksumAlgorithm): Promise<CompletedPart[]> {
  const done: CompletedPart[] = [];
  for (let i = 0; i < parts.length; i++) {
    const res = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: parts[i], ChecksumAlgorithm }));
    done.push({ PartNumber: i + 1, ETag: res.ETag, ChecksumSHA256: res.ChecksumSHA256, ChecksumCRC32: res.ChecksumCRC32, ChecksumCRC32C: res.ChecksumCRC32C });
  }
  return done;
}

test('SHA256 COMPOSITE: part checksums kept and listed, "<b64>-N" on completion, HEAD/GET with checksum mode, GetObjectAttributes', async () => {
  const Key = 'composite.bin';
  const parts = [randomBytes(5 * MiB), randomBytes(4321)];
  const created = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'SHA256' }));
  expect(created).toMatchObject({ ChecksumAlgorithm: 'SHA256', ChecksumType: 'COMPOSITE' });
  const UploadId = created.UploadId as string;

  const completed = await uploadParts(Key, UploadId, parts, 'SHA256');
  expect(completed.map((p) => p.ChecksumSHA256)).toEqual(parts.map((p) => sha256(p).toString('base64')));
  const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
  expect(listed.Parts?.map((p) => [p.PartNumber, p.ChecksumSHA256])).toEqual(completed.map((p) => [p.PartNumber, p.ChecksumSHA256]));
  expect(listed).toMatchObject({ ChecksumAlgorithm: 'SHA256', ChecksumType: 'COMPOSITE' });

  const composite = `${createHash('sha256').update(Buffer.concat(parts.map(sha256))).digest('base64')}-2`;
  // The whole-object header carries the composite value: accepted (it was BadDigest before).
  const done = await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket,
      Key,
      UploadId,
      ChecksumSHA256: composite,
      MultipartUpload: { Parts: completed.map(({ PartNumber, ETag, ChecksumSHA256 }) => ({ PartNumber, ETag, ChecksumSHA256 })) },
    }),
  );
  expect(done).toMatchObject({ ChecksumSHA256: composite, ChecksumType: 'COMPOSITE' });

  const head = await s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
  expect(head).toMatchObject({ ChecksumSHA256: composite, ChecksumType: 'COMPOSITE' });
  expect((await s3.send(new HeadObjectCommand({ Bucket, Key }))).ChecksumSHA256).toBeUndefined();
  const got = await s3.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
  expect(got.ChecksumSHA256).toBe(composite);
  expect((await bodyBytes(got.Body)).equals(Buffer.concat(parts))).toBe(true);
  // A part or a range is not the whole object: no object checksum.
  const ranged = await s3.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED', Range: 'bytes=0-9' }));
  expect(ranged.ChecksumSHA256).toBeUndefined();
  await bodyBytes(ranged.Body);

  const attrs = await s3.send(new GetObjectAttributesCommand({ Bucket, Key, ObjectAttributes: ['Checksum', 'ObjectParts'] }));
  expect(attrs.Checksum).toEqual({ ChecksumSHA256: composite.slice(0, -2), ChecksumType: 'COMPOSITE' });
  // A COMPOSITE object lists its parts, each with its checksum, paged like ListParts.
  expect(attrs.ObjectParts).toEqual({
    TotalPartsCount: 2,
    PartNumberMarker: '0',
    NextPartNumberMarker: '2',
    MaxParts: 1000,
    IsTruncated: false,
    Parts: parts.map((p, i) => ({ PartNumber: i + 1, Size: p.length, ChecksumSHA256: sha256(p).toString('base64') })),
  });
  const first = await s3.send(new GetObjectAttributesCommand({ Bucket, Key, ObjectAttributes: ['ObjectParts'], MaxParts: 1 }));
  expect(first.ObjectParts).toMatchObject({ TotalPartsCount: 2, MaxParts: 1, IsTruncated: true, NextPartNumberMarker: '1' });
  expect(first.ObjectParts?.Parts?.map((p) => p.PartNumber)).toEqual([1]);
  const rest = await s3.send(new GetObjectAttributesCommand({ Bucket, Key, ObjectAttributes: ['ObjectParts'], MaxParts: 1, PartNumberMarker: first.ObjectParts?.NextPartNumberMarker }));
  expect(rest.ObjectParts).toMatchObject({ TotalPartsCount: 2, PartNumberMarker: '1', IsTruncated: false });
  expect(rest.ObjectParts?.Parts).toEqual([{ PartNumber: 2, Size: 4321, ChecksumSHA256: sha256(parts[1]).toString('base64') }]);
  const past = await s3.send(new GetObjectAttributesCommand({ Bucket, Key, ObjectAttributes: ['ObjectParts'], PartNumberMarker: '2' }));
  expect(past.ObjectParts).toMatchObject({ TotalPartsCount: 2, IsTruncated: false });
  expect(past.ObjectParts?.Parts ?? []).toEqual([]);
  // A copy onto itself that changes only metadata keeps them.
  await s3.send(new CopyObjectCommand({ Bucket, Key, CopySource: `${Bucket}/${Key}`, MetadataDirective: 'REPLACE', Metadata: { note: 'x' } }));
  const copied = await s3.send(new GetObjectAttributesCommand({ Bucket, Key, ObjectAttributes: ['ObjectParts'] }));
  expect(copied.ObjectParts?.Parts?.map((p) => p.ChecksumSHA256)).toEqual(parts.map((p) => sha256(p).toString('base64')));
});

test('CRC32 FULL_OBJECT: the CRC of the whole object, combined from the parts; the SDK validates it on GET', async () => {
  const Key = 'full.bin';
  const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(777)];
  const whole = crc32(Buffer.concat(parts));
  const created = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'CRC32', ChecksumType: 'FULL_OBJECT' }));
  expect(created).toMatchObject({ ChecksumAlgorithm: 'CRC32', ChecksumType: 'FULL_OBJECT' });
  const UploadId = created.UploadId as string;
  const completed = await uploadParts(Key, UploadId, parts, 'CRC32');
  expect(completed.map((p) => p.ChecksumCRC32)).toEqual(parts.map(crc32));

  // FULL_OBJECT: part checksums in the XML are optional; the object's value is checked.
  const Parts = completed.map(({ PartNumber, ETag }) => ({ PartNumber, ETag }));
  const wrong = crc32(Buffer.from('something else'));
  expect(await errorCode(s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, ChecksumCRC32: wrong, ChecksumType: 'FULL_OBJECT', MultipartUpload: { Parts } })))).toBe('BadDigest');
  expect(await errorCode(s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, ChecksumType: 'COMPOSITE', MultipartUpload: { Parts } })))).toBe('InvalidRequest');
  const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, ChecksumCRC32: whole, ChecksumType: 'FULL_OBJECT', MultipartUpload: { Parts } }));
  expect(done).toMatchObject({ ChecksumCRC32: whole, ChecksumType: 'FULL_OBJECT' });

  // The SDK checks the body it receives against x-amz-checksum-crc32 (a mismatch would throw).
  const got = await s3.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
  expect(got).toMatchObject({ ChecksumCRC32: whole, ChecksumType: 'FULL_OBJECT' });
  expect((await bodyBytes(got.Body)).equals(Buffer.concat(parts))).toBe(true);
  const attrs = await s3.send(new GetObjectAttributesCommand({ Bucket, Key, ObjectAttributes: ['Checksum', 'ObjectParts'] }));
  expect(attrs.Checksum).toEqual({ ChecksumCRC32: whole, ChecksumType: 'FULL_OBJECT' });
  // S3 lists parts only for COMPOSITE objects: a FULL_OBJECT one gives its part count.
  expect(attrs.ObjectParts).toEqual({ TotalPartsCount: 3 });
});

test('parts without a checksum of their own get the upload\'s algorithm; UploadPartCopy too', async () => {
  const Key = 'computed.bin';
  const source = randomBytes(5 * MiB);
  await s3.send(new PutObjectCommand({ Bucket, Key: 'copy-source.bin', Body: source }));
  const tail = randomBytes(1000);
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'CRC32C' }));
  const copied = await s3.send(new UploadPartCopyCommand({ Bucket, Key, UploadId, PartNumber: 1, CopySource: `${Bucket}/copy-source.bin` }));
  expect(copied.CopyPartResult?.ChecksumCRC32C).toBeTruthy();
  // A client that sends no checksum (the SDK only sends them when required here).
  const plain = gw.client(undefined, { requestChecksumCalculation: 'WHEN_REQUIRED' });
  const part2 = await plain.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: tail }));
  expect(part2.ChecksumCRC32C).toBeTruthy();
  const listed = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId }));
  expect(listed.Parts?.map((p) => p.ChecksumCRC32C)).toEqual([copied.CopyPartResult?.ChecksumCRC32C, part2.ChecksumCRC32C]);
  const done = await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket,
      Key,
      UploadId,
      MultipartUpload: {
        Parts: [
          { PartNumber: 1, ETag: copied.CopyPartResult?.ETag, ChecksumCRC32C: copied.CopyPartResult?.ChecksumCRC32C },
          { PartNumber: 2, ETag: part2.ETag, ChecksumCRC32C: part2.ChecksumCRC32C },
        ],
      },
    }),
  );
  expect(done.ChecksumCRC32C).toMatch(/-2$/);
  expect((await s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }))).ChecksumCRC32C).toBe(done.ChecksumCRC32C);
});

test('refusals: another algorithm on a part, a part checksum that does not match, a COMPOSITE completion without part checksums, bad values', async () => {
  const Key = 'refused.bin';
  const body = randomBytes(2000);
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'SHA256' }));
  expect(await errorCode(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: body, ChecksumAlgorithm: 'CRC32' })))).toBe('InvalidRequest');
  expect(await errorCode(s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: body, ChecksumSHA256: sha256(Buffer.from('x')).toString('base64') })))).toBe(
    'BadDigest',
  );
  const part = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: body, ChecksumAlgorithm: 'SHA256' }));
  const complete = (parts: CompletedPart[]) => errorCode(s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } })));
  expect(await complete([{ PartNumber: 1, ETag: part.ETag, ChecksumSHA256: sha256(Buffer.from('x')).toString('base64') }])).toBe('InvalidPart');
  expect(await complete([{ PartNumber: 1, ETag: part.ETag }])).toBe('InvalidRequest');
  expect(await errorCode(s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'SHA1', ChecksumType: 'FULL_OBJECT' })))).toBe('InvalidRequest');
  // Still completes once asked properly.
  const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag, ChecksumSHA256: part.ChecksumSHA256 }] } }));
  expect(done.ChecksumSHA256).toBe(`${createHash('sha256').update(sha256(body)).digest('base64')}-1`);
});
