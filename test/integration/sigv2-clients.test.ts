/**
 * Signature Version 2 from real clients against a running gateway: botocore signing requests with
 * `signature_version='s3'` (the Authorization: AWS key:signature header) and presigning URLs the
 * way the aws CLI v1's `s3 presign` did (HmacV1QueryAuth: AWSAccessKeyId, Expires, Signature),
 * s3cmd with `signature_v2 = True` and its `signurl`; the URLs are fetched with curl. The same
 * requests are refused with 400 InvalidRequest by a gateway configured with signatureV2: false.
 * A SigV2 URL of a warm object is answered by the warm-hit path.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ADMIN, READER, bodyBytes, startTestGateway, type TestGateway } from '../helpers/gateway';
import { describeWithBoto, runBoto } from '../helpers/python-boto';

const run = promisify(execFile);
const Bucket = 'sigv2';

/** curl a URL: status and body. */
async function curl(url: string, args: string[] = []): Promise<{ status: number; body: string }> {
  const { stdout } = await run('/usr/bin/curl', ['-s', '-w', '\n%{http_code}', ...args, url], { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 });
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

async function warmHits(): Promise<number> {
  const values = (await gw.metrics.registry.getSingleMetric('ringcache_s3_warm_hits_total')?.get())?.values ?? [];
  return values.reduce((sum, v) => sum + v.value, 0);
}

let gw: TestGateway;
let off: TestGateway;

beforeAll(async () => {
  [gw, off] = await Promise.all([startTestGateway(), startTestGateway({ server: { signatureV2: false } })]);
  for (const g of [gw, off]) {
    await g.client().send(new CreateBucketCommand({ Bucket }));
    await g.client().send(new PutObjectCommand({ Bucket, Key: 'dir/hello world.txt', Body: 'hello, v2', ContentType: 'text/plain' }));
  }
});
afterAll(() => Promise.all([gw?.close(), off?.close()]));

describeWithBoto('botocore with signature_version="s3" (SigV2 header)', () => {
  const script = `
s3 = client('s3')
s3.put_object(Bucket=ARGS['bucket'], Key='boto/ü file.txt', Body=b'from botocore', ContentType='text/x-test', Metadata={'who': 'boto'}, ACL='private')
got = s3.get_object(Bucket=ARGS['bucket'], Key='boto/ü file.txt')
listed = s3.list_objects(Bucket=ARGS['bucket'], Prefix='boto/')
up = s3.create_multipart_upload(Bucket=ARGS['bucket'], Key='boto/multi')
part = s3.upload_part(Bucket=ARGS['bucket'], Key='boto/multi', UploadId=up['UploadId'], PartNumber=1, Body=b'x' * 1000)
parts = s3.list_parts(Bucket=ARGS['bucket'], Key='boto/multi', UploadId=up['UploadId'])
done = s3.complete_multipart_upload(Bucket=ARGS['bucket'], Key='boto/multi', UploadId=up['UploadId'],
    MultipartUpload={'Parts': [{'PartNumber': 1, 'ETag': part['ETag']}]})
acl = s3.get_bucket_acl(Bucket=ARGS['bucket'])
s3.delete_object(Bucket=ARGS['bucket'], Key='boto/multi')
out({'body': got['Body'].read().decode(), 'type': got['ContentType'], 'meta': got['Metadata'],
     'keys': [o['Key'] for o in listed.get('Contents', [])], 'parts': len(parts['Parts']), 'etag': done['ETag'],
     'owner': acl['Owner']['ID']})
`;

  it('signs PutObject (non-ASCII key, metadata), GetObject, ListObjects, a multipart upload, GetBucketAcl and DeleteObject', async () => {
    const result = await runBoto(script, { endpoint: gw.url, key: ADMIN.accessKeyId, secret: ADMIN.secretAccessKey, bucket: Bucket });
    expect(result).toEqual({
      body: 'from botocore',
      type: 'text/x-test',
      meta: { who: 'boto' },
      keys: ['boto/ü file.txt'],
      parts: 1,
      etag: expect.stringMatching(/^"[0-9a-f]{32}-1"$/),
      owner: ADMIN.accessKeyId,
    });
  });

  it('a wrong secret is SignatureDoesNotMatch, a read-only key is AccessDenied on a write', async () => {
    const attempt = `
try:
    client('s3').put_object(Bucket=ARGS['bucket'], Key='boto/denied', Body=b'x')
    out('ok')
except botocore.exceptions.ClientError as e:
    out(e.response['Error']['Code'])
`;
    expect(await runBoto(attempt, { endpoint: gw.url, key: ADMIN.accessKeyId, secret: 'not-the-secret', bucket: Bucket })).toBe('SignatureDoesNotMatch');
    expect(await runBoto(attempt, { endpoint: gw.url, key: READER.accessKeyId, secret: READER.secretAccessKey, bucket: Bucket })).toBe('AccessDenied');
    expect(await runBoto(attempt, { endpoint: off.url, key: ADMIN.accessKeyId, secret: ADMIN.secretAccessKey, bucket: Bucket })).toBe('InvalidRequest');
  });

  it('presigns GetObject as the aws CLI v1 did (AWSAccessKeyId/Expires/Signature), fetched with curl; tampering is 403', async () => {
    const presign = `
s3 = client('s3')
out({'get': s3.generate_presigned_url('get_object', Params={'Bucket': ARGS['bucket'], 'Key': 'dir/hello world.txt',
        'ResponseContentDisposition': 'attachment; filename="hi.txt"'}, ExpiresIn=600),
     'expired': s3.generate_presigned_url('get_object', Params={'Bucket': ARGS['bucket'], 'Key': 'dir/hello world.txt'}, ExpiresIn=-10),
     'put': s3.generate_presigned_url('put_object', Params={'Bucket': ARGS['bucket'], 'Key': 'dir/put.txt'}, ExpiresIn=600)})
`;
    const urls = await runBoto<{ get: string; expired: string; put: string }>(presign, { endpoint: gw.url, key: ADMIN.accessKeyId, secret: ADMIN.secretAccessKey, bucket: Bucket });
    expect(urls.get).toMatch(/[?&]AWSAccessKeyId=test-admin&/);
    expect(urls.get).toMatch(/[?&]Signature=/);
    expect(urls.get).not.toMatch(/X-Amz-/);
    const got = await curl(urls.get, ['-D', '-']);
    expect(got.status).toBe(200);
    expect(got.body).toMatch(/content-disposition: attachment; filename="hi.txt"/i);
    expect(got.body.endsWith('hello, v2')).toBe(true);
    expect((await curl(urls.expired)).body).toContain('<Code>AccessDenied</Code>');
    expect((await curl(urls.get.replace('hello%20world', 'hello%20World'))).status).toBe(403);
    const put = await curl(urls.put, ['-X', 'PUT', '--data-binary', 'put through a v2 URL', '-H', 'content-type:']);
    expect(put.status).toBe(200);
    const back = await gw.client().send(new GetObjectCommand({ Bucket, Key: 'dir/put.txt' }));
    expect((await bodyBytes(back.Body)).toString()).toBe('put through a v2 URL');
    expect((await curl(urls.get.replace(gw.url, off.url))).body).toContain('<Code>InvalidRequest</Code>');
  });
});

const S3CMD = '/usr/bin/s3cmd';
const describeS3cmd = existsSync(S3CMD) || process.env.CI === 'true' ? describe : describe.skip;

describeS3cmd('s3cmd with signature_v2 = True', () => {
  let home: string;
  const s3cmd = async (...args: string[]) => {
    if (!existsSync(S3CMD)) throw new Error(`s3cmd is required in CI but ${S3CMD} is missing`);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home };
    try {
      return (await run(S3CMD, args, { env, cwd: home, timeout: 60_000 })).stdout;
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`s3cmd ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
    }
  };

  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'ringcache-s3cmd-v2-'));
    const host = new URL(gw.url).host;
    await writeFile(
      path.join(home, '.s3cfg'),
      ['[default]', `access_key = ${ADMIN.accessKeyId}`, `secret_key = ${ADMIN.secretAccessKey}`, `host_base = ${host}`, `host_bucket = ${host}`, 'use_https = False', 'signature_v2 = True', ''].join('\n'),
    );
  });
  afterAll(() => rm(home, { recursive: true, force: true }));

  it('put, ls, get and info with SigV2 header signing', async () => {
    await writeFile(path.join(home, 'up.txt'), 'uploaded by s3cmd v2');
    await s3cmd('put', path.join(home, 'up.txt'), `s3://${Bucket}/s3cmd/up.txt`);
    expect(await s3cmd('ls', `s3://${Bucket}/s3cmd/`)).toContain(`s3://${Bucket}/s3cmd/up.txt`);
    await s3cmd('get', '--force', `s3://${Bucket}/s3cmd/up.txt`, path.join(home, 'down.txt'));
    expect(await readFile(path.join(home, 'down.txt'), 'utf8')).toBe('uploaded by s3cmd v2');
    expect(await s3cmd('info', `s3://${Bucket}/s3cmd/up.txt`)).toMatch(/File size:\s+20/);
  });

  it('signurl makes a SigV2 URL that curl fetches until it expires', async () => {
    const url = (await s3cmd('signurl', `s3://${Bucket}/dir/hello world.txt`, '+600')).trim();
    expect(url).toMatch(/AWSAccessKeyId=test-admin&Expires=\d+&Signature=/);
    const got = await curl(url);
    expect(got).toEqual({ status: 200, body: 'hello, v2' });
    // The object is now warm: the same URL is answered by the warm-hit path.
    const before = await warmHits();
    expect(await curl(url)).toEqual({ status: 200, body: 'hello, v2' });
    expect(await warmHits()).toBe(before + 1);
    const past = (await s3cmd('signurl', `s3://${Bucket}/dir/hello world.txt`, String(Math.floor(Date.now() / 1000) - 60))).trim();
    const expired = await curl(past);
    expect(expired.status).toBe(403);
    expect(expired.body).toContain('Request has expired');
  });
});
