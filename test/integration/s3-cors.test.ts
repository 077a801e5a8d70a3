/**
 * CORS, as a web page uses it against the gateway: Put/Get/DeleteBucketCors with the SDK, OPTIONS
 * preflights answered from the bucket's rules (allowed, refused, malformed), and the
 * Access-Control-* headers on cross-origin requests with presigned URLs, on errors, and on warm
 * hits answered in front of fastify.
 */
import {
  CreateBucketCommand,
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';

const APP = 'https://app.example';
let gw: TestGateway;

async function warmHits(): Promise<number> {
  const values = (await gw.metrics.registry.getSingleMetric('ringcache_s3_warm_hits_total')?.get())?.values ?? [];
  return values.reduce((sum, v) => sum + v.value, 0);
}

const preflight = (path: string, headers: Record<string, string>) => fetch(`${gw.url}${path}`, { method: 'OPTIONS', headers });

beforeAll(async () => {
  gw = await startTestGateway();
  const s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'web' }));
  await s3.send(new CreateBucketCommand({ Bucket: 'no-cors' }));
  await s3.send(new PutObjectCommand({ Bucket: 'web', Key: 'page.json', Body: '{"hello":1}', ContentType: 'application/json' }));
  await s3.send(
    new PutBucketCorsCommand({
      Bucket: 'web',
      CORSConfiguration: {
        CORSRules: [
          { ID: 'app', AllowedOrigins: [APP, 'https://*.app.example'], AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag', 'x-amz-request-id'], MaxAgeSeconds: 600 },
          { AllowedOrigins: ['*'], AllowedMethods: ['GET'] },
        ],
      },
    }),
  );
});
afterAll(() => gw?.close());

describe('bucket CORS configuration', () => {
  it('GetBucketCors returns the rules as they were put', async () => {
    const got = await gw.client().send(new GetBucketCorsCommand({ Bucket: 'web' }));
    expect(got.CORSRules).toEqual([
      { ID: 'app', AllowedOrigins: [APP, 'https://*.app.example'], AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag', 'x-amz-request-id'], MaxAgeSeconds: 600 },
      { AllowedOrigins: ['*'], AllowedMethods: ['GET'] },
    ]);
    expect(await errorCode(gw.client().send(new GetBucketCorsCommand({ Bucket: 'no-cors' })))).toBe('NoSuchCORSConfiguration');
  });

  it('refuses rules S3 refuses', async () => {
    const put = (rule: Record<string, unknown>) => errorCode(gw.client().send(new PutBucketCorsCommand({ Bucket: 'no-cors', CORSConfiguration: { CORSRules: [rule as never] } })));
    expect(await put({ AllowedOrigins: [APP], AllowedMethods: ['PATCH'] })).toBe('InvalidRequest');
    expect(await put({ AllowedOrigins: ['https://*.*.example'], AllowedMethods: ['GET'] })).toBe('InvalidRequest');
    expect(await put({ AllowedOrigins: [], AllowedMethods: ['GET'] })).toBe('MalformedXML');
  });
});

describe('preflight (OPTIONS)', () => {
  it('is answered from the first matching rule', async () => {
    const res = await preflight('/web/uploads/new.bin', { origin: APP, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'Content-Type, X-Amz-Date' });
    expect(res.status).toBe(200);
    expect(Object.fromEntries([...res.headers].filter(([k]) => k.startsWith('access-control-') || k === 'vary'))).toEqual({
      'access-control-allow-origin': APP,
      'access-control-allow-methods': 'GET, PUT, POST, HEAD',
      'access-control-allow-headers': 'content-type, x-amz-date',
      'access-control-expose-headers': 'ETag, x-amz-request-id',
      'access-control-max-age': '600',
      'access-control-allow-credentials': 'true',
      vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
    });
    const sub = await preflight('/web/page.json', { origin: 'https://eu.app.example', 'access-control-request-method': 'POST' });
    expect(sub.headers.get('access-control-allow-origin')).toBe('https://eu.app.example');
    const any = await preflight('/web', { origin: 'https://elsewhere.example', 'access-control-request-method': 'GET' });
    expect(any.status).toBe(200);
    expect(any.headers.get('access-control-allow-origin')).toBe('*');
    expect(any.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('is 403 AccessForbidden when no rule allows it or the bucket has none, 400 without Origin', async () => {
    const refused = await preflight('/web/page.json', { origin: 'https://elsewhere.example', 'access-control-request-method': 'DELETE' });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('<Code>AccessForbidden</Code>');
    expect((await preflight('/no-cors/x', { origin: APP, 'access-control-request-method': 'GET' })).status).toBe(403);
    const bare = await preflight('/web/page.json', { 'access-control-request-method': 'GET' });
    expect(bare.status).toBe(400);
    expect(await bare.text()).toContain('Origin request header needed');
  });
});

describe('cross-origin requests', () => {
  it('a presigned GET carries the Access-Control-* headers, from fastify and then from the warm-hit path', async () => {
    const url = await getSignedUrl(gw.client(), new GetObjectCommand({ Bucket: 'web', Key: 'page.json' }), { expiresIn: 600 });
    const first = await fetch(url, { headers: { origin: APP } });
    expect(first.status).toBe(200);
    expect(first.headers.get('access-control-allow-origin')).toBe(APP);
    expect(first.headers.get('access-control-expose-headers')).toBe('ETag, x-amz-request-id');
    expect(await first.text()).toBe('{"hello":1}');
    const before = await warmHits();
    const second = await fetch(url, { headers: { origin: APP } });
    expect(await second.text()).toBe('{"hello":1}');
    expect(await warmHits()).toBe(before + 1);
    expect(second.headers.get('access-control-allow-origin')).toBe(APP);
    expect(second.headers.get('access-control-allow-methods')).toBe('GET, PUT, POST, HEAD');
    const plain = await fetch(url);
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('a presigned PUT from the page, and an error answer, carry them too; other origins get none', async () => {
    const put = await getSignedUrl(gw.client(), new PutObjectCommand({ Bucket: 'web', Key: 'from-page.txt' }), { expiresIn: 600 });
    const res = await fetch(put, { method: 'PUT', body: 'uploaded by a page', headers: { origin: APP } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    const missing = await getSignedUrl(gw.client(), new GetObjectCommand({ Bucket: 'web', Key: 'nope.json' }), { expiresIn: 600 });
    const notFound = await fetch(missing, { headers: { origin: APP } });
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get('access-control-allow-origin')).toBe(APP);
    const other = await fetch(put, { method: 'PUT', body: 'x', headers: { origin: 'https://elsewhere.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('DeleteBucketCors removes the rules: preflights are refused again', async () => {
    await gw.client().send(new PutBucketCorsCommand({ Bucket: 'no-cors', CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['GET'] }] } }));
    expect((await preflight('/no-cors/x', { origin: APP, 'access-control-request-method': 'GET' })).status).toBe(200);
    await gw.client().send(new DeleteBucketCorsCommand({ Bucket: 'no-cors' }));
    expect(await errorCode(gw.client().send(new GetBucketCorsCommand({ Bucket: 'no-cors' })))).toBe('NoSuchCORSConfiguration');
    expect((await preflight('/no-cors/x', { origin: APP, 'access-control-request-method': 'GET' })).status).toBe(403);
  });
});
