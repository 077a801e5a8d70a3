/**
 * POST Object (browser form uploads) against a running gateway. The policy and its SigV4
 * signature come from boto3's generate_presigned_post (what a page's backend uses); the forms are
 * posted as a browser does (fetch with FormData, the file last) and with curl -F. Covered: the
 * policy conditions (exact, starts-with, content-length-range), success_action_status and
 * success_action_redirect, x-amz-meta-*, acl, checksum fields, the CORS headers of the answer,
 * anonymous forms on a bucket anyone may write, and the errors S3 gives for expired, violated,
 * tampered or malformed forms (nothing is stored then). A 24 MiB file streams through.
 */
import { execFile } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutBucketCorsCommand } from '@aws-sdk/client-s3';
import { ADMIN, bodyBytes, errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';
import { describeWithBoto, runBoto } from '../helpers/python-boto';
import { deriveSigningKey } from '../../src/s3/auth/verify-signature';

const run = promisify(execFile);
const Bucket = 'forms';
let gw: TestGateway;
let work: string;

interface Presigned {
  url: string;
  fields: Record<string, string>;
}

/** boto3's generate_presigned_post with these fields and conditions. */
async function presignPost(key: string, fields: Record<string, string>, conditions: unknown[], expiresIn = 600, bucket = Bucket): Promise<Presigned> {
  const script = `
s3 = client('s3v4')
out(s3.generate_presigned_post(ARGS['bucket'], ARGS['object_key'], Fields=ARGS['fields'], Conditions=ARGS['conditions'], ExpiresIn=ARGS['expires']))
`;
  return runBoto<Presigned>(script, { endpoint: gw.url, key: ADMIN.accessKeyId, secret: ADMIN.secretAccessKey, bucket, object_key: key, fields, conditions, expires: expiresIn });
}

/** Posts a form the way a browser does: the fields in order, then the file. */
async function browserPost(presigned: Presigned, file: Buffer | string, filename = 'photo.jpg', headers: Record<string, string> = {}, url = presigned.url): Promise<Response> {
  const form = new FormData();
  for (const [name, value] of Object.entries(presigned.fields)) form.append(name, value);
  form.append('file', new Blob([file]), filename);
  return fetch(url, { method: 'POST', body: form, headers, redirect: 'manual' });
}

async function exists(key: string): Promise<boolean> {
  return (await errorCode(gw.client().send(new HeadObjectCommand({ Bucket, Key: key })))) === 'ok';
}

beforeAll(async () => {
  gw = await startTestGateway();
  work = await mkdtemp(path.join(os.tmpdir(), 'ringcache-post-'));
  await gw.client().send(new CreateBucketCommand({ Bucket }));
  await gw.client().send(new CreateBucketCommand({ Bucket: 'forms-open', ACL: 'public-read-write' }));
  await gw.client().send(
    new PutBucketCorsCommand({ Bucket, CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['https://app.example'], AllowedMethods: ['POST'], ExposeHeaders: ['ETag', 'Location'] }] } }),
  );
});
afterAll(async () => {
  await gw?.close();
  await rm(work, { recursive: true, force: true });
});

