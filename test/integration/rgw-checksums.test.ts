/**
 * Checksums on an `s3://` mount on Ceph RGW 16, which ignores every checksum header: the S3
 * adapter keeps what the gateway computes in reserved user metadata (x-amz-meta-ringcache-*,
 * ufs-adapters/s3/README.md "Checksums"), so a multipart object's COMPOSITE or FULL_OBJECT
 * checksum, its parts' checksums and sizes, and a PutObject's checksum come back on HEAD/GET with
 * checksum mode and in GetObjectAttributes, driven by @aws-sdk/client-s3; clients never see the
 * reserved names.
 */
import { createHash, randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type ChecksumAlgorithm,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { bodyBytes, startTestGateway, type TestGateway } from '../helpers/gateway';
import { describeWithRgw } from '../servers/rgw-fixture';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('base64');
const crc32 = (b: Buffer): string => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(zlib.crc32(b) >>> 0);
  return out.toString('base64');
};

describeWithRgw('checksums on an s3:// mount on Ceph RGW', (rgw) => {
  let gw: TestGateway;
  let client: S3Client;
  const Bucket = 'sums';
  /** The store's own view of a gateway key (mount prefix "gw/"). */
  const onRgw = (key: string) => rgw.client().send(new HeadObjectCommand({ Bucket: 'sums', Key: `gw/${key}` }));

  beforeAll(async () => {
    await rgw.createBucket('sums');
    const { endpoint, accessKeyId, secretAccessKey } = rgw.server;
    gw = await startTestGateway({
      mounts: {
        sums: { uri: `s3://sums/gw?endpoint=${encodeURIComponent(endpoint)}`, options: { credentials: { accessKeyId, secretAccessKey }, maxAttempts: 3 }, timeoutMs: 20_000 },
      },
    });
    client = gw.client();
  }, 60_000);
  afterAll(() => gw?.close());

  async function upload(Key: string, parts: Buffer[], ChecksumAlgorithm: ChecksumAlgorithm, ChecksumType?: 'FULL_OBJECT'): Promise<{ UploadId: string; done: CompletedPart[] }> {
    const created = await client.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm, ChecksumType, Metadata: { owner: 'team-a' } }));
    const UploadId = created.UploadId as string;
    const done: CompletedPart[] = [];
    for (let i = 0; i < parts.length; i++) {
      const res = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: parts[i], ChecksumAlgorithm }));
      done.push({ PartNumber: i + 1, ETag: res.ETag, ChecksumSHA256: res.ChecksumSHA256, ChecksumCRC32: res.ChecksumCRC32 });
    }
    return { UploadId, done };
  }

  test('SHA256 COMPOSITE multipart: the checksum, the parts and the user metadata survive on RGW', async () => {
    const Key = 'composite.bin';
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1234)];
    const { UploadId, done } = await upload(Key, parts, 'SHA256');
    const composite = `${createHash('sha256').update(Buffer.concat(parts.map((p) => createHash('sha256').update(p).digest()))).digest('base64')}-3`;
    const completed = await client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: done } }));
    expect(completed).toMatchObject({ ChecksumSHA256: composite, ChecksumType: 'COMPOSITE' });

    const head = await client.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
    expect(head).toMatchObject({ ChecksumSHA256: composite, ChecksumType: 'COMPOSITE', ETag: completed.ETag, ContentLength: 10 * MiB + 1234 });
    // The client's metadata is there, the adapter's reserved names are not.
    expect(head.Metadata).toEqual({ owner: 'team-a' });
    // RGW holds them as user metadata of the object.
    expect((await onRgw(Key)).Metadata).toMatchObject({ owner: 'team-a', 'ringcache-checksum-sha256': composite, 'ringcache-part-sizes': `${5 * MiB}*2,1234` });

    const attrs = await client.send(new GetObjectAttributesCommand({ Bucket, Key, ObjectAttributes: ['Checksum', 'ObjectParts', 'ObjectSize'], MaxParts: 2 }));
    expect(attrs.Checksum).toEqual({ ChecksumSHA256: composite.slice(0, -2), ChecksumType: 'COMPOSITE' });
    expect(attrs.ObjectParts).toMatchObject({ TotalPartsCount: 3, MaxParts: 2, IsTruncated: true, NextPartNumberMarker: '2' });
    expect(attrs.ObjectParts?.Parts).toEqual(parts.slice(0, 2).map((p, i) => ({ PartNumber: i + 1, Size: p.length, ChecksumSHA256: sha256(p) })));
    const rest = await client.send(new GetObjectAttributesCommand({ Bucket, Key, ObjectAttributes: ['ObjectParts'], PartNumberMarker: '2' }));
    expect(rest.ObjectParts?.Parts).toEqual([{ PartNumber: 3, Size: 1234, ChecksumSHA256: sha256(parts[2]) }]);

    const got = await client.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
    expect(got.ChecksumSHA256).toBe(composite);
    expect((await bodyBytes(got.Body)).equals(Buffer.concat(parts))).toBe(true);

    // A metadata change (copy onto itself with REPLACE) keeps the checksum and the parts.
    await client.send(new CopyObjectCommand({ Bucket, Key, CopySource: `${Bucket}/${Key}`, MetadataDirective: 'REPLACE', Metadata: { owner: 'team-b' } }));
    const after = await client.send(new GetObjectAttributesCommand({ Bucket, Key, ObjectAttributes: ['Checksum', 'ObjectParts'] }));
    expect(after.Checksum?.ChecksumSHA256).toBe(composite.slice(0, -2));
    expect(after.ObjectParts?.Parts?.map((p) => p.ChecksumSHA256)).toEqual(parts.map(sha256));
    expect((await client.send(new HeadObjectCommand({ Bucket, Key }))).Metadata).toEqual({ owner: 'team-b' });
  });

  test('CRC32 FULL_OBJECT multipart: the SDK validates the stored CRC against the body on GET', async () => {
    const Key = 'full.bin';
    const parts = [randomBytes(5 * MiB), randomBytes(999)];
    const { UploadId, done } = await upload(Key, parts, 'CRC32', 'FULL_OBJECT');
    const whole = crc32(Buffer.concat(parts));
    const completed = await client.send(
      new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, ChecksumCRC32: whole, ChecksumType: 'FULL_OBJECT', MultipartUpload: { Parts: done.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })) } }),
    );
    expect(completed).toMatchObject({ ChecksumCRC32: whole, ChecksumType: 'FULL_OBJECT' });
    // First read of the object: a ranged GET brings its metadata (README, readWithInfo).
    const got = await client.send(new GetObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }));
    expect(got).toMatchObject({ ChecksumCRC32: whole, ChecksumType: 'FULL_OBJECT' });
    expect((await bodyBytes(got.Body)).equals(Buffer.concat(parts))).toBe(true);
    const attrs = await client.send(new GetObjectAttributesCommand({ Bucket, Key, ObjectAttributes: ['Checksum', 'ObjectParts'] }));
    expect(attrs.Checksum).toEqual({ ChecksumCRC32: whole, ChecksumType: 'FULL_OBJECT' });
    expect(attrs.ObjectParts).toEqual({ TotalPartsCount: 2 });
  });

  test('PutObject with a checksum: kept and returned with checksum mode', async () => {
    const body = randomBytes(70_000);
    const put = await client.send(new PutObjectCommand({ Bucket, Key: 'single.bin', Body: body, ChecksumAlgorithm: 'SHA256' }));
    expect(put.ChecksumSHA256).toBe(sha256(body));
    const head = await client.send(new HeadObjectCommand({ Bucket, Key: 'single.bin', ChecksumMode: 'ENABLED' }));
    expect(head).toMatchObject({ ChecksumSHA256: sha256(body), ChecksumType: 'FULL_OBJECT' });
    expect(head.Metadata).toEqual({});
    const attrs = await client.send(new GetObjectAttributesCommand({ Bucket, Key: 'single.bin', ObjectAttributes: ['Checksum', 'ObjectParts'] }));
    expect(attrs.Checksum?.ChecksumSHA256).toBe(sha256(body));
    expect(attrs.ObjectParts).toBeUndefined();
  });
});
