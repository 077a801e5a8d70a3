/**
 * Signature Version 2: the AWS documentation's worked example, the canonical forms (amz headers,
 * sub-resources), presigned URLs, and the errors S3 gives. Real clients (botocore, s3cmd) sign
 * against the running gateway in test/integration/sigv2-clients.test.ts.
 */
import { Authenticator, type AuthInput } from '../../src/s3/auth';
import { canonicalAmzHeaders, canonicalResource, signV2 } from '../../src/s3/auth/sigv2';
import { splitRawUrl } from '../../src/s3/auth/raw-url';

const AKID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const lookup = (id: string) => (id === AKID ? SECRET : undefined);
const auth = new Authenticator(lookup, { baseDomain: 's3.us-west-1.amazonaws.com' });

const thrown = (fn: () => unknown): { code?: string; status?: number; message?: string } => {
  try {
    fn();
  } catch (err) {
    return err as { code: string; status: number; message: string };
  }
  throw new Error('expected a throw');
};

describe('SigV2 header authentication', () => {
  it("verifies the AWS documentation's example (virtual-hosted GET of /photos/puppy.jpg)", () => {
    const input: AuthInput = {
      method: 'GET',
      rawUrl: '/photos/puppy.jpg',
      headers: {
        host: 'awsexamplebucket1.s3.us-west-1.amazonaws.com',
        date: 'Tue, 27 Mar 2007 19:36:42 +0000',
        authorization: `AWS ${AKID}:qgk2+6Sv9/oM7G3qLEjTH1a1l1g=`,
      },
      now: new Date('2007-03-27T19:40:00Z'),
    };
    expect(auth.authenticate(input)).toEqual({ kind: 'signed', accessKeyId: AKID, payload: { kind: 'unsigned' } });
    const tampered = { ...input, headers: { ...input.headers, authorization: `AWS ${AKID}:qgk2+6Sv9/oM7G3qLEjTH1a1l1h=` } };
    expect(thrown(() => auth.authenticate(tampered))).toMatchObject({ code: 'SignatureDoesNotMatch', status: 403 });
  });

  const now = new Date('2026-01-01T12:00:00Z');
  const date = now.toUTCString();
  const signed = (method: string, rawUrl: string, headers: Record<string, string>, toSign: string): AuthInput => ({
    method,
    rawUrl,
    headers: { host: '127.0.0.1:9000', ...headers, authorization: `AWS ${AKID}:${signV2(SECRET, toSign)}` },
    now,
  });

  it('signs Content-MD5, Content-Type, sorted x-amz-* headers and the sub-resources, not other query parameters', () => {
    const input = signed(
      'PUT',
      '/bucket/a%20b.txt?uploadId=xyz&partNumber=2&foo=bar',
      { date, 'content-md5': 'XrY7u+Ae7tCTyyK7j1rNww==', 'content-type': 'text/plain', 'x-amz-meta-b': ' two ', 'X-Amz-Meta-A': 'one' },
      `PUT\nXrY7u+Ae7tCTyyK7j1rNww==\ntext/plain\n${date}\nx-amz-meta-a:one\nx-amz-meta-b:two\n/bucket/a%20b.txt?partNumber=2&uploadId=xyz`,
    );
    expect(auth.authenticate(input)).toMatchObject({ kind: 'signed', accessKeyId: AKID });
  });

  it('signs an empty Date line when x-amz-date is sent', () => {
    const input = signed('GET', '/bucket/k', { 'x-amz-date': date }, `GET\n\n\n\nx-amz-date:${date}\n/bucket/k`);
    expect(auth.authenticate(input)).toMatchObject({ kind: 'signed' });
  });

  it('answers S3 errors for an unknown key, a skewed clock, no date and a malformed header', () => {
    const ok = signed('GET', '/bucket/k', { date }, `GET\n\n\n${date}\n/bucket/k`);
    expect(thrown(() => auth.authenticate({ ...ok, headers: { ...ok.headers, authorization: 'AWS NOBODY:abc=' } }))).toMatchObject({ code: 'InvalidAccessKeyId', status: 403 });
    expect(thrown(() => auth.authenticate({ ...ok, now: new Date(now.getTime() + 16 * 60_000) }))).toMatchObject({ code: 'RequestTimeTooSkewed', status: 403 });
    const { date: _d, ...noDate } = ok.headers;
    expect(thrown(() => auth.authenticate({ ...ok, headers: noDate }))).toMatchObject({ code: 'AccessDenied', status: 403 });
    expect(thrown(() => auth.authenticate({ ...ok, headers: { ...ok.headers, authorization: `AWS ${AKID}` } }))).toMatchObject({ code: 'InvalidArgument', status: 400 });
  });

  it('is refused with InvalidRequest when turned off', () => {
    const ok = signed('GET', '/bucket/k', { date }, `GET\n\n\n${date}\n/bucket/k`);
    const off = new Authenticator(lookup, { signatureV2: false });
    expect(thrown(() => off.authenticate(ok))).toMatchObject({ code: 'InvalidRequest', status: 400 });
  });
});

