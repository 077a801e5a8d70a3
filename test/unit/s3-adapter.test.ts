/**
 * S3 adapter against a real s3rver on 127.0.0.1 (test/emulators/s3/s3rver-fixture.ts).
 * Requests are counted with SDK middleware on the adapter's own client (instrumentation, the
 * SDK itself is not mocked) or on the server side.
 */
import { ListMultipartUploadsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { isUfsError, type UfsErrorKind } from '../../ufs-adapters/errors';
import { S3Adapter, createS3AdapterFromUri, parseS3Uri, type S3AdapterOptions } from '../../ufs-adapters/s3/s3-adapter';
import { S3ConfigError, resolveS3Config } from '../../ufs-adapters/s3/s3-config';
import { startS3rver, type S3rverFixture } from '../emulators/s3/s3rver-fixture';
import type { ListEntry, ObjectMetadata } from '../../ufs-adapters/types';

const MiB = 1024 * 1024;
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const meta = (extra: Partial<ObjectMetadata> = {}): ObjectMetadata => ({ userMetadata: {}, ...extra });
const body = (data: Buffer | string): Readable => Readable.from([Buffer.from(data)]);
const md5 = (data: Buffer): Buffer => createHash('md5').update(data).digest();

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

async function expectKind(promise: Promise<unknown>, kind: UfsErrorKind): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isUfsError(err, kind)) throw new Error(`expected UfsError ${kind}, got ${err === undefined ? 'success' : String(err)}`);
}

/** Counts the commands the adapter's client sends (by SDK command name), and tracks concurrency. */
function countCommands(adapter: S3Adapter) {
  const counts: Record<string, number> = {};
  const inFlight: Record<string, number> = {};
  const maxInFlight: Record<string, number> = {};
  const listeners: Array<(command: string, input: Record<string, unknown>) => void> = [];
  adapter.client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName).replace(/Command$/, '');
      counts[name] = (counts[name] ?? 0) + 1;
      inFlight[name] = (inFlight[name] ?? 0) + 1;
      maxInFlight[name] = Math.max(maxInFlight[name] ?? 0, inFlight[name]);
      try {
        const result = await next(args);
        for (const listener of listeners) listener(name, args.input as Record<string, unknown>);
        return result;
      } finally {
        inFlight[name]--;
      }
    },
    { step: 'initialize', name: 'testCounter' },
  );
  return { counts, maxInFlight, onDone: (fn: (command: string, input: Record<string, unknown>) => void) => listeners.push(fn) };
}

