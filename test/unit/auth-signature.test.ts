/**
 * SigV4 header authentication, against signatures made by the real client libraries:
 * @smithy/signature-v4 configured as the S3 client configures it, the S3 client itself (its real
 * serialisation and middleware, with a request handler that captures instead of sending), and
 * the worked examples of the AWS S3 SigV4 documentation.
 */
import { createHash } from 'node:crypto';
import {
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { type AuthInput, type AuthResult, Authenticator, type SecretLookup } from '../../src/s3/auth';

/** Authenticator.authenticate as a promise, so a throw reads as a rejection in these tests. */
const authenticate = async (input: AuthInput, lookup: SecretLookup) => new Authenticator(lookup).authenticate(input);
import { S3Error } from '../../src/s3/errors';
import { capturingS3Client, escapeUri, TestSha256 } from '../helpers/sigv4';

const AKID = 'AKIDEXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const secrets = new Map([
  [AKID, SECRET],
  ['AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
]);
const lookup = (id: string) => secrets.get(id);
const DATE = new Date('2026-01-01T12:00:00Z');
const HOST = '127.0.0.1:9000';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The path the S3 client sends for a bucket and key (greedy label: '/' kept, segments escaped). */
const s3Path = (bucket: string, key: string) => `/${bucket}/${key.split('/').map(escapeUri).join('/')}`;
/** The query string the SDK's node http handler sends (@smithy/querystring-builder). */
function buildQueryString(query: Record<string, string | string[] | null>): string {
  const parts: string[] = [];
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    const k = escapeUri(key);
    if (Array.isArray(value)) for (const v of value) parts.push(`${k}=${escapeUri(v)}`);
    else parts.push(typeof value === 'string' ? `${k}=${escapeUri(value)}` : k);
  }
  return parts.join('&');
}
const lowerCaseHeaders = (h: Record<string, string>) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v])) as Record<string, string>;

interface SignOptions {
  method?: string;
  path: string;
  query?: Record<string, string | string[]>;
  /** The raw query as sent, when it differs from what buildQueryString would produce. */
  rawQuery?: string;
  headers?: Record<string, string>;
  body?: string;
  date?: Date;
  secret?: string;
  region?: string;
  unsignableHeaders?: Set<string>;
  applyChecksum?: boolean;
}

/** Signs a request the way the S3 client does and returns what the server would receive. */
async function signed(o: SignOptions): Promise<AuthInput> {
  const signer = new SignatureV4({
    service: 's3',
    region: o.region ?? 'us-east-1',
    credentials: { accessKeyId: AKID, secretAccessKey: o.secret ?? SECRET },
    sha256: TestSha256,
    uriEscapePath: false,
    applyChecksum: o.applyChecksum ?? true,
  });
  const request = new HttpRequest({
    method: o.method ?? 'GET',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 9000,
    path: o.path,
    query: o.query ?? {},
    headers: { host: HOST, ...o.headers },
    body: o.body,
  });
  const date = o.date ?? DATE;
  const s = await signer.sign(request, { signingDate: date, unsignableHeaders: o.unsignableHeaders });
  const qs = o.rawQuery ?? buildQueryString(o.query ?? {});
  return { method: s.method, rawUrl: o.path + (qs === '' ? '' : `?${qs}`), headers: lowerCaseHeaders(s.headers), now: date };
}

async function expectS3Error(p: Promise<unknown>, code: string, status?: number, message?: RegExp): Promise<S3Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(S3Error);
  const s3 = err as S3Error;
  expect(s3.code).toBe(code);
  if (status !== undefined) expect(s3.status).toBe(status);
  if (message) expect(s3.message).toMatch(message);
  return s3;
}

const signedResult = (payload: AuthResult['payload']): AuthResult => ({ kind: 'signed', accessKeyId: AKID, payload });

