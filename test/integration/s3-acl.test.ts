/**
 * Canned ACLs and ACL documents, honoured on reads and writes, driven by @aws-sdk/client-s3 and
 * the aws CLI v2: x-amz-acl on CreateBucket, PutObject, CopyObject and CreateMultipartUpload,
 * x-amz-grant-* headers, Get/PutBucketAcl and Get/PutObjectAcl (canned and AccessControlPolicy),
 * anonymous reads of public-read objects (also from the warm-hit path), 403 for private ones, 404
 * only where the requester may list, AllUsers WRITE, AuthenticatedUsers, grants to a key that has
 * no grant in the configuration, the errors S3 gives, and a gateway with ACLs turned off.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetBucketAclCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  PutBucketAclCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { ADMIN, errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';
import { rawRequest } from '../helpers/raw-request';

const run = promisify(execFile);
const NOGRANT = { accessKeyId: 'test-nogrant', secretAccessKey: 'test-nogrant-secret' };
const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';

let gw: TestGateway;
let off: TestGateway;

async function anonymous(method: string, pathname: string, body?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${gw.url}${pathname}`, { method, body });
  return { status: res.status, text: await res.text() };
}

async function warmHits(): Promise<number> {
  const values = (await gw.metrics.registry.getSingleMetric('ringcache_s3_warm_hits_total')?.get())?.values ?? [];
  return values.reduce((sum, v) => sum + v.value, 0);
}

const credentials: { accessKeyId: string; secretAccessKey: string; grants: Record<string, 'read' | 'write'> }[] = [
  { ...ADMIN, grants: { '*': 'write' } },
  { ...NOGRANT, grants: {} },
];

beforeAll(async () => {
  [gw, off] = await Promise.all([startTestGateway({ credentials }), startTestGateway({ credentials, server: { acls: false } })]);
  await gw.client().send(new CreateBucketCommand({ Bucket: 'acl-private' }));
  await gw.client().send(new CreateBucketCommand({ Bucket: 'acl-public', ACL: 'public-read' }));
});
afterAll(() => Promise.all([gw?.close(), off?.close()]));

describe('bucket ACLs', () => {
  it('CreateBucket records the creator as owner and the canned ACL; GetBucketAcl shows it', async () => {
    const pub = await gw.client().send(new GetBucketAclCommand({ Bucket: 'acl-public' }));
    expect(pub.Owner?.ID).toBe(ADMIN.accessKeyId);
    expect(pub.Grants).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Grantee: expect.objectContaining({ Type: 'CanonicalUser', ID: ADMIN.accessKeyId }), Permission: 'FULL_CONTROL' }),
        expect.objectContaining({ Grantee: expect.objectContaining({ Type: 'Group', URI: ALL_USERS }), Permission: 'READ' }),
      ]),
    );
    const priv = await gw.client().send(new GetBucketAclCommand({ Bucket: 'acl-private' }));
    expect(priv.Grants).toHaveLength(1);
  });

  it('a public-read bucket is listable anonymously, a private one is not', async () => {
    expect((await anonymous('GET', '/acl-public?list-type=2')).status).toBe(200);
    const denied = await anonymous('GET', '/acl-private?list-type=2');
    expect(denied.status).toBe(403);
    expect(denied.text).toContain('<Code>AccessDenied</Code>');
  });

  it('public-read-write lets anyone write (AllUsers WRITE), PutBucketAcl private takes it back', async () => {
    await gw.client().send(new CreateBucketCommand({ Bucket: 'acl-dropbox', ACL: 'public-read-write' }));
    expect((await anonymous('PUT', '/acl-dropbox/from-anyone.txt', 'anonymous bytes')).status).toBe(200);
    const got = await gw.client().send(new GetObjectCommand({ Bucket: 'acl-dropbox', Key: 'from-anyone.txt' }));
    expect(await got.Body?.transformToString()).toBe('anonymous bytes');
    await gw.client().send(new PutBucketAclCommand({ Bucket: 'acl-dropbox', ACL: 'private' }));
    expect((await anonymous('PUT', '/acl-dropbox/again.txt', 'x')).status).toBe(403);
  });

  it('PutBucketAcl with an AccessControlPolicy grants a key without grants READ (listing), READ_ACP', async () => {
    await gw.client().send(new CreateBucketCommand({ Bucket: 'acl-shared' }));
    const nogrant = gw.client(NOGRANT);
    expect(await errorCode(nogrant.send(new GetBucketAclCommand({ Bucket: 'acl-shared' })))).toBe('AccessDenied');
    await gw.client().send(
      new PutBucketAclCommand({
        Bucket: 'acl-shared',
        AccessControlPolicy: {
          Owner: { ID: ADMIN.accessKeyId },
          Grants: [
            { Grantee: { Type: 'CanonicalUser', ID: ADMIN.accessKeyId }, Permission: 'FULL_CONTROL' },
            { Grantee: { Type: 'CanonicalUser', ID: NOGRANT.accessKeyId }, Permission: 'READ' },
            { Grantee: { Type: 'CanonicalUser', ID: NOGRANT.accessKeyId }, Permission: 'READ_ACP' },
          ],
        },
      }),
    );
    const seen = await nogrant.send(new GetBucketAclCommand({ Bucket: 'acl-shared' }));
    expect(seen.Grants?.filter((g) => g.Grantee?.ID === NOGRANT.accessKeyId).map((g) => g.Permission).sort()).toEqual(['READ', 'READ_ACP']);
    expect(await errorCode(nogrant.send(new PutObjectCommand({ Bucket: 'acl-shared', Key: 'k', Body: 'x' })))).toBe('AccessDenied');
  });
});

describe('object ACLs', () => {
  it('an anonymous GET of a public-read object works (and again from the warm-hit path); a private one is 403', async () => {
    const s3 = gw.client();
    await s3.send(new PutObjectCommand({ Bucket: 'acl-private', Key: 'public.txt', Body: 'for everyone', ACL: 'public-read' }));
    await s3.send(new PutObjectCommand({ Bucket: 'acl-private', Key: 'private.txt', Body: 'for me' }));
    expect(await anonymous('GET', '/acl-private/public.txt')).toEqual({ status: 200, text: 'for everyone' });
    const before = await warmHits();
    expect(await anonymous('GET', '/acl-private/public.txt')).toEqual({ status: 200, text: 'for everyone' });
    expect(await warmHits()).toBe(before + 1);
    expect((await anonymous('HEAD', '/acl-private/public.txt')).status).toBe(200);
    const denied = await anonymous('GET', '/acl-private/private.txt');
    expect(denied.status).toBe(403);
    expect(denied.text).toContain('<Code>AccessDenied</Code>');
  });

  it('a missing key is 403 to someone who may not list the bucket, 404 to someone who may', async () => {
    expect((await anonymous('GET', '/acl-private/nothing-here')).status).toBe(403);
    const missing = await anonymous('GET', '/acl-public/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.text).toContain('<Code>NoSuchKey</Code>');
  });

  it('PutObjectAcl private takes public access back at once (the cached metadata is dropped); the ETag is kept', async () => {
    const s3 = gw.client();
    const put = await s3.send(new PutObjectCommand({ Bucket: 'acl-private', Key: 'flip.txt', Body: 'flip', ACL: 'public-read' }));
    expect((await anonymous('GET', '/acl-private/flip.txt')).status).toBe(200);
    await s3.send(new PutObjectAclCommand({ Bucket: 'acl-private', Key: 'flip.txt', ACL: 'private' }));
    expect((await anonymous('GET', '/acl-private/flip.txt')).status).toBe(403);
    const acl = await s3.send(new GetObjectAclCommand({ Bucket: 'acl-private', Key: 'flip.txt' }));
    expect(acl.Grants).toEqual([expect.objectContaining({ Permission: 'FULL_CONTROL', Grantee: expect.objectContaining({ ID: ADMIN.accessKeyId }) })]);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'acl-private', Key: 'flip.txt' }));
    expect(got.ETag).toBe(put.ETag);
    // An AccessControlPolicy document that grants AllUsers READ opens it again.
    await s3.send(
      new PutObjectAclCommand({
        Bucket: 'acl-private',
        Key: 'flip.txt',
        AccessControlPolicy: { Owner: { ID: ADMIN.accessKeyId }, Grants: [{ Grantee: { Type: 'Group', URI: ALL_USERS }, Permission: 'READ' }] },
      }),
    );
    expect(await anonymous('GET', '/acl-private/flip.txt')).toEqual({ status: 200, text: 'flip' });
  });

  it('authenticated-read and x-amz-grant-read let a key without grants read; private does not', async () => {
    const s3 = gw.client();
    const nogrant = gw.client(NOGRANT);
    await s3.send(new PutObjectCommand({ Bucket: 'acl-private', Key: 'authn.txt', Body: 'signed only', ACL: 'authenticated-read' }));
    await s3.send(new PutObjectCommand({ Bucket: 'acl-private', Key: 'granted.txt', Body: 'for nogrant', GrantRead: `id="${NOGRANT.accessKeyId}"` }));
    expect(await (await nogrant.send(new GetObjectCommand({ Bucket: 'acl-private', Key: 'authn.txt' }))).Body?.transformToString()).toBe('signed only');
    expect((await anonymous('GET', '/acl-private/authn.txt')).status).toBe(403);
    expect(await (await nogrant.send(new GetObjectCommand({ Bucket: 'acl-private', Key: 'granted.txt' }))).Body?.transformToString()).toBe('for nogrant');
    expect(await errorCode(nogrant.send(new GetObjectCommand({ Bucket: 'acl-private', Key: 'private.txt' })))).toBe('AccessDenied');
    expect(await errorCode(nogrant.send(new GetObjectAclCommand({ Bucket: 'acl-private', Key: 'granted.txt' })))).toBe('AccessDenied');
  });

  it('CopyObject takes the ACL the request asks for, never the source\'s; CreateMultipartUpload\'s applies to the result', async () => {
    const s3 = gw.client();
    await s3.send(new CopyObjectCommand({ Bucket: 'acl-private', Key: 'copy-plain.txt', CopySource: 'acl-private/public.txt' }));
    expect((await anonymous('GET', '/acl-private/copy-plain.txt')).status).toBe(403);
    await s3.send(new CopyObjectCommand({ Bucket: 'acl-private', Key: 'copy-public.txt', CopySource: 'acl-private/private.txt', ACL: 'public-read' }));
    expect(await anonymous('GET', '/acl-private/copy-public.txt')).toEqual({ status: 200, text: 'for me' });
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'acl-private', Key: 'multi.txt', ACL: 'public-read' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: 'acl-private', Key: 'multi.txt', UploadId, PartNumber: 1, Body: 'multipart public' }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'acl-private', Key: 'multi.txt', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    expect(await anonymous('GET', '/acl-private/multi.txt')).toEqual({ status: 200, text: 'multipart public' });
  });

  it('answers the errors S3 gives for bad ACLs', async () => {
    const s3 = gw.client();
    expect(await errorCode(s3.send(new PutObjectCommand({ Bucket: 'acl-private', Key: 'e', Body: 'x', ACL: 'world-readable' as 'private' })))).toBe('InvalidArgument');
    expect(await errorCode(s3.send(new PutObjectCommand({ Bucket: 'acl-private', Key: 'e', Body: 'x', ACL: 'public-read', GrantRead: `id="${ADMIN.accessKeyId}"` })))).toBe('InvalidRequest');
    expect(await errorCode(s3.send(new PutObjectCommand({ Bucket: 'acl-private', Key: 'e', Body: 'x', GrantRead: 'emailAddress="a@example.com"' })))).toBe('UnresolvableGrantByEmailAddress');
    expect(await errorCode(s3.send(new PutObjectCommand({ Bucket: 'acl-private', Key: 'e', Body: 'x', GrantRead: 'id="nobody-such"' })))).toBe('InvalidArgument');
    const res = await fetch(`${gw.url}/acl-private/public.txt?acl`, { method: 'PUT' });
    expect(res.status).toBe(403); // unsigned: not the owner
    const put = (body: string, headers: Record<string, string> = {}) => rawRequest(gw.url, { method: 'PUT', path: '/acl-private/public.txt', query: { acl: '' }, body, headers });
    expect((await put('<AccessControlPolicy><Nope/></AccessControlPolicy>')).body).toContain('<Code>MalformedACLError</Code>');
    expect((await put('<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>x</ID><URI>y</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>')).body).toContain('<Code>MalformedACLError</Code>');
    const both = await put('<AccessControlPolicy><AccessControlList/></AccessControlPolicy>', { 'x-amz-acl': 'private' });
    expect(both.status).toBe(400);
    expect(both.body).toContain('<Code>UnexpectedContent</Code>');
    expect((await put('')).body).toContain('<Code>MissingSecurityHeader</Code>');
  });

  it('the aws CLI uploads with --acl public-read and reads the ACL back', async () => {
    if (!existsSync('/usr/bin/aws')) {
      if (process.env.CI === 'true') throw new Error('/usr/bin/aws is required in CI');
      return;
    }
    const home = await mkdtemp(path.join(os.tmpdir(), 'ringcache-acl-cli-'));
    try {
      await writeFile(path.join(home, 'f.txt'), 'from the cli');
      const env = { PATH: process.env.PATH ?? '/usr/bin', HOME: home, AWS_ACCESS_KEY_ID: ADMIN.accessKeyId, AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };
      const aws = (...args: string[]) => run('/usr/bin/aws', ['--endpoint-url', gw.url, ...args], { env, timeout: 60_000 });
      await aws('s3', 'cp', path.join(home, 'f.txt'), 's3://acl-private/cli.txt', '--acl', 'public-read');
      expect(await anonymous('GET', '/acl-private/cli.txt')).toEqual({ status: 200, text: 'from the cli' });
      const acl = JSON.parse((await aws('s3api', 'get-object-acl', '--bucket', 'acl-private', '--key', 'cli.txt')).stdout) as { Grants: { Grantee: { URI?: string }; Permission: string }[] };
      expect(acl.Grants).toEqual(expect.arrayContaining([expect.objectContaining({ Grantee: expect.objectContaining({ URI: ALL_USERS }), Permission: 'READ' })]));
      await aws('s3api', 'put-object-acl', '--bucket', 'acl-private', '--key', 'cli.txt', '--acl', 'private');
      expect((await anonymous('GET', '/acl-private/cli.txt')).status).toBe(403);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});

describe('ACLs turned off (server.acls: false, as S3 "bucket owner enforced")', () => {
  it('refuses ACLs that grant more than the owner with AccessControlListNotSupported, accepts bucket-owner-full-control', async () => {
    const s3 = off.client();
    await s3.send(new CreateBucketCommand({ Bucket: 'enforced' }));
    expect(await errorCode(s3.send(new CreateBucketCommand({ Bucket: 'enforced-pub', ACL: 'public-read' })))).toBe('AccessControlListNotSupported');
    expect(await errorCode(s3.send(new PutObjectCommand({ Bucket: 'enforced', Key: 'k', Body: 'x', ACL: 'public-read' })))).toBe('AccessControlListNotSupported');
    expect(await errorCode(s3.send(new PutObjectCommand({ Bucket: 'enforced', Key: 'k', Body: 'x', ACL: 'bucket-owner-full-control' })))).toBe('ok');
    expect(await errorCode(s3.send(new PutBucketAclCommand({ Bucket: 'enforced', ACL: 'public-read' })))).toBe('AccessControlListNotSupported');
    expect(await errorCode(s3.send(new PutObjectAclCommand({ Bucket: 'enforced', Key: 'k', ACL: 'private' })))).toBe('ok');
    const acl = await s3.send(new GetObjectAclCommand({ Bucket: 'enforced', Key: 'k' }));
    expect(acl.Grants).toEqual([expect.objectContaining({ Permission: 'FULL_CONTROL' })]);
    const res = await fetch(`${off.url}/enforced/k`);
    expect(res.status).toBe(403);
  });
});