describe('parseS3Uri and configuration', () => {
  test('bucket, prefix and query parameters', () => {
    expect(parseS3Uri('s3://my-bucket/some/pre%20fix/?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=eu-west-3&pathStyle=true&profile=archive')).toEqual({
      bucket: 'my-bucket',
      prefix: 'some/pre fix',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-3',
      forcePathStyle: true,
      profile: 'archive',
    });
    expect(parseS3Uri('s3://bucket')).toEqual({ bucket: 'bucket', prefix: '' });
    expect(parseS3Uri('s3://bucket/')).toEqual({ bucket: 'bucket', prefix: '' });
    expect(parseS3Uri('s3://bucket/a?pathStyle=false&maxAttempts=3&partSize=6291456&queueSize=2&requestTimeoutMs=500')).toEqual({
      bucket: 'bucket',
      prefix: 'a',
      forcePathStyle: false,
      maxAttempts: 3,
      partSize: 6291456,
      queueSize: 2,
      requestTimeoutMs: 500,
    });
  });

  test('refuses what it cannot honour', () => {
    expect(() => parseS3Uri('gs://bucket/x')).toThrow(S3ConfigError);
    expect(() => parseS3Uri('s3:///prefix')).toThrow(S3ConfigError);
    expect(() => parseS3Uri('s3://bucket/x?endpont=http://typo')).toThrow(/unknown parameter endpont/);
    expect(() => parseS3Uri('s3://key:secret@bucket/x')).toThrow(/credentials/);
    expect(() => parseS3Uri('s3://bucket?pathStyle=maybe')).toThrow(S3ConfigError);
    expect(() => parseS3Uri('s3://bucket?queueSize=-1')).toThrow(S3ConfigError);
    expect(() => resolveS3Config({ bucket: 'b', partSize: 1024 })).toThrow(/partSize/);
    expect(() => resolveS3Config({ bucket: 'b', endpoint: 'ftp://host' })).toThrow(/endpoint/);
  });

  test('defaults: path-style and us-east-1 with a custom endpoint, SDK chain otherwise', () => {
    const custom = resolveS3Config({ bucket: 'b', prefix: '/p/q/', endpoint: 'http://127.0.0.1:9000/' });
    expect(custom).toMatchObject({ keyPrefix: 'p/q/', endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', forcePathStyle: true, maxAttempts: 5, partSize: 8 * MiB, queueSize: 4 });
    const aws = resolveS3Config({ bucket: 'b' });
    expect(aws).toMatchObject({ keyPrefix: '', endpoint: undefined, region: undefined, forcePathStyle: false });
  });

  test('options win over the URI', async () => {
    const adapter = createS3AdapterFromUri('s3://bucket/pre?endpoint=http://127.0.0.1:1&maxAttempts=7&partSize=6291456', {
      maxAttempts: 2,
      credentials: CREDENTIALS,
      region: undefined,
    });
    expect(adapter.config).toMatchObject({ bucket: 'bucket', keyPrefix: 'pre/', endpoint: 'http://127.0.0.1:1', maxAttempts: 2, partSize: 6291456, region: 'us-east-1' });
    expect(adapter.kind).toBe('s3');
    expect(adapter.capabilities).toEqual({ nativeCopy: true, nativeMultipartComplete: true, anyDelimiter: true, fileAndPrefixWithSameName: true });
    expect(await adapter.client.config.maxAttempts()).toBe(2);
    await adapter.close();
  });
});

describe('S3 adapter against s3rver', () => {
  let server: S3rverFixture;
  let tmpRoot: string;
  const adapters: S3Adapter[] = [];
  const open = (prefix: string, options: S3AdapterOptions = {}, fixture: S3rverFixture = server): S3Adapter => {
    const adapter = createS3AdapterFromUri(`s3://${fixture.bucket}/${prefix}?endpoint=${encodeURIComponent(fixture.endpoint)}`, {
      credentials: CREDENTIALS,
      maxAttempts: 2,
      tmpDir: path.join(tmpRoot, 'parts'),
      ...options,
    });
    adapters.push(adapter);
    return adapter;
  };
  const uploadsLeft = async (): Promise<number> => {
    const raw = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS });
    try {
      return (await raw.send(new ListMultipartUploadsCommand({ Bucket: server.bucket }))).Uploads?.length ?? 0;
    } finally {
      raw.destroy();
    }
  };

  beforeAll(async () => {
    server = await startS3rver({ bucket: 'unit' });
    tmpRoot = await mkdtemp(path.join(os.tmpdir(), 'ringcache-s3-unit-'));
  });
  afterAll(async () => {
    for (const adapter of adapters) await adapter.close();
    await server?.close();
    await rm(tmpRoot, { recursive: true, force: true });
  });

  test('prefix mapping: keys live under <prefix>/, keys outside the prefix are invisible', async () => {
    const root = open('');
    const mounted = open('tenants/one');
    await mounted.write({ key: 'a.txt', body: body('inside'), metadata: meta() });
    await mounted.write({ key: 'dir/b.txt', body: body('inside too'), metadata: meta() });
    await root.write({ key: 'outside.txt', body: body('outside'), metadata: meta() });
    await root.write({ key: 'tenants/onex/c.txt', body: body('sibling prefix'), metadata: meta() });
    await root.write({ key: 'tenants/two/d.txt', body: body('other tenant'), metadata: meta() });

    expect((await root.stat('tenants/one/a.txt')).size).toBe(6);
    expect(server.requests.some((r) => r.method === 'PUT' && r.path === `/unit/tenants/one/a.txt`)).toBe(true);
    await expectKind(mounted.stat('outside.txt'), 'NotFound');
    await expectKind(mounted.read('../two/d.txt', undefined), 'InvalidKey');
    await expectKind(mounted.stat('x/./y'), 'InvalidKey');
    const names = async (adapter: S3Adapter, prefix: string, delimiter?: string) => {
      const out: string[] = [];
      for await (const e of adapter.list({ prefix, delimiter })) out.push(e.kind === 'object' ? e.key : e.prefix);
      return out;
    };
    expect(await names(mounted, '')).toEqual(['a.txt', 'dir/b.txt']);
    expect(await names(mounted, '', '/')).toEqual(['a.txt', 'dir/']);
    expect(await names(root, 'tenants/', '/')).toEqual(['tenants/one/', 'tenants/onex/', 'tenants/two/']);
    await mounted.delete('a.txt');
    await expectKind(root.stat('tenants/one/a.txt'), 'NotFound');
    expect((await root.stat('outside.txt')).size).toBe(7);
  });

  test('ranged reads, including ranges the store serves too widely', async () => {
    const adapter = open('ranges');
    const data = randomBytes(300_000);
    await adapter.write({ key: 'blob', body: body(data), metadata: meta() });
    expect((await readAll(await adapter.read('blob', { start: 1000, end: 250_000 }))).equals(data.subarray(1000, 250_001))).toBe(true);
    expect((await readAll(await adapter.read('blob', { start: 299_999, end: 299_999 }))).equals(data.subarray(299_999))).toBe(true);
    // s3rver answers "bytes=0-0" with the whole object: the adapter cuts the byte out.
    expect((await readAll(await adapter.read('blob', { start: 0, end: 0 }))).equals(data.subarray(0, 1))).toBe(true);
    const ranged = server.requests.filter((r) => r.method === 'GET' && r.path === '/unit/ranges/blob' && r.headers.range);
    expect(ranged.map((r) => r.headers.range)).toEqual(['bytes=1000-250000', 'bytes=299999-299999', 'bytes=0-0']);
  });

  test('an early-destroyed read releases the stream without errors', async () => {
    const adapter = open('early');
    await adapter.write({ key: 'big', body: body(randomBytes(3 * MiB)), metadata: meta() });
    const stream = await adapter.read('big', undefined);
    const first = await new Promise<Buffer>((resolve) => stream.once('data', resolve));
    expect(first.length).toBeGreaterThan(0);
    stream.destroy();
    await new Promise((resolve) => stream.once('close', resolve));
    expect((await adapter.stat('big')).size).toBe(3 * MiB); // connection pool still usable
  });

  test('ifMatch: a mismatch is PreconditionFailed, whether the store checks If-Match or not', async () => {
    const adapter = open('versions');
    const first = await adapter.write({ key: 'v', body: body('one'), metadata: meta() });
    const second = await adapter.write({ key: 'v', body: body('two!'), metadata: meta() });
    await expectKind(adapter.read('v', undefined, { ifMatch: first.etag }), 'PreconditionFailed');
    expect(server.requests.filter((r) => r.method === 'GET' && r.path === '/unit/versions/v').at(-1)?.headers['if-match']).toBe(first.etag);
    expect((await readAll(await adapter.read('v', { start: 1, end: 2 }, { ifMatch: second.etag }))).toString()).toBe('wo');

    // A store that ignores If-Match (plain s3rver): the ETag of the reply is checked instead.
    const lax = await startS3rver({ bucket: 'lax', honorIfMatch: false });
    try {
      const laxAdapter = open('', {}, lax);
      const old = await laxAdapter.write({ key: 'v', body: body('one'), metadata: meta() });
      await laxAdapter.write({ key: 'v', body: body('two!'), metadata: meta() });
      await expectKind(laxAdapter.read('v', undefined, { ifMatch: old.etag }), 'PreconditionFailed');
    } finally {
      await lax.close();
    }
  });

  test('metadata round trip, including a raw Expires and folder markers', async () => {
    const adapter = open('meta');
    const expires = 'Thu, 01 Dec 2094 16:00:00 GMT';
    await adapter.write({
      key: 'doc.html',
      body: body('<p>hi</p>'),
      metadata: meta({
        contentType: 'text/html; charset=utf-8',
        contentEncoding: 'identity',
        contentDisposition: 'inline; filename="doc.html"',
        contentLanguage: 'fr',
        cacheControl: 'no-cache',
        expires,
        userMetadata: { owner: 'team-a', 'x-note': 'two words' },
      }),
    });
    const info = await adapter.stat('doc.html');
    expect(info).toMatchObject({
      key: 'doc.html',
      size: 9,
      contentType: 'text/html; charset=utf-8',
      contentEncoding: 'identity',
      contentDisposition: 'inline; filename="doc.html"',
      contentLanguage: 'fr',
      cacheControl: 'no-cache',
      expires,
      userMetadata: { owner: 'team-a', 'x-note': 'two words' },
    });
    expect(info.partSizes).toBeUndefined();
    await adapter.write({ key: 'folder/', body: body(''), metadata: meta() });
    await adapter.write({ key: 'folder', body: body('file and prefix'), metadata: meta() });
    expect((await adapter.stat('folder/')).size).toBe(0);
    expect((await adapter.stat('folder')).size).toBe(15);
  });

  test('list pages lazily: 10 entries of 1100 cost one ListObjectsV2', async () => {
    const adapter = open('many');
    const raw = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS });
    const keys = Array.from({ length: 1100 }, (_, i) => `k/${String(i).padStart(4, '0')}`);
    try {
      for (let i = 0; i < keys.length; i += 50) {
        await Promise.all(keys.slice(i, i + 50).map((key) => raw.send(new PutObjectCommand({ Bucket: server.bucket, Key: `many/${key}`, Body: key }))));
      }
    } finally {
      raw.destroy();
    }
    const { counts } = countCommands(adapter);

    const firstTen: string[] = [];
    for await (const entry of adapter.list({ prefix: 'k/' })) {
      firstTen.push((entry as { key: string }).key);
      if (firstTen.length === 10) break;
    }
    expect(firstTen).toEqual(keys.slice(0, 10));
    expect(counts.ListObjectsV2).toBe(1);

    // The 1000th entry is still on the first page; the 1001st fetches the second.
    counts.ListObjectsV2 = 0;
    const iterator = adapter.list({ prefix: 'k/' })[Symbol.asyncIterator]();
    for (let i = 0; i < 1000; i++) await iterator.next();
    expect(counts.ListObjectsV2).toBe(1);
    expect(((await iterator.next()).value as ListEntry & { key: string }).key).toBe(keys[1000]);
    expect(counts.ListObjectsV2).toBe(2);
    await iterator.return?.();

    counts.ListObjectsV2 = 0;
    const all: string[] = [];
    for await (const entry of adapter.list({ prefix: 'k/', startAfter: 'k/0049' })) all.push((entry as { key: string }).key);
    expect(all).toEqual(keys.slice(50));
    expect(counts.ListObjectsV2).toBe(2);
    const [first, second] = server.requests.filter((r) => r.query['list-type'] === '2').slice(-2);
    expect(first.query).toMatchObject({ prefix: 'many/k/', 'start-after': 'many/k/0049', 'max-keys': '1000' });
    expect(second.query['continuation-token']).toBeTruthy();
  });

  test('list merges objects and common prefixes, pushes any delimiter down, stays after startAfter', async () => {
    const adapter = open('delims');
    for (const key of ['a-1', 'a-2-x', 'a-2-y', 'b', 'c-3-z', 'é-1']) await adapter.write({ key, body: body(key), metadata: meta() });
    const names = async (options: { prefix: string; delimiter?: string; startAfter?: string }) => {
      const out: string[] = [];
      for await (const e of adapter.list(options)) out.push(e.kind === 'object' ? e.key : `P:${e.prefix}`);
      return out;
    };
    expect(await names({ prefix: '', delimiter: '-' })).toEqual(['P:a-', 'b', 'P:c-', 'P:é-']);
    expect(await names({ prefix: 'a-', delimiter: '-' })).toEqual(['a-1', 'P:a-2-']);
    expect(await names({ prefix: '', delimiter: '-', startAfter: 'a-' })).toEqual(['b', 'P:c-', 'P:é-']);
    const lists = server.requests.filter((r) => r.query['list-type'] === '2' && r.query.prefix?.startsWith('delims/'));
    expect(lists.map((r) => r.query.delimiter)).toEqual(['-', '-', '-']);
  });

  test('a 20 MiB body of unknown length streams as multipart with bounded memory', async () => {
    const partSize = 5 * MiB;
    const queueSize = 2;
    const adapter = open('stream', { partSize, queueSize });
    const { counts, maxInFlight, onDone } = countCommands(adapter);
    let uploaded = 0;
    onDone((command, input) => {
      if (command === 'UploadPart') uploaded += Number(input.ContentLength);
    });
    const total = 20 * MiB;
    const chunk = 64 * 1024;
    const hash = createHash('md5');
    const partHashes: Buffer[] = [];
    let partHash = createHash('md5');
    let produced = 0;
    let maxOutstanding = 0;
    async function* generate() {
      while (produced < total) {
        const data = randomBytes(chunk);
        hash.update(data);
        partHash.update(data);
        produced += data.length;
        if (produced % partSize === 0) {
          partHashes.push(partHash.digest());
          partHash = createHash('md5');
        }
        maxOutstanding = Math.max(maxOutstanding, produced - uploaded);
        yield data;
      }
    }
    const result = await adapter.write({ key: 'big.bin', body: Readable.from(generate()), metadata: meta({ contentType: 'application/x-big' }) });
    const expectedEtag = `"${createHash('md5').update(Buffer.concat(partHashes)).digest('hex')}-4"`;
    expect(result).toMatchObject({ size: total, etag: expectedEtag });
    expect(counts).toMatchObject({ CreateMultipartUpload: 1, UploadPart: 4, CompleteMultipartUpload: 1 });
    expect(counts.PutObject).toBeUndefined();
    expect(maxInFlight.UploadPart).toBeLessThanOrEqual(queueSize);
    // At most queueSize parts uploading + one filling, plus what the stream buffers ahead.
    expect(maxOutstanding).toBeLessThanOrEqual((queueSize + 1) * partSize + 2 * MiB);
    const info = await adapter.stat('big.bin');
    expect(info).toMatchObject({ size: total, etag: expectedEtag, contentType: 'application/x-big' });
    expect(md5(await readAll(await adapter.read('big.bin', undefined))).equals(hash.digest())).toBe(true);
    expect(await uploadsLeft()).toBe(0);
  });

  test('a body of exactly one part is a single PutObject', async () => {
    const adapter = open('exact', { partSize: 5 * MiB });
    const { counts } = countCommands(adapter);
    const data = randomBytes(5 * MiB);
    const result = await adapter.write({ key: 'five', body: Readable.from([data.subarray(0, 3 * MiB), data.subarray(3 * MiB)]), metadata: meta() });
    expect(result.etag).toBe(`"${md5(data).toString('hex')}"`);
    expect(counts.PutObject).toBe(1);
    expect(counts.CreateMultipartUpload).toBeUndefined();
  });

  test('beforeCommit throwing on a multipart write aborts the upload and leaves no object', async () => {
    const adapter = open('veto', { partSize: 5 * MiB });
    const { counts } = countCommands(adapter);
    let ranAfterBody = false;
    const data = randomBytes(11 * MiB);
    const source = Readable.from([data.subarray(0, 6 * MiB), data.subarray(6 * MiB)]);
    await expect(
      adapter.write({
        key: 'vetoed',
        body: source,
        metadata: meta(),
        beforeCommit: () => {
          ranAfterBody = source.readableEnded;
          throw new Error('BadDigest');
        },
      }),
    ).rejects.toThrow('BadDigest');
    expect(ranAfterBody).toBe(true);
    expect(counts).toMatchObject({ CreateMultipartUpload: 1, AbortMultipartUpload: 1 });
    expect(counts.CompleteMultipartUpload).toBeUndefined();
    await expectKind(adapter.stat('vetoed'), 'NotFound');
    const left = [];
    for await (const upload of adapter.listMultipartUploads('')) left.push(upload);
    expect(left).toEqual([]);
    expect(await uploadsLeft()).toBe(0);
  });

  test('a body failing after some parts aborts the upload; the body error is rethrown unchanged', async () => {
    const adapter = open('failing', { partSize: 5 * MiB, queueSize: 1 });
    const boom = new Error('client went away');
    async function* generate() {
      for (let i = 0; i < 12; i++) yield randomBytes(MiB);
      throw boom;
    }
    await expect(adapter.write({ key: 'broken', body: Readable.from(generate()), metadata: meta() })).rejects.toBe(boom);
    await expectKind(adapter.stat('broken'), 'NotFound');
    expect(await uploadsLeft()).toBe(0);
  });

  test('an aborted signal stops a multipart write: Aborted, upload aborted', async () => {
    const adapter = open('abort', { partSize: 5 * MiB });
    const controller = new AbortController();
    let sent = 0;
    const endless = new Readable({
      read() {
        sent += MiB;
        if (sent === 8 * MiB) setTimeout(() => controller.abort(), 10);
        if (sent <= 8 * MiB) this.push(randomBytes(MiB));
      },
    });
    await expectKind(adapter.write({ key: 'stopped', body: endless, metadata: meta(), signal: controller.signal }), 'Aborted');
    await expectKind(adapter.stat('stopped'), 'NotFound');
    expect(await uploadsLeft()).toBe(0);
  });

  test('multipart uploads: temp files removed, metadata remembered, and what a restart loses', async () => {
    const adapter = open('mpu');
    const partDir = path.join(tmpRoot, 'parts');
    const upload = await adapter.createMultipartUpload('obj', meta({ contentType: 'text/x-mpu', userMetadata: { k: 'v' } }));
    const known = await adapter.getMultipartUpload('obj', upload.uploadId);
    expect(known).toMatchObject({ uploadId: upload.uploadId, key: 'obj', metadata: { contentType: 'text/x-mpu', userMetadata: { k: 'v' } } });

    let beforeCommitRan = false;
    const part1 = randomBytes(5 * MiB);
    const p1 = await adapter.uploadPart({
      uploadId: upload.uploadId,
      key: 'obj',
      partNumber: 1,
      body: Readable.from([part1.subarray(0, MiB), part1.subarray(MiB)]),
      beforeCommit: () => {
        beforeCommitRan = true;
      },
    });
    expect(beforeCommitRan).toBe(true);
    expect(p1).toMatchObject({ partNumber: 1, size: part1.length, etag: `"${md5(part1).toString('hex')}"` });
    expect(await readdir(partDir)).toEqual([]);

    // A part body that fails: rethrown unchanged, temp file removed, nothing stored.
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1000));
        this.destroy(new Error('BadDigest'));
      },
    });
    await expect(adapter.uploadPart({ uploadId: upload.uploadId, key: 'obj', partNumber: 2, body: failing })).rejects.toThrow('BadDigest');
    expect(await readdir(partDir)).toEqual([]);
    expect((await adapter.listParts('obj', upload.uploadId)).map((p) => p.partNumber)).toEqual([1]);

    // Another gateway instance (or this one after a restart) does not know the metadata.
    const restarted = open('mpu');
    const after = await restarted.getMultipartUpload('obj', upload.uploadId);
    expect(after).toMatchObject({ uploadId: upload.uploadId, key: 'obj', metadata: { userMetadata: {} } });
    expect(after.metadata.contentType).toBeUndefined();
    expect(Math.abs(after.initiated.getTime() - upload.initiated.getTime())).toBeLessThan(5000);
    await expectKind(restarted.getMultipartUpload('obj', 'ffffffffffffffff'), 'NoSuchUpload');
    await expectKind(restarted.getMultipartUpload('other', upload.uploadId), 'NoSuchUpload');
    await expectKind(restarted.getMultipartUpload('obj', ''), 'NoSuchUpload');

    // ... but the store applies it at completion all the same.
    const done = await restarted.completeMultipartUpload('obj', upload.uploadId, [{ partNumber: 1, etag: p1.etag }]);
    expect(done).toMatchObject({ size: part1.length, etag: `"${createHash('md5').update(md5(part1)).digest('hex')}-1"` });
    expect(await adapter.stat('obj')).toMatchObject({ contentType: 'text/x-mpu', userMetadata: { k: 'v' } });
    await expectKind(adapter.getMultipartUpload('obj', upload.uploadId), 'NoSuchUpload');
    await expectKind(adapter.uploadPart({ uploadId: upload.uploadId, key: 'obj', partNumber: 2, body: body('late') }), 'NoSuchUpload');
  });

  test('cleanupAbandonedUploads aborts old uploads under the prefix and removes stale temp files', async () => {
    const adapter = open('sweep');
    const outside = open('sweep-other');
    const mine = await adapter.createMultipartUpload('old', meta());
    const theirs = await outside.createMultipartUpload('keep', meta());
    const partDir = path.join(tmpRoot, 'parts');
    await mkdir(partDir, { recursive: true });
    const stale = path.join(partDir, 'part-stale');
    await writeFile(stale, 'left by a crash');
    await utimes(stale, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
    await writeFile(path.join(partDir, 'part-fresh'), 'in use');
    await utimes(path.join(partDir, 'part-fresh'), new Date(Date.now() + 3600_000), new Date(Date.now() + 3600_000));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await adapter.cleanupAbandonedUploads(10)).toBe(2);
    expect(await readdir(partDir)).toEqual(['part-fresh']);
    await expectKind(adapter.listParts('old', mine.uploadId), 'NoSuchUpload');
    expect(await outside.listParts('keep', theirs.uploadId)).toEqual([]);
    await outside.abortMultipartUpload('keep', theirs.uploadId);
    await rm(path.join(partDir, 'part-fresh'));
  });

  test('copy: server-side, REPLACE or COPY, onto itself, and via UploadPartCopy above the threshold', async () => {
    const adapter = open('copies', { multipartCopyThreshold: MiB, multipartCopyPartSize: 5 * MiB });
    const { counts } = countCommands(adapter);
    const small = Buffer.from('small source');
    await adapter.write({ key: 'small', body: body(small), metadata: meta({ contentType: 'text/plain', userMetadata: { a: '1' } }) });
    const copied = await adapter.copy({ sourceKey: 'small', destinationKey: 'small copy+1' });
    expect(copied).toMatchObject({ size: small.length, etag: `"${md5(small).toString('hex')}"` });
    expect(copied.lastModified).toBeInstanceOf(Date);
    expect(await adapter.stat('small copy+1')).toMatchObject({ contentType: 'text/plain', userMetadata: { a: '1' } });
    const copyRequest = server.requests.filter((r) => r.headers['x-amz-copy-source'] !== undefined).at(-1);
    expect(copyRequest?.headers['x-amz-copy-source-if-match']).toBe(`"${md5(small).toString('hex')}"`);

    // Onto itself without new metadata: S3 refuses COPY, the adapter sends REPLACE with the same metadata.
    await adapter.copy({ sourceKey: 'small', destinationKey: 'small' });
    expect(await adapter.stat('small')).toMatchObject({ contentType: 'text/plain', userMetadata: { a: '1' }, size: small.length });

    const big = randomBytes(11 * MiB);
    await adapter.write({ key: 'big', body: body(big), metadata: meta({ contentType: 'application/x-big', userMetadata: { b: '2' } }) });
    const bigCopy = await adapter.copy({ sourceKey: 'big', destinationKey: 'big-copy' });
    expect(counts.UploadPartCopy).toBe(3);
    expect(bigCopy.size).toBe(big.length);
    expect(bigCopy.etag).toMatch(/-3"$/);
    expect(await adapter.stat('big-copy')).toMatchObject({ size: big.length, contentType: 'application/x-big', userMetadata: { b: '2' } });
    expect((await readAll(await adapter.read('big-copy', undefined))).equals(big)).toBe(true);
    expect(await uploadsLeft()).toBe(0);
  });

  test('invalid keys never reach the store', async () => {
    const adapter = open('x'.repeat(1000));
    await expectKind(adapter.stat(''), 'InvalidKey');
    await expectKind(adapter.write({ key: 'y'.repeat(30), body: body('too long with the prefix'), metadata: meta() }), 'InvalidKey');
    await expectKind(adapter.stat('bad\ud800key'), 'InvalidKey');
  });
});

