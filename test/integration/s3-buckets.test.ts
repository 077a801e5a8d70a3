import {
  CreateBucketCommand,
  DeleteBucketCommand,
  GetBucketAclCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  DeleteObjectCommand,
  GetBucketPolicyCommand,
  PutBucketLifecycleConfigurationCommand,
  GetObjectAclCommand,
  GetObjectTaggingCommand,
  GetBucketTaggingCommand,
} from '@aws-sdk/client-s3';
import { ADMIN, READER, errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(() => gw.close());

test('create, head, list, locate and delete a bucket', async () => {
  const s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'alpha' }));
  await s3.send(new CreateBucketCommand({ Bucket: 'beta', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }));
  await s3.send(new HeadBucketCommand({ Bucket: 'alpha' }));

  const { Buckets, Owner } = await s3.send(new ListBucketsCommand({}));
  expect(Buckets?.map((b) => b.Name)).toEqual(['alpha', 'beta']);
  expect(Buckets?.[0].CreationDate).toBeInstanceOf(Date);
  expect(Owner?.ID).toBe(ADMIN.accessKeyId);

  const location = await s3.send(new GetBucketLocationCommand({ Bucket: 'alpha' }));
  expect(location.LocationConstraint ?? '').toBe('');

  await s3.send(new DeleteBucketCommand({ Bucket: 'beta' }));
  expect(await errorCode(s3.send(new HeadBucketCommand({ Bucket: 'beta' })))).toBe('NotFound');
  expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(['alpha']);
});

test('bucket errors: exists, not found, not empty, invalid name', async () => {
  const s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'errs' }));
  // us-east-1 (the test gateway's region): creating a bucket you own again is 200 and changes nothing.
  expect(await errorCode(s3.send(new CreateBucketCommand({ Bucket: 'errs' })))).toBe('ok');
  expect(await errorCode(s3.send(new DeleteBucketCommand({ Bucket: 'nope-missing' })))).toBe('NoSuchBucket');
  expect(await errorCode(s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })))).toBe('InvalidBucketName');
  await s3.send(new PutObjectCommand({ Bucket: 'errs', Key: 'k', Body: 'x' }));
  expect(await errorCode(s3.send(new DeleteBucketCommand({ Bucket: 'errs' })))).toBe('BucketNotEmpty');
  await s3.send(new DeleteObjectCommand({ Bucket: 'errs', Key: 'k' }));
  await s3.send(new DeleteBucketCommand({ Bucket: 'errs' }));
});

test('unversioned bucket answers: versioning, versions with VersionId null, ACLs, tagging', async () => {
  const s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'plain' }));
  await s3.send(new PutObjectCommand({ Bucket: 'plain', Key: 'doc.txt', Body: 'hello' }));

  const versioning = await s3.send(new GetBucketVersioningCommand({ Bucket: 'plain' }));
  expect(versioning.Status).toBeUndefined();

  const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'plain' }));
  expect(versions.Versions).toEqual([
    expect.objectContaining({ Key: 'doc.txt', VersionId: 'null', IsLatest: true, Size: 5 }),
  ]);

  const acl = await s3.send(new GetBucketAclCommand({ Bucket: 'plain' }));
  expect(acl.Grants?.[0]).toMatchObject({ Permission: 'FULL_CONTROL', Grantee: { Type: 'CanonicalUser', ID: ADMIN.accessKeyId } });
  const objectAcl = await s3.send(new GetObjectAclCommand({ Bucket: 'plain', Key: 'doc.txt' }));
  expect(objectAcl.Owner?.ID).toBe(ADMIN.accessKeyId);

  expect((await s3.send(new GetObjectTaggingCommand({ Bucket: 'plain', Key: 'doc.txt' }))).TagSet).toEqual([]);
  expect(await errorCode(s3.send(new GetBucketTaggingCommand({ Bucket: 'plain' })))).toBe('NoSuchTagSet');
});

test('unsupported sub-resources are 501 NotImplemented in S3 XML', async () => {
  const s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'noimpl' }));
  expect(await errorCode(s3.send(new GetBucketPolicyCommand({ Bucket: 'noimpl' })))).toBe('NotImplemented');
  expect(
    await errorCode(
      s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: 'noimpl', LifecycleConfiguration: { Rules: [] } })),
    ),
  ).toBe('NotImplemented');
  const res = await fetch(`${gw.url}/noimpl?cors`);
  // anonymous: denied before anything else
  expect(res.status).toBe(403);
  expect(await res.text()).toContain('<Code>AccessDenied</Code>');
});

test('a read-only key may list and read but not write', async () => {
  const admin = gw.client();
  const reader = gw.client(READER);
  await admin.send(new CreateBucketCommand({ Bucket: 'shared' }));
  await admin.send(new PutObjectCommand({ Bucket: 'shared', Key: 'r', Body: 'r' }));
  await reader.send(new HeadBucketCommand({ Bucket: 'shared' }));
  expect(await errorCode(reader.send(new PutObjectCommand({ Bucket: 'shared', Key: 'w', Body: 'w' })))).toBe('AccessDenied');
  expect(await errorCode(reader.send(new DeleteObjectCommand({ Bucket: 'shared', Key: 'r' })))).toBe('AccessDenied');
  expect(await errorCode(reader.send(new CreateBucketCommand({ Bucket: 'reader-made' })))).toBe('AccessDenied');
});
