/**
 * Remembered presigned-URL verdicts (src/s3/auth/presigned-verdicts.ts) through the Authenticator:
 * a URL verified once is accepted again without rebuilding its signature, and never where the full
 * check would refuse it: another target, another signed header value, an unsigned x-amz-* header,
 * a rotated or removed secret, outside its validity window, and never for writes.
 */
import crypto from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Authenticator, type AuthInput } from '../../src/s3/auth';
import { PresignedVerdicts } from '../../src/s3/auth/presigned-verdicts';
import { S3Error } from '../../src/s3/errors';

const AKID = 'AKIDEXAMPLE';
const HOST = '127.0.0.1:9000';
const DATE = new Date('2026-01-01T12:00:00Z');

/** What the server receives for a URL presigned by the SDK's presigner. */
async function presigned(method: 'GET' | 'HEAD', key: string, secret: string, expiresIn = 600): Promise<AuthInput> {
  const s3 = new S3Client({ region: 'us-east-1', endpoint: `http://${HOST}`, forcePathStyle: true, credentials: { accessKeyId: AKID, secretAccessKey: secret } });
  const command = method === 'GET' ? new GetObjectCommand({ Bucket: 'bucket', Key: key }) : new HeadObjectCommand({ Bucket: 'bucket', Key: key });
  const url = new URL(await getSignedUrl(s3, command, { expiresIn, signingDate: DATE }));
  s3.destroy();
  return { method, rawUrl: url.pathname + url.search, headers: { host: HOST }, now: new Date(DATE.getTime() + 1000) };
}

function codeOf(run: () => unknown): string {
  try {
    run();
    return 'ok';
  } catch (err) {
    if (err instanceof S3Error) return err.code;
    throw err;
  }
}

describe('remembered presigned verdicts', () => {
  const secrets = new Map([[AKID, 'first-secret']]);
  let auth: Authenticator;
  let get: AuthInput;
  beforeEach(async () => {
    secrets.set(AKID, 'first-secret');
    auth = new Authenticator((id) => secrets.get(id));
    get = await presigned('GET', 'some/key.bin', 'first-secret');
    expect(auth.authenticate(get)).toMatchObject({ kind: 'signed', accessKeyId: AKID, payload: { kind: 'unsigned' } });
  });

  it('accepts the same URL again without computing its signature, and a HEAD of its own', async () => {
    const hmacs = jest.spyOn(crypto, 'createHmac');
    const hashes = jest.spyOn(crypto, 'createHash');
    try {
      expect(auth.authenticate(get)).toMatchObject({ kind: 'signed', accessKeyId: AKID, payload: { kind: 'unsigned' } });
      expect(hmacs).not.toHaveBeenCalled();
      expect(hashes).not.toHaveBeenCalled();
      // Another target is checked in full (and refused: the signature does not cover it).
      expect(codeOf(() => auth.authenticate({ ...get, rawUrl: `${get.rawUrl}&x-id=GetObject` }))).toBe('SignatureDoesNotMatch');
      expect(hmacs).toHaveBeenCalled();
    } finally {
      hmacs.mockRestore();
      hashes.mockRestore();
    }
    expect(auth.authenticate({ ...get, headers: { ...get.headers, 'user-agent': 'curl', range: 'bytes=0-9' } })).toMatchObject({ kind: 'signed' });
    const head = await presigned('HEAD', 'some/key.bin', 'first-secret');
    expect(codeOf(() => auth.authenticate(head))).toBe('ok');
    // The GET URL is not a HEAD URL.
    expect(codeOf(() => auth.authenticate({ ...get, method: 'HEAD' }))).toBe('SignatureDoesNotMatch');
  });

  it('refuses another target or another signed header value', () => {
    expect(codeOf(() => auth.authenticate({ ...get, rawUrl: get.rawUrl.replace('key.bin', 'key.bim') }))).toBe('SignatureDoesNotMatch');
    expect(codeOf(() => auth.authenticate({ ...get, rawUrl: `${get.rawUrl}&extra=1` }))).toBe('SignatureDoesNotMatch');
    expect(codeOf(() => auth.authenticate({ ...get, headers: { host: 'other.example:9000' } }))).toBe('SignatureDoesNotMatch');
  });

  it('refuses unsigned x-amz-* headers on a remembered URL', () => {
    expect(codeOf(() => auth.authenticate({ ...get, headers: { ...get.headers, 'x-amz-meta-added': 'x' } }))).toBe('AccessDenied');
    expect(codeOf(() => auth.authenticate({ ...get, headers: { ...get.headers, authorization: 'AWS4-HMAC-SHA256 Credential=x' } }))).not.toBe('ok');
  });

  it('refuses it once the secret is rotated or the key removed', () => {
    secrets.set(AKID, 'second-secret');
    expect(codeOf(() => auth.authenticate(get))).toBe('SignatureDoesNotMatch');
    secrets.delete(AKID);
    expect(codeOf(() => auth.authenticate(get))).toBe('InvalidAccessKeyId');
  });

  it('refuses it after it expires and before its time', () => {
    expect(codeOf(() => auth.authenticate({ ...get, now: new Date(DATE.getTime() + 601_000) }))).toBe('AccessDenied');
    expect(codeOf(() => auth.authenticate({ ...get, now: new Date(DATE.getTime() - 16 * 60_000) }))).toBe('RequestTimeTooSkewed');
    expect(codeOf(() => auth.authenticate(get))).toBe('ok');
  });
});

describe('PresignedVerdicts', () => {
  const verdict = { accessKeyId: AKID, secretAccessKey: 's', signedHeaders: ['host'], payloadHash: 'UNSIGNED-PAYLOAD', validFrom: 0, validUntil: 10_000 };
  const secretOf = () => 's';

  it('keeps GET and HEAD only', () => {
    const verdicts = new PresignedVerdicts();
    for (const method of ['GET', 'HEAD', 'PUT', 'POST', 'DELETE']) verdicts.remember(method, '/b/k?X-Amz-Signature=1', { host: 'h' }, verdict);
    expect(verdicts.size).toBe(2);
    expect(verdicts.find('PUT', '/b/k?X-Amz-Signature=1', { host: 'h' }, 5, secretOf)).toBeUndefined();
    expect(verdicts.find('GET', '/b/k?X-Amz-Signature=1', { host: 'h' }, 5, secretOf)).toMatchObject({ accessKeyId: AKID });
  });

  it('holds at most maxEntries, the oldest out first, and drops expired ones when met', () => {
    const verdicts = new PresignedVerdicts(3);
    for (let i = 0; i < 5; i++) verdicts.remember('GET', `/b/k${i}`, { host: 'h' }, verdict);
    expect(verdicts.size).toBe(3);
    expect(verdicts.find('GET', '/b/k0', { host: 'h' }, 5, secretOf)).toBeUndefined();
    expect(verdicts.find('GET', '/b/k4', { host: 'h' }, 5, secretOf)).toBeDefined();
    expect(verdicts.find('GET', '/b/k4', { host: 'h' }, 10_001, secretOf)).toBeUndefined();
    expect(verdicts.size).toBe(2);
  });
});
