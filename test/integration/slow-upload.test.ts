/**
 * Authenticated clients that send their bodies too slowly (one byte at a time) are cut off with
 * 400 RequestTimeout: no object, no part, no temp file, the socket closed. A client that keeps
 * above the minimum rate is not. The windows are short here (server.bodyIdleTimeoutMs 800 ms,
 * at least 200 B/s); the slow clients send 10 B/s, the paced one 2 KiB/s.
 */
import http from 'node:http';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { CreateBucketCommand, CreateMultipartUploadCommand, HeadObjectCommand, ListPartsCommand } from '@aws-sdk/client-s3';
import { errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';
import { signRequest } from '../helpers/raw-request';

const Bucket = 'slow';
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ server: { host: '127.0.0.1', port: 0, bodyIdleTimeoutMs: 800, bodyMinBytesPerSecond: 200 } });
  await gw.client().send(new CreateBucketCommand({ Bucket }));
});
afterAll(() => gw.close());

interface Outcome {
  status: number;
  body: string;
  /** Bytes the client had sent when the answer came. */
  sent: number;
  ms: number;
}

/**
 * Sends a signed request whose body of `size` bytes goes out `step` bytes every `everyMs`; resolves
 * with the answer (the client stops sending once it has one).
 */
async function paced(method: string, target: string, query: Record<string, string>, size: number, step: number, everyMs: number): Promise<Outcome> {
  const signed = await signRequest(gw.url, { method, path: target, query, headers: { 'content-length': String(size) } });
  const { hostname, port } = new URL(gw.url);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const req = http.request({ host: hostname, port, method, path: signed.path, headers: signed.headers }, (res) => {
      clearInterval(timer);
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sent, ms: Date.now() - started }));
    });
    req.on('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
    timer = setInterval(() => {
      const n = Math.min(step, size - sent);
      if (n <= 0) {
        clearInterval(timer);
        req.end();
        return;
      }
      sent += n;
      req.write(Buffer.alloc(n, 0x61));
    }, everyMs);
  });
}

const tempFiles = async (): Promise<string[]> => readdir(path.join(gw.dataDir, Bucket, '.ringcache', 'tmp')).catch(() => []);

test('20 slow PUTs are cut off with 400 RequestTimeout: no object, no temp file', async () => {
  const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => paced('PUT', `/${Bucket}/slow-${i}`, {}, 10_000, 1, 100)));
  for (const o of outcomes) {
    expect(o.status).toBe(400);
    expect(o.body).toContain('<Code>RequestTimeout</Code>');
    expect(o.sent).toBeLessThan(10_000);
  }
  for (let i = 0; i < 20; i++) expect(await errorCode(gw.client().send(new HeadObjectCommand({ Bucket, Key: `slow-${i}` })))).toBe('NotFound');
  expect(await tempFiles()).toEqual([]);
});

test('a slow UploadPart stores no part; a slow DeleteObjects body is a RequestTimeout too', async () => {
  const { UploadId } = await gw.client().send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp' }));
  const part = await paced('PUT', `/${Bucket}/mp`, { partNumber: '1', uploadId: UploadId as string }, 10_000, 1, 100);
  expect({ status: part.status, code: /<Code>(\w+)/.exec(part.body)?.[1] }).toEqual({ status: 400, code: 'RequestTimeout' });
  expect((await gw.client().send(new ListPartsCommand({ Bucket, Key: 'mp', UploadId }))).Parts ?? []).toEqual([]);
  const del = await paced('POST', `/${Bucket}`, { delete: '' }, 5_000, 1, 100);
  expect({ status: del.status, code: /<Code>(\w+)/.exec(del.body)?.[1] }).toEqual({ status: 400, code: 'RequestTimeout' });
});

test('a client that keeps above the minimum rate uploads its object, however many windows it takes', async () => {
  const o = await paced('PUT', `/${Bucket}/steady`, {}, 6 * 1024, 256, 125);
  expect(o.status).toBe(200);
  expect(o.sent).toBe(6 * 1024);
  expect(o.ms).toBeGreaterThan(800); // it spanned more than one window
  expect(await errorCode(gw.client().send(new HeadObjectCommand({ Bucket, Key: 'steady' })))).toBe('ok');
});
