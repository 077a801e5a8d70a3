/**
 * A miss streams the page to the client as its bytes arrive from the store (cut-through), instead
 * of after the whole page: the client's first byte waits for the store's first byte, not its last.
 * Readers that come while the page fills join it (one store read). A store failure after bytes
 * went out cuts the response (never a short or mixed object) and keeps nothing; the next read
 * works.
 */
import http from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ufsError } from '../../ufs-adapters/errors';
import type { ByteRange, ObjectInfo, UfsAdapter } from '../../ufs-adapters/types';
import { createAdapter } from '../../src/mounts/adapter-factory';
import { startTestGateway, type TestGateway } from '../helpers/gateway';
import { signRequest } from '../helpers/raw-request';

const PAGE = 256 * 1024;
const Bucket = 'cut';
const DATA = Buffer.alloc(200 * 1024).map((_, i) => (i * 7) % 256);

/** The store's page bodies, released by the test chunk by chunk. */
interface HeldBody {
  stream: PassThrough;
  bytes: Buffer;
  sent: number;
}

let gw: TestGateway;
const held: HeldBody[] = [];
let dataReads = 0;

/** The local adapter, whose page bodies (readWithInfo and read) the test releases by hand. */
function heldStore(inner: UfsAdapter): UfsAdapter {
  const hold = async (source: Readable): Promise<Readable> => {
    const chunks: Buffer[] = [];
    for await (const c of source) chunks.push(c as Buffer);
    const body: HeldBody = { stream: new PassThrough(), bytes: Buffer.concat(chunks), sent: 0 };
    held.push(body);
    return body.stream;
  };
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'readWithInfo') {
        return async (key: string, range: ByteRange): Promise<{ info: ObjectInfo; body: Readable }> => {
          dataReads++;
          const { info, body } = await (target.readWithInfo as NonNullable<UfsAdapter['readWithInfo']>)(key, range);
          return { info, body: await hold(body) };
        };
      }
      if (property === 'read') {
        return async (key: string, range: ByteRange | undefined, options: object) => {
          dataReads++;
          return hold(await target.read(key, range, options));
        };
      }
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}

function release(body: HeldBody, bytes: number): void {
  const chunk = body.bytes.subarray(body.sent, Math.min(body.bytes.length, body.sent + bytes));
  body.sent += chunk.length;
  body.stream.write(chunk);
  if (body.sent === body.bytes.length) body.stream.end();
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A GET whose progress the test can watch: status, bytes received, end or error. */
function watchedGet(key: string): { status: () => number; received: () => Buffer; settled: Promise<'end' | 'error'> } {
  const chunks: Buffer[] = [];
  let status = 0;
  const settled = signRequest(gw.url, { method: 'GET', path: `/${Bucket}/${key}` }).then(
    ({ path, headers }) =>
      new Promise<'end' | 'error'>((resolve) => {
        const req = http.request({ host: '127.0.0.1', port: gw.port, path, headers, agent: false }, (res) => {
          status = res.statusCode ?? 0;
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve('end'));
          res.on('error', () => resolve('error'));
          res.on('aborted', () => resolve('error'));
        });
        req.on('error', () => resolve('error'));
        req.setTimeout(15_000, () => req.destroy(new Error('timed out')));
        req.end();
      }),
  );
  return { status: () => status, received: () => Buffer.concat(chunks), settled };
}

beforeAll(async () => {
  gw = await startTestGateway({ cache: { pageSize: PAGE } }, { adapterFactory: (uri, options) => heldStore(createAdapter(uri, options)) });
  await gw.client().send(new CreateBucketCommand({ Bucket }));
});
afterAll(() => gw.close());

test('the client gets the first bytes of a miss while the store is still sending the page', async () => {
  await gw.client().send(new PutObjectCommand({ Bucket, Key: 'a.bin', Body: DATA }));
  const before = held.length;
  const get = watchedGet('a.bin');
  await waitFor(() => held.length > before, 'the store read');
  const body = held[held.length - 1];
  release(body, 16 * 1024);
  await waitFor(() => get.received().length >= 16 * 1024, 'the first 16 KiB at the client');
  expect(get.status()).toBe(200);
  expect(body.sent).toBeLessThan(DATA.length); // the store has not finished
  release(body, DATA.length);
  expect(await get.settled).toBe('end');
  expect(get.received().equals(DATA)).toBe(true);
  const reads = dataReads;
  const again = watchedGet('a.bin');
  expect(await again.settled).toBe('end');
  expect(again.received().equals(DATA)).toBe(true);
  expect(dataReads).toBe(reads); // kept: a hit
});

test('readers that come while the page fills join it: one store read for all', async () => {
  await gw.client().send(new PutObjectCommand({ Bucket, Key: 'b.bin', Body: DATA }));
  const before = held.length;
  const reads = dataReads;
  const first = watchedGet('b.bin');
  await waitFor(() => held.length > before, 'the store read');
  const body = held[held.length - 1];
  release(body, 8 * 1024);
  await waitFor(() => first.received().length > 0, 'the first bytes');
  const second = watchedGet('b.bin');
  await waitFor(() => second.received().length >= 8 * 1024, 'the joined reader catching up');
  release(body, DATA.length);
  expect(await first.settled).toBe('end');
  expect(await second.settled).toBe('end');
  expect(first.received().equals(DATA) && second.received().equals(DATA)).toBe(true);
  expect(dataReads - reads).toBe(1);
});

test('a store failure after bytes went out cuts the response; nothing is kept; the next read works', async () => {
  await gw.client().send(new PutObjectCommand({ Bucket, Key: 'c.bin', Body: DATA }));
  const before = held.length;
  const get = watchedGet('c.bin');
  await waitFor(() => held.length > before, 'the store read');
  const body = held[held.length - 1];
  release(body, 16 * 1024);
  await waitFor(() => get.received().length >= 16 * 1024, 'the first bytes');
  body.stream.destroy(ufsError('Unavailable', 'connection reset (test)'));
  expect(await get.settled).toBe('error');
  expect(get.received().length).toBeLessThan(DATA.length);

  const next = watchedGet('c.bin');
  await waitFor(() => held.length > before + 1, 'the store read of the retry');
  release(held[held.length - 1], DATA.length);
  expect(await next.settled).toBe('end');
  expect(next.received().equals(DATA)).toBe(true);
});
