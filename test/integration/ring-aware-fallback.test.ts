/**
 * When the ring-aware client's owner does not answer: the owner is skipped and the ring
 * fetched again in every case (streamed bodies included), and the request is re-sent to the
 * configured endpoint only when that cannot run it twice: nothing was sent (connection
 * refused) and the body can be sent again, or it is a read. Writes after a reset or a
 * timeout (the owner may have run them) are not re-sent.
 *
 * The configured endpoint is a front that serves a two-member ring view (itself and a
 * misbehaving "owner") and passes everything else to one real gateway.
 */
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { withRingAwareness, type RingAwareHandle } from '../../src/client/ring-aware';
import { ringKey } from '../../src/cluster/cluster-node';
import { buildRing } from '../../src/cluster/ring';
import { ADMIN, bodyBytes, errorCode, startTestGateway, type TestGateway } from '../helpers/gateway';
import { freePort, waitFor } from '../helpers/cluster-processes';

const Bucket = 'ring-fallback';
const ring = buildRing(['front', 'owner']);
let next = 0;
/** A fresh key the (misbehaving) owner owns. */
function ownedKey(): string {
  for (;;) {
    const key = `k${next++}`;
    if (ring.owner(ringKey(Bucket, key)) === 'owner') return key;
  }
}

let gw: TestGateway;
let front: http.Server;
let frontUrl: string;
/** Where the ring view says the owner is. */
let ownerUrl: string;
const handles: RingAwareHandle[] = [];
const clients: S3Client[] = [];

/** An owner that takes requests and never answers them, or resets the connection once a request arrived. */
async function badOwner(behaviour: 'reset' | 'silent'): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('data', () => {
      requests++;
      if (behaviour === 'reset') socket.resetAndDestroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function ringAwareClient(extra: Partial<ConstructorParameters<typeof S3Client>[0]> = {}): Promise<{ s3: S3Client; handle: RingAwareHandle }> {
  const s3 = new S3Client({ endpoint: frontUrl, region: 'us-east-1', forcePathStyle: true, credentials: { ...ADMIN }, maxAttempts: 1, ...extra });
  const handle = withRingAwareness(s3, { badMemberMs: 60_000, refreshIntervalMs: 600_000 });
  await handle.refresh();
  expect(handle.members()).toEqual(['front', 'owner']);
  clients.push(s3);
  handles.push(handle);
  return { s3, handle };
}

const stored = async (Key: string): Promise<string> => {
  try {
    return (await bodyBytes((await gw.client().send(new GetObjectCommand({ Bucket, Key }))).Body)).toString();
  } catch (err) {
    return (err as Error).name;
  }
};

/** After a failure: the owner is skipped and a ring fetch followed. */
async function expectOwnerSkipped(handle: RingAwareHandle, key: string, refreshesBefore: number): Promise<void> {
  expect(handle.ownerOf(Bucket, key)).toBeUndefined();
  await waitFor(() => handle.stats().refreshes > refreshesBefore, 5000, 'ring refresh after the failure');
}

beforeAll(async () => {
  gw = await startTestGateway();
  await gw.client().send(new CreateBucketCommand({ Bucket }));
  const target = new URL(gw.url);
  front = http.createServer((req, res) => {
    if (req.url === '/_ringcache/cluster/ring') {
      res.setHeader('content-type', 'application/json');
      // The gateway's own version, so its x-ringcache-ring headers start no refresh.
      res.end(JSON.stringify({ self: 'front', version: gw.cluster.node.version, changedAt: 0, members: [{ id: 'front', url: frontUrl }, { id: 'owner', url: ownerUrl }] }));
      return;
    }
    const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  frontUrl = `http://127.0.0.1:${(front.address() as net.AddressInfo).port}`;
});

afterAll(async () => {
  for (const h of handles) h.close();
  for (const c of clients) c.destroy();
  front?.closeAllConnections();
  await new Promise((resolve) => front?.close(resolve));
  await gw?.close();
});

describe('owner refuses connections (nothing was sent)', () => {
  beforeAll(async () => {
    ownerUrl = `http://127.0.0.1:${await freePort()}`; // nobody listens there
  });

  it('re-sends a PUT with a byte body to the configured endpoint', async () => {
    const { s3, handle } = await ringAwareClient();
    const key = ownedKey();
    await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: Buffer.from('bytes') }));
    expect(handle.stats().fallbacks).toBe(1);
    expect(handle.ownerOf(Bucket, key)).toBeUndefined();
    expect(await stored(key)).toBe('bytes');
  });

  it('a streamed PUT whose stream was read is thrown, but the owner is skipped and the ring refreshed: the next one goes through the endpoint', async () => {
    const { s3, handle } = await ringAwareClient();
    const refreshes = handle.stats().refreshes;
    const first = ownedKey();
    // Without Expect: 100-continue the SDK pipes the stream at once, before the connection fails.
    // The SDK says so on the console: expected here, and kept out of the suite's output.
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    let failed: string;
    let warnings: string[];
    try {
      failed = await errorCode(s3.send(new PutObjectCommand({ Bucket, Key: first, Body: Readable.from([Buffer.from('streamed')]), ContentLength: 8 })));
    } finally {
      warnings = warn.mock.calls.map(([message]) => String(message));
      warn.mockRestore();
    }
    expect(failed).not.toBe('ok');
    for (const message of warnings) expect(message).toContain('non-retryable streaming request');
    expect(handle.stats().fallbacks).toBe(0);
    await expectOwnerSkipped(handle, first, refreshes);

    const second = ownedKey();
    await s3.send(new PutObjectCommand({ Bucket, Key: second, Body: Readable.from([Buffer.from('streamed')]), ContentLength: 8 }));
    expect(await stored(second)).toBe('streamed');
    expect(handle.stats().viaEndpoint).toBe(1);
  });

  it('re-sends a streamed PUT whose stream was not read yet (Expect: 100-continue)', async () => {
    const { s3, handle } = await ringAwareClient({ expectContinueHeader: true });
    const key = ownedKey();
    await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: Readable.from([Buffer.from('not read yet')]), ContentLength: 12 }));
    expect(handle.stats().fallbacks).toBe(1);
    expect(await stored(key)).toBe('not read yet');
  });
});