describe('authenticate: Authorization header (SignatureV4 as the S3 client uses it)', () => {
  const keys = [
    'plain.txt',
    'with space/and  two',
    'ünïcödé/日本語/😀',
    'a+b+c',
    '100%/%41%2F',
    'a=b&c=d',
    'tilde~name',
    'double//slash///x',
    'dots/../x/./y',
    "special!'()*$@:,;",
    'trailing/',
    '#hash?q',
  ];
  it.each(keys)('accepts a PUT of key %j', async (key) => {
    const input = await signed({ method: 'PUT', path: s3Path('bucket', key), body: 'hello', headers: { 'content-type': 'text/plain' } });
    const expected = createHash('sha256').update('hello').digest('hex');
    await expect(authenticate(input, lookup)).resolves.toEqual(signedResult({ kind: 'sha256', expectedHex: expected }));
  });

  it.each([
    ['?uploads', { uploads: '' }, 'uploads'],
    ['?uploads=', { uploads: '' }, 'uploads='],
    ['?partNumber=1&uploadId=x', { partNumber: '1', uploadId: 'x' }, undefined],
    ['list-type=2&prefix=a%2Fb', { 'list-type': '2', prefix: 'a/b' }, 'list-type=2&prefix=a%2Fb'],
    ['unsorted raw order', { 'list-type': '2', prefix: 'a', 'max-keys': '5' }, 'prefix=a&max-keys=5&list-type=2'],
    ['space, plus, unicode, tilde', { prefix: 'a b+c~ü', delimiter: '/' }, undefined],
    ['repeated names', { a: ['2', '1', '10'] }, 'a=2&a=10&a=1'],
    ['needlessly escaped unreserved', { 'list-type': '2', prefix: 'abc~' }, 'list-type=%32&prefix=%61bc%7E'],
    ['lower-case escapes', { prefix: 'a/b' }, 'prefix=a%2fb'],
    ['empty pieces', { a: '1' }, '&a=1&'],
  ])('accepts query %s', async (_name, query, rawQuery) => {
    const input = await signed({ path: '/bucket/key', query, rawQuery });
    await expect(authenticate(input, lookup)).resolves.toEqual(signedResult({ kind: 'sha256', expectedHex: EMPTY_SHA256 }));
  });

  it('accepts the root path and bucket paths', async () => {
    for (const path of ['/', '/bucket', '/bucket/']) {
      const input = await signed({ path });
      await expect(authenticate(input, lookup)).resolves.toMatchObject({ kind: 'signed', accessKeyId: AKID });
    }
  });

  it('accepts any region, signing with the region the client used', async () => {
    const input = await signed({ path: '/bucket/key', region: 'eu-west-3' });
    expect(input.headers.authorization).toContain('/eu-west-3/s3/aws4_request');
    await expect(authenticate(input, lookup)).resolves.toMatchObject({ kind: 'signed' });
  });

  it('is lenient about whitespace in the Authorization header', async () => {
    const input = await signed({ path: '/bucket/key' });
    const auth = input.headers.authorization as string;
    for (const variant of [auth.replace(/, /g, ','), auth.replace(/, /g, ' ,  '), auth.replace(' ', '   '), `  ${auth}  `]) {
      await expect(authenticate({ ...input, headers: { ...input.headers, authorization: variant } }, lookup)).resolves.toMatchObject({
        kind: 'signed',
      });
    }
  });

  it('canonicalises header values: trims, collapses spaces, joins repeated values with ","', async () => {
    const input = await signed({ path: '/bucket/key', headers: { 'x-amz-meta-a': 'one  two   three', 'x-amz-meta-b': 'x,y' } });
    const headers = { ...input.headers, 'x-amz-meta-a': '  one two  three ', 'x-amz-meta-b': ['x', ' y'] };
    await expect(authenticate({ ...input, headers }, lookup)).resolves.toMatchObject({ kind: 'signed' });
  });

  it('takes the host from :authority when there is no host header (HTTP/2)', async () => {
    const input = await signed({ path: '/bucket/key' });
    const { host, ...rest } = input.headers;
    await expect(authenticate({ ...input, headers: { ...rest, ':authority': host } }, lookup)).resolves.toMatchObject({ kind: 'signed' });
  });

  it('maps x-amz-content-sha256 to the payload mode', async () => {
    const cases: Array<[string, AuthResult['payload']['kind'], boolean?]> = [
      ['UNSIGNED-PAYLOAD', 'unsigned'],
      ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'streaming-signed', false],
      ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', 'streaming-signed', true],
      ['STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'streaming-unsigned-trailer'],
    ];
    for (const [value, kind, trailer] of cases) {
      const input = await signed({ method: 'PUT', path: '/bucket/key', headers: { 'x-amz-content-sha256': value } });
      const result = await authenticate(input, lookup);
      expect(result.kind).toBe('signed');
      expect(result.payload.kind).toBe(kind);
      if (result.payload.kind === 'streaming-signed') {
        const seed = /Signature=([0-9a-f]{64})/.exec(input.headers.authorization as string)![1];
        expect(result.payload).toEqual({
          kind: 'streaming-signed',
          trailer,
          seedSignature: seed,
          signingDate: DATE,
          scope: '20260101/us-east-1/s3/aws4_request',
          secretAccessKey: SECRET,
          region: 'us-east-1',
        });
      }
    }
  });

  it('rejects an unknown x-amz-content-sha256 with InvalidArgument', async () => {
    const input = await signed({ method: 'PUT', path: '/bucket/key', headers: { 'x-amz-content-sha256': 'STREAMING-SOMETHING' } });
    await expectS3Error(authenticate(input, lookup), 'InvalidArgument', 400);
  });

  it('rejects a wrong secret with SignatureDoesNotMatch', async () => {
    const input = await signed({ path: '/bucket/key', secret: 'not-the-secret' });
    await expectS3Error(authenticate(input, lookup), 'SignatureDoesNotMatch', 403);
  });

  it('rejects an unknown access key with InvalidAccessKeyId', async () => {
    const input = await signed({ path: '/bucket/key' });
    await expectS3Error(authenticate(input, () => undefined), 'InvalidAccessKeyId', 403);
  });

  it('rejects clock skew beyond 15 minutes either way with RequestTimeTooSkewed', async () => {
    const input = await signed({ path: '/bucket/key' });
    const at = (ms: number) => ({ ...input, now: new Date(DATE.getTime() + ms) });
    await expect(authenticate(at(14 * 60_000), lookup)).resolves.toMatchObject({ kind: 'signed' });
    await expect(authenticate(at(-14 * 60_000), lookup)).resolves.toMatchObject({ kind: 'signed' });
    await expectS3Error(authenticate(at(16 * 60_000), lookup), 'RequestTimeTooSkewed', 403);
    await expectS3Error(authenticate(at(-16 * 60_000), lookup), 'RequestTimeTooSkewed', 403);
  });

  it('rejects tampering with SignatureDoesNotMatch', async () => {
    const input = await signed({ method: 'PUT', path: '/bucket/key', body: 'x', headers: { 'content-type': 'text/plain', 'x-amz-meta-a': 'b' } });
    const tamper = (changes: Partial<AuthInput>) => authenticate({ ...input, ...changes }, lookup);
    await expectS3Error(tamper({ headers: { ...input.headers, 'content-type': 'text/html' } }), 'SignatureDoesNotMatch');
    await expectS3Error(tamper({ headers: { ...input.headers, 'x-amz-meta-a': 'c' } }), 'SignatureDoesNotMatch');
    await expectS3Error(tamper({ headers: { ...input.headers, host: 'evil:9000' } }), 'SignatureDoesNotMatch');
    const otherHash = createHash('sha256').update('y').digest('hex');
    await expectS3Error(tamper({ headers: { ...input.headers, 'x-amz-content-sha256': otherHash } }), 'SignatureDoesNotMatch');
    await expectS3Error(tamper({ method: 'DELETE' }), 'SignatureDoesNotMatch');
    await expectS3Error(tamper({ rawUrl: '/bucket/kez' }), 'SignatureDoesNotMatch');
    await expectS3Error(tamper({ rawUrl: '/bucket/key?acl' }), 'SignatureDoesNotMatch');
    await expectS3Error(tamper({ rawUrl: '/bucket//key' }), 'SignatureDoesNotMatch');
    await expectS3Error(tamper({ rawUrl: '/bucket/key%2F' }), 'SignatureDoesNotMatch');
  });

  it('does not normalise or double-decode the path', async () => {
    const input = await signed({ path: s3Path('bucket', 'a/../b') });
    await expectS3Error(authenticate({ ...input, rawUrl: '/bucket/b' }, lookup), 'SignatureDoesNotMatch');
    const pct = await signed({ path: s3Path('bucket', '%41') }); // key is the 3 characters '%41'
    expect(pct.rawUrl).toBe('/bucket/%2541');
    await expect(authenticate(pct, lookup)).resolves.toMatchObject({ kind: 'signed' });
    await expectS3Error(authenticate({ ...pct, rawUrl: '/bucket/A' }, lookup), 'SignatureDoesNotMatch');
    await expectS3Error(authenticate({ ...pct, rawUrl: '/bucket/%41' }, lookup), 'SignatureDoesNotMatch');
  });

  it('treats a raw "+" in the query as a literal "+", not a space', async () => {
    const plus = await signed({ path: '/bucket', query: { prefix: 'a+b' }, rawQuery: 'prefix=a+b' });
    await expect(authenticate(plus, lookup)).resolves.toMatchObject({ kind: 'signed' });
    const space = await signed({ path: '/bucket', query: { prefix: 'a b' }, rawQuery: 'prefix=a+b' });
    await expectS3Error(authenticate(space, lookup), 'SignatureDoesNotMatch');
  });

  it('rejects malformed percent-encoding with SignatureDoesNotMatch', async () => {
    const input = await signed({ path: '/bucket/key' });
    await expectS3Error(authenticate({ ...input, rawUrl: '/bucket/%zz' }, lookup), 'SignatureDoesNotMatch');
    await expectS3Error(authenticate({ ...input, rawUrl: '/bucket/key?a=%E0%A4' }, lookup), 'SignatureDoesNotMatch');
    await expectS3Error(authenticate({ ...input, rawUrl: '/bucket/\ud800' }, lookup), 'SignatureDoesNotMatch');
    await expectS3Error(authenticate({ ...input, rawUrl: '/bucket/key?a=\udc00' }, lookup), 'SignatureDoesNotMatch');
  });

  it('rejects unsigned x-amz-* headers with AccessDenied', async () => {
    const input = await signed({ path: '/bucket/key' });
    const err = await expectS3Error(
      authenticate({ ...input, headers: { ...input.headers, 'x-amz-meta-injected': '1' } }, lookup),
      'AccessDenied',
      403,
    );
    expect(err.message).toContain('x-amz-meta-injected');
    // Headers outside x-amz-* (user-agent, x-amzn-trace-id, ...) may stay unsigned.
    const extra = { ...input.headers, 'user-agent': 'curl', 'x-amzn-trace-id': 'Root=1', 'content-length': '0' };
    await expect(authenticate({ ...input, headers: extra }, lookup)).resolves.toMatchObject({ kind: 'signed' });
  });

  it('requires x-amz-content-sha256 (InvalidRequest)', async () => {
    const input = await signed({ path: '/bucket/key', applyChecksum: false });
    expect(input.headers['x-amz-content-sha256']).toBeUndefined();
    await expectS3Error(authenticate(input, lookup), 'InvalidRequest', 400, /x-amz-content-sha256/);
  });

  it("requires 'host' among the signed headers", async () => {
    const input = await signed({ path: '/bucket/key', unsignableHeaders: new Set(['host']) });
    expect(input.headers.authorization).not.toMatch(/SignedHeaders=[^,]*host/);
    await expectS3Error(authenticate(input, lookup), 'AuthorizationHeaderMalformed', 400, /host/);
  });

  it('rejects malformed Authorization headers with AuthorizationHeaderMalformed', async () => {
    const input = await signed({ path: '/bucket/key' });
    const auth = input.headers.authorization as string;
    const variants = [
      'AWS4-HMAC-SHA256',
      'AWS4-HMAC-SHA256 ',
      auth.replace(/Signature=[0-9a-f]+/, 'Signature=zz'),
      auth.replace(/, Signature=[0-9a-f]+/, ''),
      auth.replace('Credential=AKIDEXAMPLE/', 'Credential=AKIDEXAMPLE/x/'),
      auth.replace('Credential=', 'Credentials='),
      auth.replace('/s3/', '/ec2/'),
      auth.replace('aws4_request', 'aws5_request'),
      auth.replace('/20260101/', '/2026-01-01/'),
      auth.replace('/20260101/', '/20260102/'),
      auth.replace('SignedHeaders=', 'SignedHeaders=;'),
      `${auth}, Signature=${'0'.repeat(64)}`,
      auth.replace('AWS4-HMAC-SHA256 ', 'AWS4-HMAC-SHA256,'),
    ];
    for (const authorization of variants) {
      await expectS3Error(authenticate({ ...input, headers: { ...input.headers, authorization } }, lookup), 'AuthorizationHeaderMalformed', 400);
    }
  });

  it('refuses SigV2 when it is turned off, and other schemes', async () => {
    const input = await signed({ path: '/bucket/key' });
    const noV2 = new Authenticator(lookup, { signatureV2: false });
    const withAuth = (authorization: string) => authenticate({ ...input, headers: { ...input.headers, authorization } }, lookup);
    expect(() => noV2.authenticate({ ...input, headers: { ...input.headers, authorization: 'AWS AKIDEXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=' } })).toThrow(/not supported. Please use AWS4-HMAC-SHA256/);
    await expectS3Error(withAuth('AWS'), 'InvalidArgument', 400);
    await expectS3Error(withAuth('Bearer abc'), 'InvalidArgument', 400);
    await expectS3Error(withAuth(String(input.headers.authorization).replace('AWS4-HMAC-SHA256', 'AWS4-ECDSA-P256-SHA256')), 'InvalidArgument');
    const v2query = { ...input, headers: { host: HOST }, rawUrl: '/bucket/key?AWSAccessKeyId=AKIDEXAMPLE&Expires=1&Signature=abc' };
    expect(() => noV2.authenticate(v2query)).toThrow(expect.objectContaining({ code: 'InvalidRequest', status: 400 }));
  });

  it('rejects a request carrying both an Authorization header and X-Amz-Signature', async () => {
    const input = await signed({ path: '/bucket/key' });
    await expectS3Error(authenticate({ ...input, rawUrl: `/bucket/key?X-Amz-Signature=${'0'.repeat(64)}` }, lookup), 'InvalidArgument');
  });

  it('requires a valid x-amz-date or Date header', async () => {
    const input = await signed({ path: '/bucket/key' });
    const { 'x-amz-date': _drop, ...noDate } = input.headers;
    await expectS3Error(authenticate({ ...input, headers: noDate }, lookup), 'AccessDenied', 403, /Date/);
    await expectS3Error(authenticate({ ...input, headers: { ...input.headers, 'x-amz-date': '2026-01-01T12:00:00Z' } }, lookup), 'AccessDenied');
  });

  it('accepts the Date header when x-amz-date is absent (canonical request written out per the AWS spec)', async () => {
    const date = 'Thu, 01 Jan 2026 12:00:00 GMT';
    const canonicalRequest = [
      'GET',
      '/bucket/my%20key',
      'list-type=2&prefix=a%2Fb',
      `date:${date}`,
      `host:${HOST}`,
      `x-amz-content-sha256:${EMPTY_SHA256}`,
      '',
      'date;host;x-amz-content-sha256',
      EMPTY_SHA256,
    ].join('\n');
    const stringToSign = [
      'AWS4-HMAC-SHA256',
      '20260101T120000Z',
      '20260101/us-east-1/s3/aws4_request',
      createHash('sha256').update(canonicalRequest).digest('hex'),
    ].join('\n');
    const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: { accessKeyId: AKID, secretAccessKey: SECRET }, sha256: TestSha256 });
    const signature = await signer.sign(stringToSign, { signingDate: DATE, signingRegion: 'us-east-1', signingService: 's3' });
    const input: AuthInput = {
      method: 'GET',
      rawUrl: '/bucket/my%20key?prefix=a%2Fb&list-type=2',
      headers: {
        host: HOST,
        date,
        'x-amz-content-sha256': EMPTY_SHA256,
        authorization: `AWS4-HMAC-SHA256 Credential=${AKID}/20260101/us-east-1/s3/aws4_request, SignedHeaders=date;host;x-amz-content-sha256, Signature=${signature}`,
      },
      now: DATE,
    };
    await expect(authenticate(input, lookup)).resolves.toEqual(signedResult({ kind: 'sha256', expectedHex: EMPTY_SHA256 }));
    await expectS3Error(authenticate({ ...input, headers: { ...input.headers, date: 'Thu, 01 Jan 2026 12:00:01 GMT' } }, lookup), 'SignatureDoesNotMatch');
  });
});

