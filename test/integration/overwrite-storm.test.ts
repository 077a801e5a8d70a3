/**
 * GETs racing overwrites of the object they read, through the gateway and its cache:
 *   - rewritten in place behind the gateway (rsync --inplace, dd conv=notrunc): a GET answers
 *     one whole version or fails (503 before the headers, an aborted body after); never a body
 *     mixing both versions;
 *   - replaced through the gateway (PUT: temp file + rename): every GET answers one whole version,
 *     read from the file it opened, not 503 "changing too fast".
 * Bounded in iterations, not time.
 */
import { open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTestGateway, type TestGateway } from '../helpers/gateway';
import http from 'node:http';
import { rawRequest, signRequest } from '../helpers/raw-request';

const Bucket = 'storm';
const SIZE = 3 * 1024 * 1024 + 4321; // four pages
const version = (byte: string): Buffer => Buffer.alloc(SIZE, byte);

type Outcome = 'a' | 'b' | 'failed' | 'mixed';

/** Rewrites `file` in place, front to back in 256 KiB writes, as rsync --inplace or dd conv=notrunc do. */
async function rewriteInPlace(file: string, content: Buffer): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    for (let at = 0; at < content.length; at += 256 * 1024) {
      await handle.write(content, at, Math.min(256 * 1024, content.length - at), at);
    }
  } finally {
    await handle.close();
  }
}

async function getOnce(gw: TestGateway, key: string): Promise<{ outcome: Outcome; status: number }> {
  try {
    const res = await rawRequest(gw.url, { method: 'GET', path: `/${Bucket}/${key}` });
    if (res.status !== 200) return { outcome: 'failed', status: res.status };
    const body = Buffer.from(res.body, 'latin1');
    if (res.body.length !== SIZE) return { outcome: 'failed', status: res.status }; // cut short: aborted
    if (body.equals(version('a'))) return { outcome: 'a', status: 200 };
    if (body.equals(version('b'))) return { outcome: 'b', status: 200 };
    return { outcome: 'mixed', status: 200 };
  } catch {
    return { outcome: 'failed', status: 0 }; // the connection was aborted mid-body
  }
}

/** Runs `readers` GET loops while `write(i)` runs `rounds` times; counts the outcomes. */
async function storm(gw: TestGateway, key: string, rounds: number, readers: number, write: (i: number) => Promise<void>) {
  const counts: Record<Outcome, number> = { a: 0, b: 0, failed: 0, mixed: 0 };
  const statuses: number[] = [];
  let writing = true;
  const writer = (async () => {
    try {
      for (let i = 0; i < rounds; i++) await write(i);
    } finally {
      writing = false;
    }
  })();
  const settled: Outcome[] = [];
  const reader = async (): Promise<void> => {
    do {
      const { outcome, status } = await getOnce(gw, key);
      counts[outcome]++;
      if (outcome === 'failed') statuses.push(status);
    } while (writing);
    // Once the writes stop, a read answers the last version whole.
    settled.push((await getOnce(gw, key)).outcome);
  };
  await Promise.all([writer, ...Array.from({ length: readers }, reader)]);
  return { counts, statuses, settled };
}

describe.each([
  ['through the cache', true],
  ['without a cache (streamed from the store)', false],
])('%s', (_name, cached) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ cache: { enabled: cached, metadata: { ttlSeconds: 0 } } });
    await gw.client().send(new CreateBucketCommand({ Bucket }));
  });
  afterAll(() => gw.close());

  test('in-place rewrites behind the gateway: one whole version or a failure, never a mix', async () => {
    const file = path.join(gw.dataDir, Bucket, 'inplace.bin');
    await writeFile(file, version('a'));
    const { counts, settled } = await storm(gw, 'inplace.bin', 60, 6, (i) => rewriteInPlace(file, version(i % 2 === 0 ? 'b' : 'a')));
    expect(counts.mixed).toBe(0);
    expect(settled).toEqual(Array(6).fill('a')); // the last write (i = 59) wrote 'a'
  }, 120_000);

  test('a slow reader whose file is rewritten in place mid-body gets an aborted body, not the new bytes', async () => {
    const big = (byte: string): Buffer => Buffer.alloc(48 * 1024 * 1024, byte); // more than the socket buffers hold
    const file = path.join(gw.dataDir, Bucket, 'slow.bin');
    await writeFile(file, big('a'));
    const { path: target, headers } = await signRequest(gw.url, { method: 'GET', path: `/${Bucket}/slow.bin` });
    const { hostname, port } = new URL(gw.url);
    const received = await new Promise<{ bytes: Buffer; complete: boolean }>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const req = http.request({ host: hostname, port, method: 'GET', path: target, headers }, (res) => {
        expect(res.statusCode).toBe(200);
        res.once('data', (first: Buffer) => {
          chunks.push(first);
          res.pause(); // the client stops reading: the gateway stops reading the file
          rewriteInPlace(file, big('b')).then(() => {
            res.on('data', (c: Buffer) => chunks.push(c));
            res.resume();
          }, reject);
        });
        res.on('end', () => resolve({ bytes: Buffer.concat(chunks), complete: res.complete }));
        res.on('error', () => resolve({ bytes: Buffer.concat(chunks), complete: false }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(received.bytes.includes('b'.charCodeAt(0))).toBe(false);
    expect(received.complete && received.bytes.length === 48 * 1024 * 1024).toBe(false);
  }, 120_000);

  test('overwrites through the gateway (rename): every GET is one whole version, none is 503', async () => {
    const s3 = gw.client();
    await s3.send(new PutObjectCommand({ Bucket, Key: 'replaced.bin', Body: version('a') }));
    const { counts, statuses, settled } = await storm(gw, 'replaced.bin', 20, 4, (i) =>
      s3.send(new PutObjectCommand({ Bucket, Key: 'replaced.bin', Body: version(i % 2 === 0 ? 'b' : 'a') })).then(() => undefined),
    );
    expect(counts.mixed).toBe(0);
    expect({ failed: counts.failed, statuses }).toEqual({ failed: 0, statuses: [] });
    expect(counts.a + counts.b).toBeGreaterThan(0);
    expect(settled).toEqual(Array(4).fill('a')); // the last PUT (i = 19) wrote 'a'
  }, 120_000);
});
