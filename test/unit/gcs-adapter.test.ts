/**
 * GCS adapter against the local GCS JSON API emulator: URI parsing, reads (ranges, typed
 * errors before the first byte, ifMatch pinned to a generation), lazy paged listing, the
 * simple and resumable upload paths with beforeCommit, compose trees, multipart edge cases,
 * error mapping, and that nothing but the emulator is ever contacted (no token fetch).
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { isUfsError, type UfsErrorKind } from '../../ufs-adapters/errors';
import { GcsAdapter, createGcsAdapterFromUri, createStorageClient, parseGcsUri, planComposeTree, type GcsAdapterOptions } from '../../ufs-adapters/gcs/gcs-adapter';
import { MIN_PART_SIZE, type ListEntry, type ObjectMetadata } from '../../ufs-adapters/types';
import { compareUtf8 } from '../../ufs-adapters/utf8-order';
import { startGcsEmulator, type GcsEmulator, type RecordedRequest } from '../emulators/gcs/gcs-emulator';

// ---- every outgoing TCP connection of this test file is recorded ----
const connectedHosts = new Set<string>();
const originalConnect = net.Socket.prototype.connect;
beforeAll(() => {
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    const host = typeof first === 'object' && first !== null ? (first as { host?: string; path?: string }).host ?? (first as { path?: string }).path : args[1];
    connectedHosts.add(String(host ?? 'localhost'));
    return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;
});
afterAll(() => {
  net.Socket.prototype.connect = originalConnect;
});

const BUCKET = 'unit-bucket';
const PREFIX = 'pre/';
const MiB = 1024 * 1024;

const meta = (extra: Partial<ObjectMetadata> = {}): ObjectMetadata => ({ userMetadata: {}, ...extra });
const body = (data: Buffer | string): Readable => Readable.from([Buffer.from(data)]);
const md5 = (data: Buffer): Buffer => createHash('md5').update(data).digest();
const md5Hex = (data: Buffer): string => md5(data).toString('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

async function collect(iterable: AsyncIterable<ListEntry>, limit = Infinity): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of iterable) {
    out.push(entry.kind === 'object' ? entry.key : entry.prefix);
    if (out.length >= limit) break;
  }
  return out;
}

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure, but the call succeeded');
    },
    (err: unknown) => err,
  );
}

async function expectKind(promise: Promise<unknown>, kind: UfsErrorKind): Promise<unknown> {
  const err = await errorOf(promise);
  if (!isUfsError(err, kind)) throw new Error(`expected UfsError ${kind}, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
  return err;
}

/** Client sockets to `endpoint` that are open and not idle in the global agent's keep-alive pool. */
function busySocketsTo(endpoint: string): number {
  const port = Number(new URL(endpoint).port);
  const idle = new Set(Object.values(http.globalAgent.freeSockets).flat());
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter((h): h is net.Socket => h instanceof net.Socket && h.remotePort === port && !h.destroyed && !idle.has(h)).length;
}

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A body of unknown length: `total` bytes from `data` in 64 KiB chunks. */
function streamOf(data: Buffer, onEnd?: () => void): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let offset = 0; offset < data.length; offset += 64 * 1024) yield data.subarray(offset, offset + 64 * 1024);
    onEnd?.();
  }
  return Readable.from(chunks(), { objectMode: false });
}

let emulator: GcsEmulator;
let adapter: GcsAdapter;
const newAdapter = (options: Partial<GcsAdapterOptions> = {}): GcsAdapter =>
  new GcsAdapter({ bucket: BUCKET, prefix: PREFIX, apiEndpoint: emulator.endpoint, ...options });
const objectName = (key: string): string => PREFIX + key;
const since = (mark: number): RecordedRequest[] => emulator.requests.slice(mark);

beforeAll(async () => {
  emulator = await startGcsEmulator({ buckets: [BUCKET] });
  adapter = newAdapter();
});

afterAll(async () => {
  await adapter?.close();
  await emulator?.close();
});