describe('part uploads are retried with a fresh body', () => {
  let server: S3rverFixture;
  let proxy: http.Server;
  let proxyUrl: string;
  let failedOnce = 0;
  beforeAll(async () => {
    server = await startS3rver({ bucket: 'flaky' });
    const target = new URL(server.endpoint);
    // Answers 500 to the first attempt of every UploadPart (after reading its body), forwards the rest.
    const seen = new Set<string>();
    proxy = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const id = `${url.searchParams.get('uploadId')}/${url.searchParams.get('partNumber')}`;
      if (req.method === 'PUT' && url.searchParams.has('partNumber') && !seen.has(id)) {
        seen.add(id);
        failedOnce++;
        req.resume();
        req.on('end', () => {
          res.writeHead(500, { 'content-type': 'application/xml' });
          res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>try again</Message></Error>');
        });
        return;
      }
      const forward = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      });
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
    await server.close();
  });

  test('uploadPart resends the whole spooled part on retry; write() parts are retried too', async () => {
    const adapter = createS3AdapterFromUri(`s3://flaky/p?endpoint=${encodeURIComponent(proxyUrl)}`, { credentials: CREDENTIALS, maxAttempts: 3, partSize: 5 * MiB });
    try {
      const upload = await adapter.createMultipartUpload('obj', meta());
      const part = randomBytes(3 * MiB);
      const info = await adapter.uploadPart({ uploadId: upload.uploadId, key: 'obj', partNumber: 1, body: Readable.from([part]) });
      expect(failedOnce).toBe(1);
      expect(info.etag).toBe(`"${md5(part).toString('hex')}"`);
      await adapter.completeMultipartUpload('obj', upload.uploadId, [{ partNumber: 1, etag: info.etag }]);
      expect((await readAll(await adapter.read('obj', undefined))).equals(part)).toBe(true);

      const data = randomBytes(7 * MiB);
      await adapter.write({ key: 'streamed', body: Readable.from([data]), metadata: meta() });
      expect(failedOnce).toBe(3);
      expect((await readAll(await adapter.read('streamed', undefined))).equals(data)).toBe(true);
    } finally {
      await adapter.close();
    }
  });
});