describeWithBoto('POST Object with a boto3 policy', () => {
  const CONDITIONS = [
    ['starts-with', '$key', 'uploads/'],
    { acl: 'public-read' },
    { success_action_status: '201' },
    ['starts-with', '$Content-Type', 'image/'],
    { 'x-amz-meta-origin': 'form' },
    ['content-length-range', 1, 32 * 1024 * 1024],
  ];
  const FIELDS = { acl: 'public-read', success_action_status: '201', 'Content-Type': 'image/jpeg', 'x-amz-meta-origin': 'form' };

  it('a browser-style form upload: 201 PostResponse, the object with its metadata and ACL, CORS headers for the page', async () => {
    const presigned = await presignPost('uploads/${filename}', FIELDS, CONDITIONS);
    expect(presigned.fields['x-amz-algorithm']).toBe('AWS4-HMAC-SHA256');
    const photo = randomBytes(70_000);
    const res = await browserPost(presigned, photo, 'cat.jpg', { origin: 'https://app.example' });
    expect(res.status).toBe(201);
    const xml = await res.text();
    expect(xml).toContain('<Key>uploads/cat.jpg</Key>');
    expect(xml).toContain(`<Bucket>${Bucket}</Bucket>`);
    const etag = `"${createHash('md5').update(photo).digest('hex')}"`;
    expect(res.headers.get('etag')).toBe(etag);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(res.headers.get('access-control-expose-headers')).toBe('ETag, Location');
    const got = await gw.client().send(new GetObjectCommand({ Bucket, Key: 'uploads/cat.jpg' }));
    expect(got.ContentType).toBe('image/jpeg');
    expect(got.Metadata).toEqual({ origin: 'form' });
    expect((await bodyBytes(got.Body)).equals(photo)).toBe(true);
    const anonymous = await fetch(`${gw.url}/${Bucket}/uploads/cat.jpg`);
    expect(anonymous.status).toBe(200);
  });

  it('curl -F with success_action_redirect: 303 to the page with bucket, key and etag', async () => {
    const presigned = await presignPost('uploads/redirected.txt', { success_action_redirect: 'https://app.example/done?x=1' }, [{ success_action_redirect: 'https://app.example/done?x=1' }]);
    await writeFile(path.join(work, 'r.txt'), 'redirected upload');
    const args = ['-s', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}'];
    for (const [name, value] of Object.entries(presigned.fields)) args.push('--form-string', `${name}=${value}`);
    args.push('-F', `file=@${path.join(work, 'r.txt')}`, presigned.url);
    const { stdout } = await run('/usr/bin/curl', args, { timeout: 30_000 });
    const [status, location] = stdout.split(' ');
    expect(status).toBe('303');
    const target = new URL(location);
    expect(target.origin + target.pathname).toBe('https://app.example/done');
    expect(Object.fromEntries(target.searchParams)).toEqual({ x: '1', bucket: Bucket, key: 'uploads/redirected.txt', etag: `"${createHash('md5').update('redirected upload').digest('hex')}"` });
    expect(await exists('uploads/redirected.txt')).toBe(true);
  });

  it('checksum fields are verified and stored; a wrong one is BadDigest and stores nothing', async () => {
    const data = Buffer.from('checked bytes');
    const sha256 = createHash('sha256').update(data).digest('base64');
    const good = await presignPost('sums/good.txt', { 'x-amz-checksum-sha256': sha256 }, [{ 'x-amz-checksum-sha256': sha256 }]);
    expect((await browserPost(good, data)).status).toBe(204);
    const head = await gw.client().send(new HeadObjectCommand({ Bucket, Key: 'sums/good.txt', ChecksumMode: 'ENABLED' }));
    expect(head.ChecksumSHA256).toBe(sha256);
    const bad = await presignPost('sums/bad.txt', { 'x-amz-checksum-sha256': sha256 }, [{ 'x-amz-checksum-sha256': sha256 }]);
    const res = await browserPost(bad, 'other bytes');
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<Code>BadDigest</Code>');
    expect(await exists('sums/bad.txt')).toBe(false);
  });

  it('refuses what the policy does not allow, with the codes S3 gives, and stores nothing', async () => {
    const presigned = await presignPost('uploads/${filename}', FIELDS, CONDITIONS);
    const expectError = async (res: Response, status: number, code: string, message?: RegExp) => {
      const text = (await res.text()).replace(/&quot;/g, '"').replace(/&apos;/g, "'");
      expect({ status: res.status, code: /<Code>([^<]+)<\/Code>/.exec(text)?.[1] }).toEqual({ status, code });
      if (message) expect(text).toMatch(message);
    };
    await expectError(await browserPost(presigned, Buffer.alloc(0), 'empty.jpg'), 400, 'EntityTooSmall');
    const wrongKey = { ...presigned, fields: { ...presigned.fields, key: 'elsewhere/${filename}' } };
    await expectError(await browserPost(wrongKey, 'x', 'a.jpg'), 403, 'AccessDenied', /Policy Condition failed: \["starts-with", "\$key", "uploads\/"\]/);
    const wrongType = { ...presigned, fields: { ...presigned.fields, 'Content-Type': 'text/html' } };
    await expectError(await browserPost(wrongType, 'x', 'b.jpg'), 403, 'AccessDenied', /Content-Type/);
    const extra = { ...presigned, fields: { ...presigned.fields, 'x-amz-meta-sneaky': '1' } };
    await expectError(await browserPost(extra, 'x', 'c.jpg'), 403, 'AccessDenied', /Extra input fields: x-amz-meta-sneaky/);
    const tampered = { ...presigned, fields: { ...presigned.fields, 'x-amz-signature': '0'.repeat(64) } };
    await expectError(await browserPost(tampered, 'x', 'd.jpg'), 403, 'SignatureDoesNotMatch');
    // A policy that is no JSON, signed properly (as a broken backend would).
    const policy = Buffer.from('{not json').toString('base64');
    const [, date, region] = presigned.fields['x-amz-credential'].split('/');
    const signingKey = deriveSigningKey(ADMIN.secretAccessKey, { date, region, service: 's3' });
    const garbled = { ...presigned, fields: { ...presigned.fields, policy, 'x-amz-signature': createHmac('sha256', signingKey).update(policy).digest('hex') } };
    await expectError(await browserPost(garbled, 'x', 'e.jpg'), 400, 'InvalidPolicyDocument');
    const expired = await presignPost('uploads/${filename}', FIELDS, CONDITIONS, -60);
    await expectError(await browserPost(expired, 'x', 'f.jpg'), 403, 'AccessDenied', /Policy expired/);
    const small = await presignPost('uploads/${filename}', {}, [['starts-with', '$key', 'uploads/'], ['content-length-range', 1, 10]]);
    await expectError(await browserPost(small, 'more than ten bytes', 'g.jpg'), 400, 'EntityTooLarge');
    const { key: _key, ...noKey } = presigned.fields;
    await expectError(await browserPost({ ...presigned, fields: noKey }, 'x', 'h.jpg'), 400, 'InvalidArgument', /field named 'key'/);
    const noFile = new FormData();
    for (const [name, value] of Object.entries(presigned.fields)) noFile.append(name, value);
    await expectError(await fetch(presigned.url, { method: 'POST', body: noFile }), 400, 'IncorrectNumberOfFilesInPostRequest');
    await expectError(await fetch(presigned.url, { method: 'POST', body: 'key=a&file=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 412, 'PreconditionFailed');
    for (const name of ['empty.jpg', 'a.jpg', 'b.jpg', 'c.jpg', 'd.jpg', 'e.jpg', 'f.jpg', 'g.jpg']) expect(await exists(`uploads/${name}`)).toBe(false);
  });

  it('streams a 24 MiB file through', async () => {
    const big = randomBytes(24 * 1024 * 1024);
    const presigned = await presignPost('big/blob.bin', {}, [['content-length-range', 0, 64 * 1024 * 1024]]);
    const res = await browserPost(presigned, big, 'blob.bin');
    expect(res.status).toBe(204);
    const head = await gw.client().send(new HeadObjectCommand({ Bucket, Key: 'big/blob.bin' }));
    expect(head.ContentLength).toBe(big.length);
    expect(head.ETag).toBe(`"${createHash('md5').update(big).digest('hex')}"`);
  }, 60_000);
});

describe('POST Object without a policy', () => {
  it('anyone may post into a bucket whose ACL lets anyone write; not into a private one', async () => {
    const form = new FormData();
    form.append('key', 'dropped.txt');
    form.append('file', new Blob(['anonymous form']), 'dropped.txt');
    expect((await fetch(`${gw.url}/forms-open`, { method: 'POST', body: form })).status).toBe(204);
    const got = await gw.client().send(new GetObjectCommand({ Bucket: 'forms-open', Key: 'dropped.txt' }));
    expect((await bodyBytes(got.Body)).toString()).toBe('anonymous form');
    const denied = await fetch(`${gw.url}/${Bucket}`, { method: 'POST', body: form });
    expect(denied.status).toBe(403);
    expect(await denied.text()).toContain('<Code>AccessDenied</Code>');
  });
});
