/**
 * GetObjectAttributes' ObjectParts on GCS and HDFS mounts (their emulators) as on local ones,
 * driven by @aws-sdk/client-s3: a SHA256 COMPOSITE multipart object lists its parts with their
 * checksums (paged), read back from the store's metadata by a fresh gateway (nothing from this
 * process's memory), and a multipart object without checksums gives its part count alone.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectAttributesCommand,
  HeadObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startGcsEmulator, type GcsEmulator } from '../emulators/gcs/gcs-emulator';
import { startWebHdfsEmulator, type WebHdfsEmulator } from '../emulators/webhdfs';
import { startTestGateway, type TestGateway } from '../helpers/gateway';

jest.setTimeout(60_000);

const MiB = 1024 * 1024;
const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

let gcs: GcsEmulator;
let hdfs: WebHdfsEmulator;
const gateways: TestGateway[] = [];

async function gateway(): Promise<S3Client> {
  const gw = await startTestGateway(
    {
      mounts: {
        gcs: { uri: 'gs://attrs/mount/', options: { apiEndpoint: gcs.endpoint, requestTimeoutMs: 10_000, retryOptions: { maxRetries: 1, retryDelayMultiplier: 1 } }, timeoutMs: 10_000 },
        hdfs: { uri: `hdfs://127.0.0.1:${hdfs.nameNodePort}/warehouse/attrs?user=ringcache`, timeoutMs: 10_000 },
      },
    },
  );
  gateways.push(gw);
  return gw.client();
}

beforeAll(async () => {
  gcs = await startGcsEmulator({ buckets: ['attrs'] });
  hdfs = await startWebHdfsEmulator({ allowAnonymous: false });
});
afterAll(async () => {
  for (const gw of gateways) await gw.close();
  await gcs?.close();
  await hdfs?.close();
});

describe.each(['gcs', 'hdfs'])('a %s mount', (Bucket) => {
  test('a COMPOSITE object lists its parts with their checksums, also for a gateway started afterwards', async () => {
    const s3 = await gateway();
    const Key = 'dir/composite.bin';
    const parts = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(321)];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'SHA256' }));
    const done: CompletedPart[] = [];
    for (let i = 0; i < parts.length; i++) {
      const res = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: parts[i], ChecksumAlgorithm: 'SHA256' }));
      done.push({ PartNumber: i + 1, ETag: res.ETag, ChecksumSHA256: res.ChecksumSHA256 });
    }
    const completed = await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: done } }));
    const composite = `${createHash('sha256').update(Buffer.concat(parts.map(sha256))).digest('base64')}-3`;
    expect(completed.ChecksumSHA256).toBe(composite);

    const fresh = await gateway();
    expect((await fresh.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: 'ENABLED' }))).ChecksumSHA256).toBe(composite);
    const first = await fresh.send(new GetObjectAttributesCommand({ Bucket, Key, ObjectAttributes: ['Checksum', 'ObjectParts'], MaxParts: 2 }));
    expect(first.Checksum).toEqual({ ChecksumSHA256: composite.slice(0, -2), ChecksumType: 'COMPOSITE' });
    expect(first.ObjectParts).toMatchObject({ TotalPartsCount: 3, MaxParts: 2, IsTruncated: true, NextPartNumberMarker: '2' });
    expect(first.ObjectParts?.Parts).toEqual(parts.slice(0, 2).map((p, i) => ({ PartNumber: i + 1, Size: p.length, ChecksumSHA256: sha256(p).toString('base64') })));
    const rest = await fresh.send(new GetObjectAttributesCommand({ Bucket, Key, ObjectAttributes: ['ObjectParts'], PartNumberMarker: '2' }));
    expect(rest.ObjectParts).toMatchObject({ TotalPartsCount: 3, IsTruncated: false });
    expect(rest.ObjectParts?.Parts).toEqual([{ PartNumber: 3, Size: 321, ChecksumSHA256: sha256(parts[2]).toString('base64') }]);
  });

  test('a multipart object without checksums gives its part count alone', async () => {
    const s3 = await gateway();
    const Key = 'dir/plain.bin';
    const parts = [randomBytes(5 * MiB), randomBytes(10)];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const done: CompletedPart[] = [];
    for (let i = 0; i < parts.length; i++) {
      const res = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body: parts[i] }));
      done.push({ PartNumber: i + 1, ETag: res.ETag });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: done } }));
    const attrs = await s3.send(new GetObjectAttributesCommand({ Bucket, Key, ObjectAttributes: ['Checksum', 'ObjectParts'] }));
    expect(attrs.ObjectParts).toEqual({ TotalPartsCount: 2 });
    expect(attrs.Checksum).toBeUndefined();
  });
});