describe('authenticate: anonymous requests', () => {
  it('returns anonymous/unsigned without Authorization or X-Amz-Signature', async () => {
    const input: AuthInput = { method: 'GET', rawUrl: '/bucket/key?list-type=2&bad=%zz', headers: { host: HOST }, now: DATE };
    await expect(authenticate(input, lookup)).resolves.toEqual({ kind: 'anonymous', payload: { kind: 'unsigned' } });
    const withHash = { ...input, headers: { host: HOST, 'x-amz-content-sha256': EMPTY_SHA256 } };
    await expect(authenticate(withHash, lookup)).resolves.toEqual({ kind: 'anonymous', payload: { kind: 'unsigned' } });
  });

  it('keeps STREAMING-UNSIGNED-PAYLOAD-TRAILER for anonymous requests', async () => {
    const input: AuthInput = {
      method: 'PUT',
      rawUrl: '/bucket/key',
      headers: { host: HOST, 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' },
      now: DATE,
    };
    await expect(authenticate(input, lookup)).resolves.toEqual({ kind: 'anonymous', payload: { kind: 'streaming-unsigned-trailer' } });
  });

  it('refuses a signed streaming payload without a signature', async () => {
    const input: AuthInput = {
      method: 'PUT',
      rawUrl: '/bucket/key',
      headers: { host: HOST, 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' },
      now: DATE,
    };
    await expectS3Error(authenticate(input, lookup), 'InvalidRequest');
  });
});

describe('authenticate: requests made by the real S3 client', () => {
  /** An S3Client whose request handler records the signed request instead of sending it. */
  const capturingClient = (secret = SECRET) => capturingS3Client({ accessKeyId: AKID, secretAccessKey: secret });

  /** What the server sees for a request the SDK's node http handler would send. */
  function received(request: HttpRequest): AuthInput {
    const qs = buildQueryString(request.query as Record<string, string | string[] | null>);
    return {
      method: request.method,
      rawUrl: request.path + (qs === '' ? '' : `?${qs}`),
      headers: lowerCaseHeaders(request.headers),
      now: new Date(),
    };
  }

  const commands = [
    new PutObjectCommand({ Bucket: 'bucket', Key: "a b/ü+%=&~//x!'()*..", Body: 'hello', ContentType: 'text/plain', Metadata: { k: 'v  w' } }),
    new GetObjectCommand({ Bucket: 'bucket', Key: 'dir/日本 語.txt', Range: 'bytes=0-9' }),
    new ListObjectsV2Command({ Bucket: 'bucket', Prefix: 'a/b c+d', Delimiter: '/', MaxKeys: 10 }),
    new CreateMultipartUploadCommand({ Bucket: 'bucket', Key: 'big file' }),
    new UploadPartCommand({ Bucket: 'bucket', Key: 'big file', PartNumber: 1, UploadId: 'x/y+z=', Body: Buffer.from('part') }),
    new DeleteObjectsCommand({ Bucket: 'bucket', Delete: { Objects: [{ Key: 'a' }, { Key: 'b c' }] } }),
  ];

  it.each(commands.map((c) => [c.constructor.name, c] as const))('accepts %s', async (_name, command) => {
    const { client, captured } = capturingClient();
    await client.send(command as Parameters<typeof client.send>[0]).catch(() => undefined);
    expect(captured).toHaveLength(1);
    const input = received(captured[0]!);
    const result = await authenticate(input, lookup);
    expect(result).toMatchObject({ kind: 'signed', accessKeyId: AKID });
    const wrong = capturingClient('wrong-secret');
    await wrong.client.send(command as Parameters<typeof client.send>[0]).catch(() => undefined);
    await expectS3Error(authenticate(received(wrong.captured[0]!), lookup), 'SignatureDoesNotMatch');
  });
});

describe('authenticate: AWS documentation examples (known answers)', () => {
  const docNow = new Date('2013-05-24T00:05:00Z');
  const docAuth = (signedHeaders: string, signature: string) =>
    `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=${signedHeaders},Signature=${signature}`;

  it('GET Object with a Range header', async () => {
    const input: AuthInput = {
      method: 'GET',
      rawUrl: '/test.txt',
      headers: {
        host: 'examplebucket.s3.amazonaws.com',
        range: 'bytes=0-9',
        'x-amz-content-sha256': EMPTY_SHA256,
        'x-amz-date': '20130524T000000Z',
        authorization: docAuth('host;range;x-amz-content-sha256;x-amz-date', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'),
      },
      now: docNow,
    };
    await expect(authenticate(input, lookup)).resolves.toMatchObject({ kind: 'signed', accessKeyId: 'AKIAIOSFODNN7EXAMPLE' });
  });

  it('PUT Object to a key with "$"', async () => {
    const input: AuthInput = {
      method: 'PUT',
      rawUrl: '/test$file.text',
      headers: {
        host: 'examplebucket.s3.amazonaws.com',
        date: 'Fri, 24 May 2013 00:00:00 GMT',
        'x-amz-date': '20130524T000000Z',
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
        authorization: docAuth(
          'date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class',
          '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
        ),
      },
      now: docNow,
    };
    await expect(authenticate(input, lookup)).resolves.toMatchObject({ kind: 'signed' });
    // The same key sent escaped canonicalises the same way.
    await expect(authenticate({ ...input, rawUrl: '/test%24file.text' }, lookup)).resolves.toMatchObject({ kind: 'signed' });
  });

  it('GET Bucket lifecycle (?lifecycle) and list objects (?max-keys=2&prefix=J)', async () => {
    const base = {
      host: 'examplebucket.s3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-content-sha256': EMPTY_SHA256,
    };
    const lifecycle: AuthInput = {
      method: 'GET',
      rawUrl: '/?lifecycle',
      headers: { ...base, authorization: docAuth('host;x-amz-content-sha256;x-amz-date', 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543') },
      now: docNow,
    };
    await expect(authenticate(lifecycle, lookup)).resolves.toMatchObject({ kind: 'signed' });
    const list: AuthInput = {
      method: 'GET',
      rawUrl: '/?max-keys=2&prefix=J',
      headers: { ...base, authorization: docAuth('host;x-amz-content-sha256;x-amz-date', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7') },
      now: docNow,
    };
    await expect(authenticate(list, lookup)).resolves.toMatchObject({ kind: 'signed' });
  });
});
