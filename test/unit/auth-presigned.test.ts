/**
 * SigV4 query authentication, against URLs made by @aws-sdk/s3-request-presigner's getSignedUrl
 * (no network is used to presign) and the presigned-URL example of the AWS documentation.
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createHash } from 'node:crypto';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { type AuthInput, Authenticator, type SecretLookup } from '../../src/s3/auth';

/** Authenticator.authenticate as a promise, so a throw reads as a rejection in these tests. */
const authenticate = async (input: AuthInput, lookup: SecretLookup) => new Authenticator(lookup).authenticate(input);
import { S3Error } from '../../src/s3/errors';
import { escapeUri, TestSha256 } from '../helpers/sigv4';

const AKID = 'AKIDPRESIGN';
const SECRET = 'presign/secret+key=';
const lookup = (id: string) =>
  ({ [AKID]: SECRET, AKIAIOSFODNN7EXAMPLE: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' } as Record<string, string>)[id];
const SIGNED_AT = new Date('2026-03-04T05:06:07Z');

function client(secret = SECRET): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9000',
    forcePathStyle: true,
    credentials: { accessKeyId: AKID, secretAccessKey: secret },
  });
}

type Presignable = GetObjectCommand | HeadObjectCommand | PutObjectCommand | UploadPartCommand | ListObjectsV2Command;

/** Presigns `command` and returns what the server receives when the URL is used. */
async function presigned(command: Presignable, opts: { expiresIn?: number; secret?: string; method?: string } = {}): Promise<AuthInput> {
  // getSignedUrl's generics do not accept a union of commands; each member is fine on its own.
  const url = await getSignedUrl(client(opts.secret), command as unknown as Parameters<typeof getSignedUrl>[1], { expiresIn: opts.expiresIn ?? 900, signingDate: SIGNED_AT });
  const u = new URL(url);
  expect(u.host).toBe('127.0.0.1:9000');
  // The request target as sent on the wire: everything after the authority, untouched.
  const rawUrl = url.slice(url.indexOf('/', 'http://'.length));
  const method = opts.method ?? (command instanceof PutObjectCommand || command instanceof UploadPartCommand ? 'PUT' : 'GET');
  return { method, rawUrl, headers: { host: u.host, 'user-agent': 'curl/8' }, now: new Date(SIGNED_AT.getTime() + 1000) };
}

async function expectS3Error(p: Promise<unknown>, code: string, status?: number, message?: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(S3Error);
  expect((err as S3Error).code).toBe(code);
  if (status !== undefined) expect((err as S3Error).status).toBe(status);
  if (message) expect((err as S3Error).message).toMatch(message);
}

/** Replaces one query parameter's raw value in a raw URL. */
const withParam = (rawUrl: string, name: string, rawValue: string) =>
  rawUrl.replace(new RegExp(`([?&]${name}=)[^&]*`), `$1${rawValue}`);

