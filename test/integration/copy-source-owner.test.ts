/**
 * CopyObject and UploadPartCopy run on the destination key's owner. When another node owns
 * the source, writes to the source invalidate only that node's cache: the copying node must
 * stat and read the source past its own cache, and evaluate x-amz-copy-source-if-* against
 * that fresh stat. Two gateway processes; the source key is node-a's, the destinations node-b's.
 */
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ringKey } from '../../src/cluster/cluster-node';
import { buildRing } from '../../src/cluster/ring';
import { bodyBytes, errorCode } from '../helpers/gateway';
import { startTestCluster, waitForRings, type TestCluster } from '../helpers/cluster-processes';

jest.setTimeout(60_000);

const ring = buildRing(['node-a', 'node-b']);
const keyOwnedBy = (bucket: string, owner: string, prefix: string): string => {
  for (let i = 0; ; i++) if (ring.owner(ringKey(bucket, `${prefix}${i}`)) === owner) return `${prefix}${i}`;
};

let cluster: TestCluster;
let s3: S3Client;
const source = keyOwnedBy('src', 'node-a', 'source-');

const read = async (Bucket: string, Key: string): Promise<string> => (await bodyBytes((await s3.send(new GetObjectCommand({ Bucket, Key }))).Body)).toString();

async function overwriteSource(body: string): Promise<string> {
  const put = await s3.send(new PutObjectCommand({ Bucket: 'src', Key: source, Body: body }));
  expect(await read('src', source)).toBe(body);
  return put.ETag as string;
}

beforeAll(async () => {
  // The default metadata TTL (60 s) outlasts the test: a node that cached the source's metadata keeps it.
  cluster = await startTestCluster(2);
  await waitForRings(cluster.nodes, 2);
  s3 = cluster.client(cluster.nodes[0]);
  await s3.send(new CreateBucketCommand({ Bucket: 'src' }));
  await s3.send(new CreateBucketCommand({ Bucket: 'dst' }));
  await overwriteSource('version-1');
  // node-b copies (and, before the fix, caches) version 1 of the source.
  await s3.send(new CopyObjectCommand({ Bucket: 'dst', Key: keyOwnedBy('dst', 'node-b', 'first-'), CopySource: `src/${source}` }));
});

afterAll(() => cluster?.stop());

test('CopyObject after an acknowledged overwrite of the source copies the new version', async () => {
  await overwriteSource('version-2');
  const destination = keyOwnedBy('dst', 'node-b', 'copy-');
  await s3.send(new CopyObjectCommand({ Bucket: 'dst', Key: destination, CopySource: `src/${source}` }));
  expect(await read('dst', destination)).toBe('version-2');
});

test('UploadPartCopy after an overwrite of the source copies the new version', async () => {
  await overwriteSource('version-3');
  const destination = keyOwnedBy('dst', 'node-b', 'part-');
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'dst', Key: destination }));
  const part = await s3.send(new UploadPartCopyCommand({ Bucket: 'dst', Key: destination, UploadId, PartNumber: 1, CopySource: `src/${source}`, CopySourceRange: 'bytes=0-8' }));
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'dst', Key: destination, UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.CopyPartResult?.ETag }] } }));
  expect(await read('dst', destination)).toBe('version-3');
});

test('x-amz-copy-source-if-match is evaluated against the source as it is now', async () => {
  const oldEtag = (await s3.send(new HeadObjectCommand({ Bucket: 'src', Key: source }))).ETag as string;
  const newEtag = await overwriteSource('version-4');
  const destination = keyOwnedBy('dst', 'node-b', 'conditional-');
  expect(await errorCode(s3.send(new CopyObjectCommand({ Bucket: 'dst', Key: destination, CopySource: `src/${source}`, CopySourceIfMatch: oldEtag })))).toBe('PreconditionFailed');
  await s3.send(new CopyObjectCommand({ Bucket: 'dst', Key: destination, CopySource: `src/${source}`, CopySourceIfMatch: newEtag }));
  expect(await read('dst', destination)).toBe('version-4');
});

test('a copy within one bucket whose source another node owns sees the overwrite too', async () => {
  const sameBucketSource = keyOwnedBy('dst', 'node-a', 'inner-source-');
  const destination = keyOwnedBy('dst', 'node-b', 'inner-copy-');
  await s3.send(new PutObjectCommand({ Bucket: 'dst', Key: sameBucketSource, Body: 'old' }));
  await s3.send(new CopyObjectCommand({ Bucket: 'dst', Key: destination, CopySource: `dst/${sameBucketSource}` }));
  const fresh = await s3.send(new PutObjectCommand({ Bucket: 'dst', Key: sameBucketSource, Body: 'new' }));
  // The store copies natively here; the condition is what node-b's own view decided.
  await s3.send(new CopyObjectCommand({ Bucket: 'dst', Key: destination, CopySource: `dst/${sameBucketSource}`, CopySourceIfMatch: fresh.ETag }));
  expect(await read('dst', destination)).toBe('new');
});