describe('parseGcsUri / createGcsAdapterFromUri', () => {
  it('parses bucket and prefix', () => {
    expect(parseGcsUri('gs://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(parseGcsUri('gs://my-bucket/')).toEqual({ bucket: 'my-bucket', prefix: '' });
    expect(parseGcsUri('gs://my-bucket/data/archive')).toEqual({ bucket: 'my-bucket', prefix: 'data/archive/' });
    expect(parseGcsUri('gs://my-bucket/data/archive/')).toEqual({ bucket: 'my-bucket', prefix: 'data/archive/' });
    expect(parseGcsUri('gs://my.dotted_bucket/a%20b/%C3%BC')).toEqual({ bucket: 'my.dotted_bucket', prefix: 'a b/ü/' });
  });

  it('rejects what is not a gs:// URI of a valid bucket', () => {
    for (const bad of ['s3://bucket', 'gs://', 'gs://UPPER', 'gs://ab', 'gs://bucket?x=1', 'gs://bucket#f', 'gs://bucket//x', 'gs://bucket/a%zz', 'gs://-bucket', 'gs://bu..cket', 'GS://bucket', 'gs://goog-x']) {
      expect(() => parseGcsUri(bad)).toThrow();
    }
  });

  it('builds an adapter for the mount', () => {
    const mounted = createGcsAdapterFromUri('gs://some-bucket/a/b', { apiEndpoint: 'http://127.0.0.1:9' });
    expect(mounted.kind).toBe('gcs');
    expect(mounted.bucketName).toBe('some-bucket');
    expect(mounted.prefix).toBe('a/b/');
    expect(mounted.capabilities).toEqual({ nativeCopy: true, nativeMultipartComplete: true, anyDelimiter: true, fileAndPrefixWithSameName: true });
  });
});

describe('client construction', () => {
  it('a custom endpoint without credentials is anonymous; with credentials it is authenticated', () => {
    const anonymous = createStorageClient({ apiEndpoint: 'http://127.0.0.1:9' });
    expect([anonymous.apiEndpoint, anonymous.customEndpoint, anonymous.useAuthWithCustomEndpoint, anonymous.projectId]).toEqual([
      'http://127.0.0.1:9',
      true,
      false,
      'ringcache-local',
    ]);
    const credentials = { client_email: 'sa@example.iam.gserviceaccount.com', private_key: 'not used here' };
    const authenticated = createStorageClient({ apiEndpoint: 'http://127.0.0.1:9', credentials });
    expect(authenticated.useAuthWithCustomEndpoint).toBe(true);
    const forced = createStorageClient({ apiEndpoint: 'http://127.0.0.1:9', useAuthWithCustomEndpoint: true });
    expect(forced.useAuthWithCustomEndpoint).toBe(true);
    const google = createStorageClient({ keyFilename: '/nonexistent/key.json' });
    expect([google.apiEndpoint, google.customEndpoint]).toEqual(['https://storage.googleapis.com', false]);
  });

  it('rejects bad tuning options', () => {
    expect(() => newAdapter({ resumableChunkSize: 1000 })).toThrow(RangeError);
    expect(() => newAdapter({ prefix: 'no-slash' })).toThrow(RangeError);
    expect(() => newAdapter({ simpleUploadThreshold: 0 })).toThrow(RangeError);
  });
});

describe('reads', () => {
  const data = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');

  beforeAll(async () => {
    await adapter.write({ key: 'r/data.txt', body: body(data), metadata: meta({ contentType: 'text/plain' }) });
  });

  it('sends the inclusive range as a Range header and returns exactly those bytes', async () => {
    const mark = emulator.requests.length;
    expect((await readAll(await adapter.read('r/data.txt', { start: 10, end: 15 }))).toString()).toBe('abcdef');
    const media = since(mark).filter((r) => r.query.alt === 'media');
    expect(media).toHaveLength(1);
    expect(media[0].headers.range).toBe('bytes=10-15');
    expect(media[0].status).toBe(206);
    expect((await readAll(await adapter.read('r/data.txt', undefined))).equals(data)).toBe(true);
  });

  it('stores and returns gzip-encoded objects as stored (no decompression)', async () => {
    const gz = Buffer.from('1f8b0800000000000003cb48cdc9c95728cf2fca490100c2a99b0c0b000000', 'hex');
    await adapter.write({ key: 'r/gz', body: body(gz), metadata: meta({ contentEncoding: 'gzip', contentType: 'text/plain' }) });
    expect((await readAll(await adapter.read('r/gz', undefined))).equals(gz)).toBe(true);
    expect((await readAll(await adapter.read('r/gz', { start: 0, end: 1 }))).equals(gz.subarray(0, 2))).toBe(true);
  });

  it('ifMatch: a stale ETag fails before any download; a fresh one pins the read to the stat generation', async () => {
    const info = await adapter.stat('r/data.txt');
    let mark = emulator.requests.length;
    await expectKind(adapter.read('r/data.txt', undefined, { ifMatch: '"00000000000000000000000000000000"' }), 'PreconditionFailed');
    expect(since(mark).filter((r) => r.query.alt === 'media')).toHaveLength(0);

    mark = emulator.requests.length;
    expect((await readAll(await adapter.read('r/data.txt', { start: 0, end: 3 }, { ifMatch: info.etag }))).toString()).toBe('0123');
    const media = since(mark).find((r) => r.query.alt === 'media');
    expect(media?.query.generation).toBe(emulator.getObject(BUCKET, objectName('r/data.txt'))?.generation);
  });

  it('ifMatch: an overwrite between the stat and the download is PreconditionFailed, never mixed bytes', async () => {
    await adapter.write({ key: 'r/racy', body: body('version one'), metadata: meta() });
    const { etag } = await adapter.stat('r/racy');
    emulator.onRequest = (request) => {
      if (request.query.alt === 'media' && request.route.endsWith('/r/racy')) {
        emulator.onRequest = undefined;
        emulator.putObject(BUCKET, objectName('r/racy'), 'version two!');
      }
    };
    try {
      await expectKind(adapter.read('r/racy', undefined, { ifMatch: etag }), 'PreconditionFailed');
    } finally {
      emulator.onRequest = undefined;
    }
  });

  it('errors before the first byte are typed errors thrown by read()', async () => {
    const noRetry = newAdapter({ retryOptions: { autoRetry: false } });
    const media = (r: RecordedRequest): boolean => r.query.alt === 'media';
    await expectKind(noRetry.read('r/missing', undefined), 'NotFound');
    emulator.inject({ match: media, status: 403 });
    await expectKind(noRetry.read('r/data.txt', undefined), 'Denied');
    emulator.inject({ match: media, status: 401 });
    await expectKind(noRetry.read('r/data.txt', undefined), 'Denied');
    emulator.inject({ match: media, status: 429 });
    await expectKind(noRetry.read('r/data.txt', undefined), 'Throttled');
    emulator.inject({ match: media, status: 503 });
    await expectKind(noRetry.read('r/data.txt', undefined), 'Throttled');
    emulator.inject({ match: media, status: 500 });
    const err = (await expectKind(noRetry.read('r/data.txt', undefined), 'Unavailable')) as Error;
    expect(err.cause).toBeDefined();
    emulator.inject({ match: media, network: true });
    await expectKind(noRetry.read('r/data.txt', undefined), 'Unavailable');
    await noRetry.close();
  });

  it('a download whose connection drops mid-body fails the stream with Unavailable instead of hanging', async () => {
    const big = randomBytes(512 * 1024);
    await adapter.write({ key: 'r/big', body: body(big), metadata: meta() });
    const watched = newAdapter({ readIdleTimeoutMs: 300 });
    emulator.inject({ match: (r) => r.query.alt === 'media', truncateBodyAfter: 200 * 1024 });
    const started = Date.now();
    const err = await errorOf(readAll(await watched.read('r/big', undefined)));
    expect(isUfsError(err, 'Unavailable')).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
    emulator.inject({ match: (r) => r.query.alt === 'media', truncateBodyAfter: 1000 });
    await expectKind(readAll(await watched.read('r/big', { start: 0, end: 99_999 })), 'Unavailable');
    // Intact downloads are unaffected.
    expect((await readAll(await watched.read('r/big', undefined))).equals(big)).toBe(true);
    await watched.close();
  });

  it('cancelling one download does not break a concurrent one (no shared agent is destroyed)', async () => {
    const large = randomBytes(24 * MiB);
    emulator.putObject(BUCKET, objectName('r/large'), large);
    const watched = newAdapter({ readIdleTimeoutMs: 2_000 });
    const kept = await watched.read('r/large', undefined);
    const cancelled = await watched.read('r/large', undefined);
    await new Promise((resolve) => cancelled.once('data', resolve));
    cancelled.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(md5Hex(await readAll(kept))).toBe(md5Hex(large));
    await watched.close();
  }, 20_000);

  it('a server ignoring Range (200 with the whole object) still yields exactly the range', async () => {
    const big = emulator.getObject(BUCKET, objectName('r/big'))?.data as Buffer;
    emulator.inject({ match: (r) => r.query.alt === 'media', ignoreRange: true });
    const mark = emulator.requests.length;
    expect((await readAll(await adapter.read('r/big', { start: 70_000, end: 70_099 }))).equals(big.subarray(70_000, 70_100))).toBe(true);
    expect(since(mark).find((r) => r.query.alt === 'media')?.status).toBe(200);
  });

  it('destroying a read stream early stops the download and gives its connection up', async () => {
    const large = randomBytes(24 * MiB);
    emulator.putObject(BUCKET, objectName('r/abandoned'), large);
    const stream = await adapter.read('r/abandoned', undefined);
    const first = await new Promise<Buffer>((resolve) => stream.once('data', resolve));
    expect(first.length).toBeGreaterThan(0);
    stream.destroy();
    await new Promise((resolve) => stream.once('close', resolve));
    // No connection to the store is left busy: the abandoned response, paused with the rest of
    // its body unread, would otherwise hold its socket for good (one per cancelled download).
    // Idle keep-alive sockets in the agent's pool are fine.
    await waitUntil(() => busySocketsTo(emulator.endpoint) === 0, 'the abandoned download to give its socket up');
  }, 20_000);

  it('maps stat errors and retries transient ones with the library before giving up', async () => {
    const fastRetry = newAdapter({ retryOptions: { maxRetries: 2, retryDelayMultiplier: 1.01, maxRetryDelay: 0.02, totalTimeout: 5 } });
    const metadataGet = (r: RecordedRequest): boolean => r.method === 'GET' && r.route.endsWith('/r/data.txt') && !r.query.alt;
    let mark = emulator.requests.length;
    emulator.inject({ match: metadataGet, status: 503, times: 1 });
    expect((await fastRetry.stat('r/data.txt')).size).toBe(data.length);
    expect(since(mark).filter(metadataGet)).toHaveLength(2);

    mark = emulator.requests.length;
    emulator.inject({ match: metadataGet, status: 429, times: 3 });
    await expectKind(fastRetry.stat('r/data.txt'), 'Throttled');
    expect(since(mark).filter(metadataGet)).toHaveLength(3);
    emulator.inject({ match: metadataGet, status: 403 });
    await expectKind(fastRetry.stat('r/data.txt'), 'Denied');
    await fastRetry.close();
  });

  it('an aborted signal stops a read', async () => {
    const controller = new AbortController();
    controller.abort();
    await expectKind(adapter.read('r/data.txt', undefined, { signal: controller.signal }), 'Aborted');
    await expectKind(adapter.stat('r/data.txt', controller.signal), 'Aborted');
  });

  it('keys that cannot exist are NotFound for reads and InvalidKey for writes', async () => {
    await expectKind(adapter.stat('.ringcache-tmp/x'), 'NotFound');
    await expectKind(adapter.read('.ringcache-uploads/x/upload.json', undefined), 'NotFound');
    await expectKind(adapter.write({ key: '.ringcache-tmp/x', body: body('x'), metadata: meta() }), 'InvalidKey');
    await expectKind(adapter.delete('.ringcache-uploads/x'), 'InvalidKey');
    await expectKind(adapter.write({ key: 'line\nbreak', body: body('x'), metadata: meta() }), 'InvalidKey');
    await expectKind(adapter.write({ key: 'k'.repeat(1021), body: body('x'), metadata: meta() }), 'InvalidKey');
  });
});

describe('list', () => {
  beforeAll(() => {
    for (let i = 0; i < 1100; i++) emulator.putObject(BUCKET, objectName(`many/${String(i).padStart(5, '0')}`), 'x');
  });

  it('pages lazily: consuming 10 entries of 1100 costs one objects.list call of 1000', async () => {
    const mark = emulator.requests.length;
    expect(await collect(adapter.list({ prefix: 'many/' }), 10)).toEqual(Array.from({ length: 10 }, (_, i) => `many/${String(i).padStart(5, '0')}`));
    const lists = since(mark).filter((r) => r.method === 'GET' && r.route === `storage/v1/b/${BUCKET}/o`);
    expect(lists).toHaveLength(1);
    expect(lists[0].query).toMatchObject({ prefix: 'pre/many/', maxResults: '1000' });
  });

  it('reads every page when the consumer goes on', async () => {
    const mark = emulator.requests.length;
    const keys = await collect(adapter.list({ prefix: 'many/' }));
    expect(keys).toHaveLength(1100);
    expect([...keys].sort(compareUtf8)).toEqual(keys);
    const lists = since(mark).filter((r) => r.method === 'GET' && r.route === `storage/v1/b/${BUCKET}/o`);
    expect(lists).toHaveLength(2);
    expect(lists[1].query.pageToken).toBeTruthy();
  });

  it('startAfter becomes startOffset and the exact match is skipped', async () => {
    const mark = emulator.requests.length;
    expect(await collect(adapter.list({ prefix: 'many/', startAfter: 'many/01097' }))).toEqual(['many/01098', 'many/01099']);
    expect(since(mark).find((r) => r.route === `storage/v1/b/${BUCKET}/o`)?.query.startOffset).toBe('pre/many/01097');
  });

  it('merges items and prefixes in UTF-8 byte order over small pages, each prefix once', async () => {
    const keys = ['m/a', 'm/b/1', 'm/b/2', 'm/b/3', 'm/b-c', 'm/ﬀ', 'm/😀', 'm/😀/x', 'm/c/1', 'm/z'];
    for (const key of keys) emulator.putObject(BUCKET, objectName(key), key);
    const small = newAdapter({ listPageSize: 2 });
    expect(await collect(small.list({ prefix: 'm/' }))).toEqual([...keys].sort(compareUtf8));
    expect(await collect(small.list({ prefix: 'm/', delimiter: '/' }))).toEqual(['m/a', 'm/b-c', 'm/b/', 'm/c/', 'm/z', 'm/ﬀ', 'm/😀', 'm/😀/']);
    expect(await collect(small.list({ prefix: 'm/', delimiter: '-' }))).toEqual(['m/a', 'm/b-', 'm/b/1', 'm/b/2', 'm/b/3', 'm/c/1', 'm/z', 'm/ﬀ', 'm/😀', 'm/😀/x']);
    expect(await collect(small.list({ prefix: 'm/', delimiter: '/', startAfter: 'm/b/' }))).toEqual(['m/c/', 'm/z', 'm/ﬀ', 'm/😀', 'm/😀/']);
    await small.close();
  });

  it('holds a key and a "folder" of the same name', async () => {
    await adapter.write({ key: 'same/a', body: body('file'), metadata: meta() });
    await adapter.write({ key: 'same/a/b', body: body('below'), metadata: meta() });
    expect(await collect(adapter.list({ prefix: 'same/', delimiter: '/' }))).toEqual(['same/a', 'same/a/']);
  });

  it('hides the reserved folders and jumps past their temporaries', async () => {
    // A mount of its own, so these stray temporaries do not disturb the other tests.
    const put = (key: string, data = 'x') => emulator.putObject(BUCKET, `hidden/${key}`, data);
    put('.a-visible');
    for (let i = 0; i < 30; i++) put(`.ringcache-tmp/t${i}`);
    put('.ringcache-uploads/u/upload.json', '{}');
    put('.ringcache-zzz');
    const small = newAdapter({ prefix: 'hidden/', listPageSize: 5 });
    const mark = emulator.requests.length;
    const all = await collect(small.list({ prefix: '.' }));
    expect(all).toEqual(['.a-visible', '.ringcache-zzz']);
    // Page 1 reaches the first temporary; the listing restarts after .ringcache-tmp/ and
    // after .ringcache-uploads/, instead of reading 30 temporaries 5 at a time.
    expect(since(mark).filter((r) => r.route === `storage/v1/b/${BUCKET}/o`)).toHaveLength(3);
    expect(await collect(small.list({ prefix: '', delimiter: '/' }))).toEqual(['.a-visible', '.ringcache-zzz']);
    expect(await collect(small.list({ prefix: '.ringcache-tmp/' }))).toEqual([]);
    expect(await collect(small.list({ prefix: '', startAfter: '.ringcache-tmp/t5' }))).toEqual(['.ringcache-zzz']);
    await small.close();
  });
});

describe('writes', () => {
  it('a body within 4 MiB is one simple upload carrying its MD5 for GCS to verify', async () => {
    const data = randomBytes(100_000);
    const mark = emulator.requests.length;
    const written = await adapter.write({ key: 'w/small', body: body(data), metadata: meta({ contentType: 'application/x-small' }) });
    expect(written.etag).toBe(`"${md5Hex(data)}"`);
    const uploads = since(mark).filter((r) => r.route.startsWith('upload/'));
    expect(uploads).toHaveLength(1);
    expect(uploads[0].query).toMatchObject({ uploadType: 'multipart', name: 'pre/w/small' });
    expect(emulator.getObject(BUCKET, 'pre/w/small')?.md5Hash).toBe(md5(data).toString('base64'));
  });

  it('a 20 MiB body of unknown length goes through a resumable upload; beforeCommit runs after its end, before it is visible', async () => {
    const data = randomBytes(20 * MiB);
    let bodyEnded = false;
    let hookSawBodyEnded = false;
    let hookSawObject: unknown = 'not run';
    const mark = emulator.requests.length;
    const written = await adapter.write({
      key: 'w/large.bin',
      body: streamOf(data, () => (bodyEnded = true)),
      metadata: meta({ contentType: 'application/x-large', userMetadata: { origin: 'unit' } }),
      beforeCommit: async () => {
        hookSawBodyEnded = bodyEnded;
        hookSawObject = await adapter.stat('w/large.bin').catch((err: unknown) => err);
        return { checksums: { CRC32C: 'AAAAAA==' } };
      },
    });
    expect(written).toMatchObject({ etag: `"${md5Hex(data)}"`, size: data.length });
    expect(hookSawBodyEnded).toBe(true);
    expect(isUfsError(hookSawObject, 'NotFound')).toBe(true);

    const requests = since(mark);
    const start = requests.find((r) => r.method === 'POST' && r.query.uploadType === 'resumable');
    expect(start?.query.name).toMatch(/^pre\/\.ringcache-tmp\/[0-9a-f-]{36}$/);
    const chunks = requests.filter((r) => r.method === 'PUT' && r.query.upload_id);
    expect(chunks.map((r) => [r.headers['content-range'], r.status])).toEqual([
      // 4 MiB chunks by default (one chunk buffered per upload keeps memory bounded).
      ['bytes 0-4194303/*', 308],
      ['bytes 4194304-8388607/*', 308],
      ['bytes 8388608-12582911/*', 308],
      ['bytes 12582912-16777215/*', 308],
      [`bytes 16777216-${data.length - 1}/${data.length}`, 200],
    ]);
    const rewrite = requests.find((r) => r.route.includes('/rewriteTo/'));
    expect(rewrite?.route).toBe(`storage/v1/b/${BUCKET}/o/${start?.query.name}/rewriteTo/b/${BUCKET}/o/pre/w/large.bin`);
    expect(requests.some((r) => r.method === 'DELETE' && r.route.endsWith(String(start?.query.name)))).toBe(true);
    expect(emulator.objectNames(BUCKET).filter((n) => n.startsWith('pre/.ringcache-tmp/'))).toEqual([]);

    const info = await adapter.stat('w/large.bin');
    expect(info).toMatchObject({ size: data.length, etag: written.etag, contentType: 'application/x-large', userMetadata: { origin: 'unit' }, checksums: { CRC32C: 'AAAAAA==' } });
    expect(md5Hex(await readAll(await adapter.read('w/large.bin', undefined)))).toBe(md5Hex(data));
  }, 30_000);

  it('a beforeCommit failure after a resumable upload leaves no object and no temporary', async () => {
    await expect(
      adapter.write({
        key: 'w/vetoed-large',
        body: streamOf(randomBytes(9 * MiB)),
        metadata: meta(),
        beforeCommit: () => {
          throw new Error('BadDigest');
        },
      }),
    ).rejects.toThrow('BadDigest');
    await expectKind(adapter.stat('w/vetoed-large'), 'NotFound');
    expect(emulator.objectNames(BUCKET).filter((n) => n.startsWith('pre/.ringcache-tmp/'))).toEqual([]);
  });

  it('a body failing during a resumable upload is rethrown unchanged and leaves nothing visible', async () => {
    const failure = new Error('client went away');
    async function* failing(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 200; i++) yield Buffer.alloc(64 * 1024, i);
      throw failure;
    }
    const err = await errorOf(adapter.write({ key: 'w/failed-large', body: Readable.from(failing(), { objectMode: false }), metadata: meta() }));
    expect(err).toBe(failure);
    await expectKind(adapter.stat('w/failed-large'), 'NotFound');
    expect(emulator.objectNames(BUCKET).filter((n) => n.startsWith('pre/.ringcache-tmp/'))).toEqual([]);
  });

  it('an abort during an upload is Aborted and leaves nothing visible', async () => {
    const controller = new AbortController();
    async function* slow(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 200; i++) {
        if (i === 150) controller.abort();
        yield Buffer.alloc(64 * 1024, i);
      }
    }
    await expectKind(adapter.write({ key: 'w/aborted', body: Readable.from(slow(), { objectMode: false }), metadata: meta(), signal: controller.signal }), 'Aborted');
    await expectKind(adapter.stat('w/aborted'), 'NotFound');
  });

  it('a resumable session the server finalises before the last chunk fails the write at once (it used to hang) and leaves nothing', async () => {
    emulator.inject({ match: (r) => r.method === 'PUT' && r.query.upload_id !== undefined, finalizeEarly: true });
    const err = await expectKind(adapter.write({ key: 'w/finalised-early', body: streamOf(randomBytes(40 * MiB)), metadata: meta() }), 'Unavailable');
    expect((err as Error).message).toMatch(/finalised the upload with 4194304 bytes before the body was sent/);
    await expectKind(adapter.stat('w/finalised-early'), 'NotFound');
    expect(emulator.objectNames(BUCKET).filter((n) => n.startsWith('pre/.ringcache-tmp/'))).toEqual([]);
    expect(emulator.openSessions()).toEqual([]);
  }, 30_000);

  it('an abort while the store has stopped reading a resumable upload ends the write, cancels the session and closes the chunk request', async () => {
    emulator.inject({ match: (r) => r.method === 'PUT' && r.query.upload_id !== undefined, stallBodyAfter: MiB });
    const controller = new AbortController();
    const writing = adapter.write({ key: 'w/stalled', body: streamOf(randomBytes(12 * MiB)), metadata: meta(), signal: controller.signal });
    const stalledBefore = emulator.stalled.length;
    await waitUntil(() => emulator.stalled.length > stalledBefore, 'the store to stall');
    controller.abort();
    await expectKind(writing, 'Aborted');
    const stalled = emulator.stalled[emulator.stalled.length - 1];
    expect(emulator.openSessions()).toEqual([]);
    emulator.drainStalledUploads();
    await waitUntil(() => stalled.closedUnanswered === true, 'the chunk request to be closed');
    await expectKind(adapter.stat('w/stalled'), 'NotFound');
  }, 30_000);

  it('a simple upload is retried after a 5xx (the library does not retry uploads without a precondition)', async () => {
    const data = randomBytes(1000);
    emulator.inject({ match: (r) => r.query.uploadType === 'multipart', status: 503, times: 2 });
    expect((await adapter.write({ key: 'w/retried', body: body(data), metadata: meta() })).etag).toBe(`"${md5Hex(data)}"`);
    emulator.inject({ match: (r) => r.query.uploadType === 'multipart', status: 500, times: 10 });
    await expectKind(adapter.write({ key: 'w/not-retried', body: body(data), metadata: meta() }), 'Unavailable');
    emulator.clearFaults();
    emulator.inject({ match: (r) => r.query.uploadType === 'multipart', status: 400 });
    await expectKind(adapter.write({ key: 'w/not-retried', body: body(data), metadata: meta() }), 'Unavailable');
    expect(emulator.requests.filter((r) => r.query.name === 'pre/w/not-retried')).toHaveLength(5); // 1 + 3 retries, then one 400
  });

  it('maps metadata: HTTP fields, user metadata (reserved names escaped), Expires, checksums', async () => {
    await adapter.write({
      key: 'w/meta',
      body: body('m'),
      metadata: meta({
        contentType: 'text/x-meta',
        contentEncoding: 'identity',
        contentDisposition: 'attachment; filename="m.txt"',
        contentLanguage: 'de',
        cacheControl: 'no-cache',
        expires: 'Wed, 21 Oct 2037 07:28:00 GMT',
        userMetadata: { color: 'blue', 'ringcache-etag': 'spoofed' },
        checksums: { SHA256: 'c2hh' },
      }),
    });
    const stored = emulator.getObject(BUCKET, 'pre/w/meta');
    expect(stored?.metadata).toEqual({
      color: 'blue',
      'ringcache-u-ringcache-etag': 'spoofed',
      'ringcache-expires': 'Wed, 21 Oct 2037 07:28:00 GMT',
      'ringcache-checksum-sha256': 'c2hh',
    });
    const info = await adapter.stat('w/meta');
    expect(info).toMatchObject({
      etag: `"${md5Hex(Buffer.from('m'))}"`,
      contentType: 'text/x-meta',
      contentEncoding: 'identity',
      contentDisposition: 'attachment; filename="m.txt"',
      contentLanguage: 'de',
      cacheControl: 'no-cache',
      expires: 'Wed, 21 Oct 2037 07:28:00 GMT',
      userMetadata: { color: 'blue', 'ringcache-etag': 'spoofed' },
      checksums: { SHA256: 'c2hh' },
    });
  });

  it('ETags of objects written by other tools: composite → "<crc32c>-<count>", no hashes → generation', async () => {
    emulator.putObject(BUCKET, 'pre/f/one', 'one');
    emulator.putObject(BUCKET, 'pre/f/two', 'two');
    const composite = emulator.store.put(BUCKET, 'pre/f/composite', Buffer.from('onetwo'), { metadata: { Owner: 'Other-Tool' } }, { componentCount: 2 });
    const info = await adapter.stat('f/composite');
    expect(info.etag).toBe(`"${Buffer.from(composite.crc32c, 'base64').toString('hex')}-2"`);
    expect(info.userMetadata).toEqual({ owner: 'Other-Tool' });
    expect(info.partSizes).toBeUndefined();
    const plain = emulator.putObject(BUCKET, 'pre/f/nohash', 'x');
    delete plain.md5Hash;
    expect((await adapter.stat('f/nohash')).etag).toBe(`"${plain.generation}"`);
  });
});