describe('authenticate: presigned URLs from getSignedUrl', () => {
  const commands: Array<[string, Presignable]> = [
    ['GetObject', new GetObjectCommand({ Bucket: 'bucket', Key: "dir/a b+c%d=e&f~g//h/ü/日本!'()*" })],
    ['GetObject with response overrides', new GetObjectCommand({ Bucket: 'bucket', Key: 'k', ResponseContentDisposition: 'attachment; filename="a b.txt"' })],
    ['HeadObject', new HeadObjectCommand({ Bucket: 'bucket', Key: 'k' })],
    ['PutObject', new PutObjectCommand({ Bucket: 'bucket', Key: 'up load.bin' })],
    ['UploadPart', new UploadPartCommand({ Bucket: 'bucket', Key: 'k', PartNumber: 3, UploadId: 'a/b+c=' })],
    ['ListObjectsV2', new ListObjectsV2Command({ Bucket: 'bucket', Prefix: 'a/b', Delimiter: '/' })],
  ];

  it.each(commands)('accepts %s', async (name, command) => {
    const input = await presigned(command, { method: name === 'HeadObject' ? 'HEAD' : undefined });
    await expect(authenticate(input, lookup)).resolves.toEqual({ kind: 'signed', accessKeyId: AKID, payload: { kind: 'unsigned' } });
  });

  it('signs the canonical query without X-Amz-Signature and in sorted order regardless of the raw order', async () => {
    const input = await presigned(new ListObjectsV2Command({ Bucket: 'bucket', Prefix: 'a/b' }));
    const [path, query] = input.rawUrl.split('?') as [string, string];
    const reversed = `${path}?${query.split('&').reverse().join('&')}`;
    await expect(authenticate({ ...input, rawUrl: reversed }, lookup)).resolves.toMatchObject({ kind: 'signed' });
  });

  it('rejects a wrong secret, tampering and an unknown key', async () => {
    const wrong = await presigned(new GetObjectCommand({ Bucket: 'bucket', Key: 'k' }), { secret: 'other' });
    await expectS3Error(authenticate(wrong, lookup), 'SignatureDoesNotMatch', 403);

    const input = await presigned(new ListObjectsV2Command({ Bucket: 'bucket', Prefix: 'a/b' }));
    await expectS3Error(authenticate({ ...input, rawUrl: withParam(input.rawUrl, 'prefix', 'a%2Fc') }, lookup), 'SignatureDoesNotMatch');
    await expectS3Error(authenticate({ ...input, rawUrl: `${input.rawUrl}&extra=1` }, lookup), 'SignatureDoesNotMatch');
    await expectS3Error(authenticate({ ...input, rawUrl: input.rawUrl.replace('/bucket', '/bucket2') }, lookup), 'SignatureDoesNotMatch');
    await expectS3Error(authenticate({ ...input, method: 'DELETE' }, lookup), 'SignatureDoesNotMatch');
    await expectS3Error(authenticate({ ...input, headers: { host: 'localhost:9000' } }, lookup), 'SignatureDoesNotMatch');
    const otherSig = withParam(input.rawUrl, 'X-Amz-Signature', '0'.repeat(64));
    await expectS3Error(authenticate({ ...input, rawUrl: otherSig }, lookup), 'SignatureDoesNotMatch');
    await expectS3Error(authenticate(input, () => undefined), 'InvalidAccessKeyId', 403);
  });

  it('rejects an expired URL with AccessDenied "Request has expired"', async () => {
    const input = await presigned(new GetObjectCommand({ Bucket: 'bucket', Key: 'k' }), { expiresIn: 60 });
    const at = (ms: number) => ({ ...input, now: new Date(SIGNED_AT.getTime() + ms) });
    await expect(authenticate(at(60_000), lookup)).resolves.toMatchObject({ kind: 'signed' });
    await expectS3Error(authenticate(at(61_000), lookup), 'AccessDenied', 403, /^Request has expired$/);
  });

  it('accepts a week-long URL until it expires', async () => {
    const input = await presigned(new GetObjectCommand({ Bucket: 'bucket', Key: 'k' }), { expiresIn: 604800 });
    await expect(authenticate({ ...input, now: new Date(SIGNED_AT.getTime() + 604800_000) }, lookup)).resolves.toMatchObject({ kind: 'signed' });
    await expectS3Error(authenticate({ ...input, now: new Date(SIGNED_AT.getTime() + 604801_000) }, lookup), 'AccessDenied');
  });

  it('rejects a URL dated more than 15 minutes in the future with RequestTimeTooSkewed', async () => {
    const input = await presigned(new GetObjectCommand({ Bucket: 'bucket', Key: 'k' }));
    await expect(authenticate({ ...input, now: new Date(SIGNED_AT.getTime() - 14 * 60_000) }, lookup)).resolves.toMatchObject({ kind: 'signed' });
    await expectS3Error(authenticate({ ...input, now: new Date(SIGNED_AT.getTime() - 16 * 60_000) }, lookup), 'RequestTimeTooSkewed', 403);
  });

  it('rejects X-Amz-Expires outside 1..604800 and malformed parameters with AuthorizationQueryParametersError', async () => {
    const input = await presigned(new GetObjectCommand({ Bucket: 'bucket', Key: 'k' }));
    const bad = (rawUrl: string) => expectS3Error(authenticate({ ...input, rawUrl }, lookup), 'AuthorizationQueryParametersError', 400);
    await bad(withParam(input.rawUrl, 'X-Amz-Expires', '0'));
    await bad(withParam(input.rawUrl, 'X-Amz-Expires', '604801'));
    await bad(withParam(input.rawUrl, 'X-Amz-Expires', '-5'));
    await bad(withParam(input.rawUrl, 'X-Amz-Expires', '1e3'));
    await bad(withParam(input.rawUrl, 'X-Amz-Algorithm', 'AWS4-HMAC-SHA1'));
    await bad(withParam(input.rawUrl, 'X-Amz-Date', '2026-03-04'));
    await bad(withParam(input.rawUrl, 'X-Amz-Date', '20260305T050607Z'));
    await bad(withParam(input.rawUrl, 'X-Amz-Credential', `${AKID}%2F20260304%2Fus-east-1%2Fiam%2Faws4_request`));
    await bad(withParam(input.rawUrl, 'X-Amz-Credential', `${AKID}%2F20260304%2Fus-east-1`));
    await bad(withParam(input.rawUrl, 'X-Amz-SignedHeaders', 'x-amz-date'));
    await bad(input.rawUrl.replace(/&X-Amz-Expires=[^&]*/, ''));
    await bad(`${input.rawUrl}&X-Amz-Date=20260304T050607Z`);
    await bad(input.rawUrl.replace(/X-Amz-Signature=[^&]*/, ''));
  });

  it('uses X-Amz-Content-Sha256 from the query when present', async () => {
    const input = await presigned(new GetObjectCommand({ Bucket: 'bucket', Key: 'k' }));
    expect(input.rawUrl).toContain('X-Amz-Content-Sha256=UNSIGNED-PAYLOAD');
    // The parameter itself is part of the signed canonical query, so it cannot be dropped.
    const dropped = input.rawUrl.replace(/&?X-Amz-Content-Sha256=UNSIGNED-PAYLOAD/, '');
    await expectS3Error(authenticate({ ...input, rawUrl: dropped }, lookup), 'SignatureDoesNotMatch');
  });
});