describe('owner resets the connection after the request arrived', () => {
  let owner: Awaited<ReturnType<typeof badOwner>>;
  beforeAll(async () => {
    owner = await badOwner('reset');
    ownerUrl = owner.url;
  });
  afterAll(() => owner.close());

  it('does not re-send a PUT (the owner may have run it), but skips the owner and refreshes', async () => {
    const { s3, handle } = await ringAwareClient();
    const refreshes = handle.stats().refreshes;
    const key = ownedKey();
    const before = owner.requests();
    expect(await errorCode(s3.send(new PutObjectCommand({ Bucket, Key: key, Body: Buffer.from('once') })))).not.toBe('ok');
    expect(owner.requests()).toBe(before + 1);
    expect(handle.stats().fallbacks).toBe(0);
    expect(await stored(key)).toBe('NoSuchKey');
    await expectOwnerSkipped(handle, key, refreshes);
  });

  it('re-sends a GET and a HEAD', async () => {
    const key = ownedKey();
    await gw.client().send(new PutObjectCommand({ Bucket, Key: key, Body: 'readable' }));
    const { s3, handle } = await ringAwareClient({ maxAttempts: 1 });
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: key }));
    expect((await bodyBytes(got.Body)).toString()).toBe('readable');
    expect(handle.stats().fallbacks).toBe(1);

    const { s3: s3b, handle: handleB } = await ringAwareClient();
    expect((await s3b.send(new HeadObjectCommand({ Bucket, Key: key }))).ContentLength).toBe(8);
    expect(handleB.stats().fallbacks).toBe(1);
  });
});

describe('owner takes the request and never answers', () => {
  let owner: Awaited<ReturnType<typeof badOwner>>;
  beforeAll(async () => {
    owner = await badOwner('silent');
    ownerUrl = owner.url;
  });
  afterAll(() => owner.close());

  // The silent owner always times out; the node the client falls back to must answer within the
  // same timeout, on a busy machine too (300 ms failed at load average 13).
  const timingOut = { requestHandler: { requestTimeout: 2500, throwOnRequestTimeout: true } };

  it('does not re-send a DeleteObject after the timeout', async () => {
    const key = ownedKey();
    await gw.client().send(new PutObjectCommand({ Bucket, Key: key, Body: 'kept' }));
    const { s3, handle } = await ringAwareClient(timingOut);
    const before = owner.requests();
    expect(await errorCode(s3.send(new DeleteObjectCommand({ Bucket, Key: key })))).not.toBe('ok');
    expect(owner.requests()).toBe(before + 1);
    expect(handle.stats().fallbacks).toBe(0);
    expect(handle.ownerOf(Bucket, key)).toBeUndefined();
    expect(await stored(key)).toBe('kept');
  });

  it('re-sends a GET after the timeout', async () => {
    const key = ownedKey();
    await gw.client().send(new PutObjectCommand({ Bucket, Key: key, Body: 'slow owner' }));
    const { s3, handle } = await ringAwareClient(timingOut);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key: key }));
    expect((await bodyBytes(got.Body)).toString()).toBe('slow owner');
    expect(handle.stats().fallbacks).toBe(1);
  });
});