describe('copy and delete', () => {
  it('copy is a server-side rewrite; REPLACE metadata drops the old keys', async () => {
    await adapter.write({ key: 'c/src', body: body('copy me'), metadata: meta({ contentType: 'text/plain', cacheControl: 'max-age=1', userMetadata: { a: '1' } }) });
    const mark = emulator.requests.length;
    const copied = await adapter.copy({ sourceKey: 'c/src', destinationKey: 'c/replaced', metadata: meta({ userMetadata: { b: '2' } }) });
    expect(copied.etag).toBe(`"${md5Hex(Buffer.from('copy me'))}"`);
    expect(since(mark).filter((r) => r.route.startsWith('upload/') || r.query.alt === 'media')).toEqual([]);
    const info = await adapter.stat('c/replaced');
    expect(info.userMetadata).toEqual({ b: '2' });
    expect(info.cacheControl).toBeUndefined();
    // Metadata-only change of an object onto itself.
    await adapter.copy({ sourceKey: 'c/src', destinationKey: 'c/src', metadata: meta({ contentType: 'text/x-new', userMetadata: {} }) });
    expect(await adapter.stat('c/src')).toMatchObject({ contentType: 'text/x-new', userMetadata: {} });
    expect((await readAll(await adapter.read('c/src', undefined))).toString()).toBe('copy me');
  });

  it('delete removes an object and ignores a missing one', async () => {
    await adapter.write({ key: 'd/x', body: body('x'), metadata: meta() });
    await adapter.delete('d/x');
    await adapter.delete('d/x');
    await expectKind(adapter.stat('d/x'), 'NotFound');
  });
});

