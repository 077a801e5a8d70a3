/**
 * Grants are looked up by bucket name as own properties only: a bucket named after an
 * Object.prototype member ("constructor" resolves to a function on a plain object) must not be
 * granted to a key that has no grant for it.
 */
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';
import { accessLevel } from '../../src/s3/authorize';

const OWNER = { accessKeyId: 'owner', secretAccessKey: 'owner-secret' };
const NARROW = { accessKeyId: 'narrow', secretAccessKey: 'narrow-secret' };
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({
    credentials: [
      { ...OWNER, grants: { '*': 'write' } },
      { ...NARROW, grants: { photos: 'read' } },
    ],
  });
  await gw.client(OWNER).send(new CreateBucketCommand({ Bucket: 'constructor' }));
  await gw.client(OWNER).send(new PutObjectCommand({ Bucket: 'constructor', Key: 'k', Body: 'private' }));
});
afterAll(() => gw.close());

test('a bucket named constructor is not listed to a key without a grant for it', async () => {
  const listed = await gw.client(NARROW).send(new ListBucketsCommand({}));
  expect((listed.Buckets ?? []).map((b) => b.Name)).toEqual([]);
});

test('nor readable by it', async () => {
  expect(await errorCode(gw.client(NARROW).send(new GetObjectCommand({ Bucket: 'constructor', Key: 'k' })))).toBe('AccessDenied');
});

test.each(['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'])('accessLevel of "%s" without a grant is none', (name) => {
  expect(accessLevel({ accessKeyId: 'x', secretAccessKey: 'y', grants: { photos: 'read' } }, name)).toBe('none');
});