describe('SigV2 presigned URLs', () => {
  const expires = 1767272400; // 2026-01-01T13:00:00Z
  const url = (path: string, signature: string, extra = '') =>
    `${path}${path.includes('?') ? '&' : '?'}AWSAccessKeyId=${AKID}&Expires=${expires}&Signature=${encodeURIComponent(signature)}${extra}`;

  it('verifies Expires in the Date line and the response-* overrides with their decoded values', () => {
    const signature = signV2(SECRET, `GET\n\n\n${expires}\n/bucket/photo.jpg?response-content-disposition=attachment; filename="a b.jpg"`);
    const rawUrl = url('/bucket/photo.jpg?response-content-disposition=attachment%3B%20filename%3D%22a%20b.jpg%22', signature);
    const input: AuthInput = { method: 'GET', rawUrl, headers: { host: '127.0.0.1:9000' }, now: new Date('2026-01-01T12:30:00Z') };
    expect(auth.authenticate(input)).toMatchObject({ kind: 'signed', accessKeyId: AKID });
    expect(thrown(() => auth.authenticate({ ...input, now: new Date('2026-01-01T13:00:01Z') }))).toMatchObject({ code: 'AccessDenied', message: 'Request has expired' });
    expect(thrown(() => auth.authenticate({ ...input, method: 'PUT' }))).toMatchObject({ code: 'SignatureDoesNotMatch' });
  });

  it('needs all three parameters and only one mechanism', () => {
    const input: AuthInput = { method: 'GET', rawUrl: `/bucket/k?AWSAccessKeyId=${AKID}&Signature=abc`, headers: { host: 'h' }, now: new Date() };
    expect(thrown(() => auth.authenticate(input))).toMatchObject({ code: 'AccessDenied', status: 403 });
    const both = { ...input, rawUrl: `${input.rawUrl}&Expires=1&X-Amz-Signature=00` };
    expect(thrown(() => auth.authenticate(both))).toMatchObject({ code: 'InvalidArgument', status: 400 });
  });

  it('takes x-amz-* query parameters as amz headers (how botocore presigns them)', () => {
    const signature = signV2(SECRET, `PUT\n\ntext/plain\n${expires}\nx-amz-acl:public-read\n/bucket/k`);
    const rawUrl = url('/bucket/k?x-amz-acl=public-read&content-type=text%2Fplain', signature);
    const input: AuthInput = { method: 'PUT', rawUrl, headers: { host: 'h' }, now: new Date('2026-01-01T12:30:00Z') };
    expect(auth.authenticate(input)).toMatchObject({ kind: 'signed' });
  });
});

describe('SigV2 canonical forms', () => {
  it('CanonicalizedResource: bucket from the Host, raw path, sorted sub-resources, bare names without a value', () => {
    const { rawPath, params } = splitRawUrl('/k%2Fx?versionId=null&acl&list-type=2&uploads=');
    expect(canonicalResource(rawPath, params, 'b')).toBe('/b/k%2Fx?acl&uploads&versionId=null');
  });

  it('CanonicalizedAmzHeaders: lower-cased, sorted, repeated values joined, folded lines unfolded', () => {
    expect(canonicalAmzHeaders({ 'x-amz-meta-z': ['a', ' b '], 'X-AMZ-META-A': 'line\r\n  two', date: 'x' })).toBe('x-amz-meta-a:line two\nx-amz-meta-z:a,b\n');
  });
});