describe('planComposeTree', () => {
  const expand = (levels: ReturnType<typeof planComposeTree>, name: string): string[] => {
    const step = levels.flat().find((s) => s.destination === name);
    return step ? step.sources.flatMap((source) => expand(levels, source)) : [name];
  };
  const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `part-${i + 1}`);
  const intermediate = (level: number, index: number): string => `compose-${level}-${index}`;

  it.each([1, 2, 32, 33, 40, 64, 65, 1024, 1025, 10000])('%i sources: ≤32 per call, order kept, one final call', (n) => {
    const levels = planComposeTree(names(n), 'final', intermediate);
    for (const step of levels.flat()) expect(step.sources.length).toBeLessThanOrEqual(32);
    expect(levels[levels.length - 1]).toHaveLength(1);
    expect(levels[levels.length - 1][0].destination).toBe('final');
    expect(expand(levels, 'final')).toEqual(names(n));
    const destinations = levels.flat().map((s) => s.destination);
    expect(new Set(destinations).size).toBe(destinations.length);
  });

  it('40 sources: two calls on the first level, then the final one', () => {
    const levels = planComposeTree(names(40), 'final', intermediate);
    expect(levels.map((level) => level.map((s) => s.sources.length))).toEqual([[32, 8], [2]]);
    expect(planComposeTree(names(33), 'final', intermediate).map((level) => level.map((s) => s.sources.length))).toEqual([[32], [2]]);
  });
});