describe('authenticate: presigned with SignatureV4.presign directly', () => {
  async function presign(headers: Record<string, string>, signableHeaders?: Set<string>): Promise<AuthInput> {
    const signer = new SignatureV4({
      service: 's3',
      region: 'us-west-2',
      credentials: { accessKeyId: AKID, secretAccessKey: SECRET },
      sha256: TestSha256,
      uriEscapePath: false,
      applyChecksum: false,
    });
    const request = new HttpRequest({ method: 'PUT', hostname: '127.0.0.1', port: 9000, path: '/bucket/a%20b', headers: { host: '127.0.0.1:9000', ...headers }, query: { 'x-id': 'PutObject' } });
    const out = await signer.presign(request, { signingDate: SIGNED_AT, expiresIn: 300, signableHeaders, unhoistableHeaders: new Set(['content-type']) });
    const qs = Object.entries(out.query ?? {})
      .map(([k, v]) => `${escapeUri(k)}=${escapeUri(v as string)}`)
      .join('&');
    return { method: 'PUT', rawUrl: `${out.path}?${qs}`, headers: out.headers as Record<string, string>, now: SIGNED_AT };
  }

  it('takes a hex payload hash hoisted into the query (any spelling) as a sha256 payload', async () => {
    const hash = createHash('sha256').update('body').digest('hex');
    for (const name of ['x-amz-content-sha256', 'X-Amz-Content-Sha256']) {
      const input = await presign({ [name]: hash });
      expect(input.rawUrl).toContain(`${name}=${hash}`);
      await expect(authenticate(input, lookup)).resolves.toEqual({ kind: 'signed', accessKeyId: AKID, payload: { kind: 'sha256', expectedHex: hash } });
    }
  });

  it('verifies headers signed along with host (X-Amz-SignedHeaders)', async () => {
    // Like S3RequestPresigner: without it, SignatureV4 would sign the empty-body hash, not UNSIGNED-PAYLOAD.
    const input = await presign({ 'content-type': 'text/plain', 'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD' }, new Set(['content-type']));
    expect(input.rawUrl).toContain('X-Amz-SignedHeaders=content-type%3Bhost');
    await expect(authenticate(input, lookup)).resolves.toMatchObject({ kind: 'signed', payload: { kind: 'unsigned' } });
    await expectS3Error(authenticate({ ...input, headers: { ...input.headers, 'content-type': 'text/html' } }, lookup), 'SignatureDoesNotMatch');
  });
});

describe('authenticate: AWS documentation presigned example (known answer)', () => {
  it('GET /test.txt valid for 86400 s', async () => {
    const rawUrl =
      '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
      '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
      '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
    const input: AuthInput = { method: 'GET', rawUrl, headers: { host: 'examplebucket.s3.amazonaws.com' }, now: new Date('2013-05-24T12:00:00Z') };
    await expect(authenticate(input, lookup)).resolves.toEqual({ kind: 'signed', accessKeyId: 'AKIAIOSFODNN7EXAMPLE', payload: { kind: 'unsigned' } });
    await expectS3Error(authenticate({ ...input, now: new Date('2013-05-25T00:00:01Z') }, lookup), 'AccessDenied', 403, /expired/);
  });
});
