/** The one JSON error shape of the admin, jobs and cluster routes. */
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { jsonErrorHandler } from '../../src/admin/json-error';
import { bucketError } from '../../src/mounts/bucket-errors';
import { ufsError } from '../../ufs-adapters/errors';

const app = Fastify({ logger: false });
beforeAll(async () => {
  app.setErrorHandler(jsonErrorHandler('test request', (status, err) => (status === 413 ? 'too big' : err.message)));
  app.get('/bucket', async () => {
    throw bucketError('NoSuchBucket');
  });
  app.get('/store', async () => {
    throw ufsError('Unavailable', 'the store is down');
  });
  app.get('/bug', async () => {
    throw new TypeError('x is undefined');
  });
  app.post('/json', { bodyLimit: 16 }, async (request) => request.body);
  await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => app.close());

test.each([
  ['GET', '/bucket', 404, 'NoSuchBucket', undefined],
  ['GET', '/store', 503, 'ServiceUnavailable', undefined],
  ['GET', '/bug', 500, 'InternalError', undefined],
  ['POST', '/json', 400, 'InvalidArgument', '{"not json'],
  ['POST', '/json', 413, 'EntityTooLarge', JSON.stringify({ long: 'x'.repeat(64) })],
] as const)('%s %s answers %i %s as JSON', async (method, url, status, code, payload) => {
  const address = app.server.address() as AddressInfo;
  const res = await fetch(`http://127.0.0.1:${address.port}${url}`, { method, body: payload, headers: payload ? { 'content-type': 'application/json' } : {}, signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(status);
  const body = (await res.json()) as { error: string; message: unknown };
  expect(body.error).toBe(code);
  expect(typeof body.message).toBe('string');
  if (status === 413) expect(body.message).toBe('too big');
  // An unexpected failure says nothing of its cause to the caller.
  if (status === 500) expect(body.message).not.toContain('undefined');
});