describe('multipart uploads via compose', () => {
  it('three parts: validated, composed once, md5-of-md5s ETag and part sizes stored, temporaries removed', async () => {
    const parts = [randomBytes(MIN_PART_SIZE), randomBytes(MIN_PART_SIZE), Buffer.from('the tail')];
    const upload = await adapter.createMultipartUpload('mp/three', meta({ contentType: 'application/x-three', cacheControl: 'private', userMetadata: { k: 'v' } }));
    expect(emulator.getObject(BUCKET, `pre/.ringcache-uploads/${upload.uploadId}/upload.json`)).toBeDefined();
    const infos = [];
    for (const [i, part] of parts.entries()) {
      infos.push(await adapter.uploadPart({ key: 'mp/three', uploadId: upload.uploadId, partNumber: i + 1, body: body(part) }));
    }
    expect(infos.map((p) => p.etag)).toEqual(parts.map((p) => `"${md5Hex(p)}"`));
    const mark = emulator.requests.length;
    const done = await adapter.completeMultipartUpload(
      'mp/three',
      upload.uploadId,
      infos.map((p) => ({ partNumber: p.partNumber, etag: p.etag })),
    );
    const etag = `"${createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-3"`;
    expect(done).toMatchObject({ etag, size: 2 * MIN_PART_SIZE + 8 });
    const composes = since(mark).filter((r) => r.route.endsWith('/compose'));
    expect(composes.map((r) => r.route)).toEqual([`storage/v1/b/${BUCKET}/o/pre/mp/three/compose`]);

    const info = await adapter.stat('mp/three');
    expect(info).toMatchObject({ etag, size: done.size, contentType: 'application/x-three', cacheControl: 'private', userMetadata: { k: 'v' } });
    expect(info.partSizes).toEqual([MIN_PART_SIZE, MIN_PART_SIZE, 8]);
    expect(emulator.getObject(BUCKET, 'pre/mp/three')?.componentCount).toBe(3);
    expect(emulator.objectNames(BUCKET).filter((n) => n.includes(upload.uploadId))).toEqual([]);
    expect(md5Hex(await readAll(await adapter.read('mp/three', undefined)))).toBe(md5Hex(Buffer.concat(parts)));
    // Listing shows the multipart ETag too; a copy keeps it.
    const listed: ListEntry[] = [];
    for await (const entry of adapter.list({ prefix: 'mp/three' })) listed.push(entry);
    expect(listed).toEqual([expect.objectContaining({ key: 'mp/three', etag })]);
    expect((await adapter.copy({ sourceKey: 'mp/three', destinationKey: 'mp/three-copy', metadata: meta() })).etag).toBe(etag);
    expect((await adapter.stat('mp/three-copy')).partSizes).toEqual([MIN_PART_SIZE, MIN_PART_SIZE, 8]);
    await expectKind(adapter.completeMultipartUpload('mp/three', upload.uploadId, [{ partNumber: 1, etag: infos[0].etag }]), 'NoSuchUpload');
  }, 30_000);

  it('40 parts compose in a tree of ≤32 sources per call', async () => {
    const small = newAdapter({ minPartSize: 1 });
    const parts = Array.from({ length: 40 }, (_, i) => Buffer.from(`<part ${i + 1}>`));
    const upload = await small.createMultipartUpload('mp/forty', meta());
    const infos = [];
    for (const [i, part] of parts.entries()) infos.push(await small.uploadPart({ key: 'mp/forty', uploadId: upload.uploadId, partNumber: i + 1, body: body(part) }));
    const mark = emulator.requests.length;
    const done = await small.completeMultipartUpload('mp/forty', upload.uploadId, infos.map((p) => ({ partNumber: p.partNumber, etag: p.etag })));
    const composes = since(mark).filter((r) => r.route.endsWith('/compose'));
    expect(composes).toHaveLength(3);
    expect(composes[2].route).toBe(`storage/v1/b/${BUCKET}/o/pre/mp/forty/compose`);
    expect(done.etag).toMatch(/-40"$/);
    expect((await readAll(await small.read('mp/forty', undefined))).toString()).toBe(Buffer.concat(parts).toString());
    expect(emulator.objectNames(BUCKET).filter((n) => n.includes(upload.uploadId))).toEqual([]);
    await small.close();
  });

  it('a part replaced after validation makes the completion fail with InvalidPart', async () => {
    const small = newAdapter({ minPartSize: 1 });
    const upload = await small.createMultipartUpload('mp/racy', meta());
    const a = await small.uploadPart({ key: 'mp/racy', uploadId: upload.uploadId, partNumber: 1, body: body('aaa') });
    const b = await small.uploadPart({ key: 'mp/racy', uploadId: upload.uploadId, partNumber: 2, body: body('bbb') });
    emulator.onRequest = (request) => {
      if (request.route.endsWith('/compose')) {
        emulator.onRequest = undefined;
        emulator.putObject(BUCKET, `pre/.ringcache-uploads/${upload.uploadId}/part-2`, 'bbb');
      }
    };
    try {
      await expectKind(
        small.completeMultipartUpload('mp/racy', upload.uploadId, [
          { partNumber: 1, etag: a.etag },
          { partNumber: 2, etag: b.etag },
        ]),
        'InvalidPart',
      );
    } finally {
      emulator.onRequest = undefined;
    }
    await expectKind(small.stat('mp/racy'), 'NotFound');
    // The upload is still in progress and can be aborted.
    expect((await small.listParts('mp/racy', upload.uploadId)).map((p) => p.partNumber)).toEqual([1, 2]);
    await small.abortMultipartUpload('mp/racy', upload.uploadId);
    await expectKind(small.getMultipartUpload('mp/racy', upload.uploadId), 'NoSuchUpload');
    await small.close();
  });

  it('upload ids are checked; uploads are listed by key then initiation; listParts sorts numerically', async () => {
    await expectKind(adapter.listParts('mp/x', 'not an id!'), 'NoSuchUpload');
    await expectKind(adapter.listParts('mp/x', 'A'.repeat(32)), 'NoSuchUpload');
    const u2 = await adapter.createMultipartUpload('mpl/b', meta());
    const u1 = await adapter.createMultipartUpload('mpl/a', meta({ userMetadata: { x: 'y' } }));
    const u3 = await adapter.createMultipartUpload('mpl/b', meta());
    await expectKind(adapter.getMultipartUpload('mpl/b', u1.uploadId), 'NoSuchUpload');
    expect((await adapter.getMultipartUpload('mpl/a', u1.uploadId)).metadata.userMetadata).toEqual({ x: 'y' });
    const listed = [];
    for await (const upload of adapter.listMultipartUploads('mpl/')) listed.push(upload.uploadId);
    expect(listed).toEqual([u1.uploadId, u2.uploadId, u3.uploadId]);
    for (const n of [10, 2, 1]) await adapter.uploadPart({ key: 'mpl/a', uploadId: u1.uploadId, partNumber: n, body: body(`p${n}`) });
    expect((await adapter.listParts('mpl/a', u1.uploadId)).map((p) => p.partNumber)).toEqual([1, 2, 10]);
    await expectKind(adapter.uploadPart({ key: 'mpl/a', uploadId: u1.uploadId, partNumber: 10001, body: body('x') }), 'InvalidPart');
    // Not visible in listings of the mount.
    expect((await collect(adapter.list({ prefix: '' }))).some((k) => k.includes('ringcache'))).toBe(false);
    for (const [key, upload] of [['mpl/a', u1], ['mpl/b', u2], ['mpl/b', u3]] as const) await adapter.abortMultipartUpload(key, upload.uploadId);
  });

  it('cleanupAbandonedUploads removes old uploads, orphaned folders and stale temporaries', async () => {
    const fresh = await adapter.createMultipartUpload('cl/fresh', meta());
    const old = await adapter.createMultipartUpload('cl/old', meta());
    const record = emulator.getObject(BUCKET, `pre/.ringcache-uploads/${old.uploadId}/upload.json`);
    if (!record) throw new Error('upload record missing');
    const parsed = JSON.parse(record.data.toString()) as { initiated: string };
    parsed.initiated = new Date(Date.now() - 3_600_000).toISOString();
    record.data = Buffer.from(JSON.stringify(parsed));
    const orphan = emulator.putObject(BUCKET, `pre/.ringcache-uploads/${'O'.repeat(32)}/part-1`, 'orphan');
    orphan.timeCreated = new Date(Date.now() - 3_600_000).toISOString();
    const temp = emulator.putObject(BUCKET, 'pre/.ringcache-tmp/stale', 'stale');
    temp.timeCreated = new Date(Date.now() - 3_600_000).toISOString();
    emulator.putObject(BUCKET, 'pre/.ringcache-tmp/young', 'young');

    expect(await adapter.cleanupAbandonedUploads(60_000)).toBe(3);
    const left = emulator.objectNames(BUCKET).filter((n) => n.startsWith('pre/.ringcache-'));
    expect(left).toEqual([`pre/.ringcache-tmp/young`, `pre/.ringcache-uploads/${fresh.uploadId}/upload.json`]);
    await adapter.abortMultipartUpload('cl/fresh', fresh.uploadId);
  });
});

describe('isolation', () => {
  it('only the emulator was contacted, never with credentials, and every route was known', () => {
    expect([...connectedHosts]).toEqual(['127.0.0.1']);
    expect(emulator.requests.filter((r) => r.headers.authorization !== undefined)).toEqual([]);
    expect(emulator.unexpected).toEqual([]);
  });
});
