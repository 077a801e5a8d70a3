/**
 * The HDFS adapter against the WebHDFS emulator (NameNode + DataNode on 127.0.0.1): URI
 * parsing, the DataNode redirects, ranged reads, atomic writes, metadata in xattrs, folder
 * markers and path conflicts, RemoteException mapping, and delegation tokens.
 */
import { Readable, Transform, pipeline } from 'node:stream';
import { type UfsErrorKind } from '../../ufs-adapters/errors';
import { HdfsAdapter, createHdfsAdapterFromUri } from '../../ufs-adapters/hdfs/hdfs-adapter';
import { parseHdfsUri } from '../../ufs-adapters/hdfs/hdfs-uri';
import { WebHdfsError } from '../../ufs-adapters/hdfs/hdfs-errors';
import { buildRecord, encodeRecord } from '../../ufs-adapters/hdfs/hdfs-metadata';
import { WebHdfsClient } from '../../ufs-adapters/hdfs/webhdfs-client';
import { startWebHdfsEmulator, type WebHdfsEmulator, type WebHdfsEmulatorOptions } from '../emulators/webhdfs';
import { body, collect, expectUfsError, md5Hex, meta, readText } from '../helpers/adapter-test-kit';


const ROOT = '/data/mount';
let emulator: WebHdfsEmulator;
let adapter: HdfsAdapter;

async function start(options: WebHdfsEmulatorOptions = {}, uriQuery = '?user=alice', adapterOptions = {}): Promise<void> {
  emulator = await startWebHdfsEmulator(options);
  adapter = createHdfsAdapterFromUri(`hdfs://127.0.0.1:${emulator.nameNodePort}${ROOT}${uriQuery}`, adapterOptions);
}

afterEach(async () => {
  jest.restoreAllMocks();
  await adapter?.close();
  await emulator?.close();
});

const tmpFiles = (): Promise<string[]> => emulator.list(`${ROOT}/.ringcache/tmp`);

describe('mount URIs', () => {
  it('parses hdfs://, webhdfs:// and swebhdfs:// with default ports, the root path and the user', () => {
    expect(parseHdfsUri('hdfs://namenode:9870/path/root?user=alice')).toEqual({ nameNodeUrl: 'http://namenode:9870', root: '/path/root', user: 'alice' });
    expect(parseHdfsUri('webhdfs://nn.example.com/a%20b/c/')).toEqual({ nameNodeUrl: 'http://nn.example.com:9870', root: '/a b/c' });
    expect(parseHdfsUri('swebhdfs://nn/x?user.name=bob')).toEqual({ nameNodeUrl: 'https://nn:9871', root: '/x', user: 'bob' });
    expect(parseHdfsUri('hdfs://nn:50070')).toEqual({ nameNodeUrl: 'http://nn:50070', root: '/' });
    expect(parseHdfsUri('hdfs://[::1]:9870/r').nameNodeUrl).toBe('http://[::1]:9870');
  });

  it('refuses what it cannot honour', () => {
    expect(() => parseHdfsUri('s3://bucket/x')).toThrow(TypeError);
    expect(() => parseHdfsUri('hdfs:///no/host')).toThrow(/NameNode host/);
    expect(() => parseHdfsUri('hdfs://alice:secret@nn/x')).toThrow(/credentials/);
    expect(() => parseHdfsUri('hdfs://nn/x?delegation=abc')).toThrow(/unknown HDFS mount URI parameter "delegation"/);
    expect(() => parseHdfsUri('hdfs://nn/a/../b')).not.toThrow(); // URL parsing already resolved ".."
    expect(() => parseHdfsUri('hdfs://nn/a%2F..%2Fb')).toThrow(TypeError);
    expect(() => parseHdfsUri('hdfs://nn/a:b')).toThrow(TypeError);
    expect(() => new HdfsAdapter({ nameNodeUrl: 'namenode:9870', root: '/x' })).toThrow(TypeError);
    expect(() => new HdfsAdapter({ nameNodeUrl: 'http://nn:9870', root: 'relative' })).toThrow(TypeError);
  });

  it('createHdfsAdapterFromUri takes options over the URI; kind, capabilities and close', async () => {
    const a = createHdfsAdapterFromUri('hdfs://nn:9870/r?user=alice', { user: 'bob', timeoutMs: 5000 });
    expect(a.kind).toBe('hdfs');
    expect(a.root).toBe('/r');
    expect(a.nameNodeUrl).toBe('http://nn:9870');
    expect(a.capabilities).toEqual({ nativeCopy: false, nativeMultipartComplete: true, anyDelimiter: false, fileAndPrefixWithSameName: false });
    await expect(a.close()).resolves.toBeUndefined();
  });
});

describe('reads and writes through the DataNode', () => {
  beforeEach(() => start({ allowAnonymous: false }));

  it('CREATE and OPEN follow the NameNode 307 to the DataNode, with user.name on every request', async () => {
    emulator.resetCounts();
    const result = await adapter.write({ key: 'docs/hello.txt', body: body('hello world'), metadata: meta({ contentType: 'text/plain' }) });
    expect(result).toMatchObject({ etag: `"${md5Hex('hello world')}"`, size: 11 });
    expect(emulator.count('CREATE', 'namenode')).toBe(1);
    expect(emulator.count('CREATE', 'datanode')).toBe(1);
    const dnCreate = emulator.requests.find((r) => r.node === 'datanode' && r.op === 'CREATE');
    expect(dnCreate?.params).toMatchObject({ 'user.name': 'alice', overwrite: 'false', namenoderpcaddress: `127.0.0.1:${emulator.nameNodePort}` });
    expect(dnCreate?.path).toMatch(/^\/data\/mount\/\.ringcache\/tmp\/[0-9a-f-]{36}$/);
    expect(dnCreate?.bodyBytes).toBe(11);
    expect(emulator.requests.find((r) => r.node === 'namenode' && r.op === 'CREATE')?.bodyBytes).toBe(0);
    expect(emulator.requests.find((r) => r.op === 'RENAME' && r.params.renameoptions === 'OVERWRITE')?.params.destination).toBe('/data/mount/docs/hello.txt');
    expect(emulator.requests.every((r) => r.params['user.name'] === 'alice' && r.params.delegation === undefined)).toBe(true);

    emulator.resetCounts();
    expect(await readText(await adapter.read('docs/hello.txt', undefined))).toBe('hello world');
    expect(emulator.counts()).toEqual({ 'namenode:OPEN': 1, 'datanode:OPEN': 1 });
    expect(await tmpFiles()).toEqual([]);
  });

  it('ranged reads send offset and length, and the DataNode streams exactly that range', async () => {
    const data = '0123456789abcdefghijklmnopqrstuvwxyz';
    await adapter.write({ key: 'range.txt', body: body(data), metadata: meta() });
    emulator.resetCounts();
    expect(await readText(await adapter.read('range.txt', { start: 10, end: 15 }))).toBe('abcdef');
    const nn = emulator.requests.find((r) => r.node === 'namenode' && r.op === 'OPEN');
    const dn = emulator.requests.find((r) => r.node === 'datanode' && r.op === 'OPEN');
    expect(nn?.params).toMatchObject({ offset: '10', length: '6' });
    expect(dn?.params).toMatchObject({ offset: '10', length: '6', 'user.name': 'alice' });
    expect(await readText(await adapter.read('range.txt', { start: 0, end: 0 }))).toBe('0');
    expect(await readText(await adapter.read('range.txt', { start: 35, end: 35 }))).toBe('z');
  });

  it('stats, overwrites and deletes; missing keys are NotFound before any byte', async () => {
    await adapter.write({ key: 'k', body: body('one'), metadata: meta() });
    const second = await adapter.write({ key: 'k', body: body('two!'), metadata: meta({ userMetadata: { n: '2' } }) });
    expect(await readText(await adapter.read('k', undefined))).toBe('two!');
    const info = await adapter.stat('k');
    expect(info).toMatchObject({ key: 'k', size: 4, etag: `"${md5Hex('two!')}"`, userMetadata: { n: '2' } });
    expect(info.lastModified.getTime()).toBe(second.lastModified.getTime());
    await expectUfsError(adapter.read('missing', undefined), 'NotFound');
    await expectUfsError(adapter.stat('k/deeper'), 'NotFound');
    await expectUfsError(adapter.read('k/deeper', undefined), 'NotFound');
    await adapter.delete('k');
    await expectUfsError(adapter.stat('k'), 'NotFound');
    await expect(adapter.delete('k')).resolves.toBeUndefined();
    await expect(adapter.delete('nothing/here/')).resolves.toBeUndefined();
  });

  it('destroys a read stream when its signal aborts', async () => {
    await adapter.write({ key: 'big', body: body(Buffer.alloc(4 * 1024 * 1024, 'z')), metadata: meta() });
    const controller = new AbortController();
    const stream = await adapter.read('big', undefined, { signal: controller.signal });
    controller.abort();
    await expect(readText(stream)).rejects.toMatchObject({ name: 'AbortError' });
    expect(stream.destroyed).toBe(true);
  });

  it('ifMatch: reads the expected version, refuses another, and catches a replacement during OPEN', async () => {
    const first = await adapter.write({ key: 'v', body: body('one'), metadata: meta() });
    expect(await readText(await adapter.read('v', undefined, { ifMatch: first.etag }))).toBe('one');
    const second = await adapter.write({ key: 'v', body: body('two'), metadata: meta() });
    await expectUfsError(adapter.read('v', undefined, { ifMatch: first.etag }), 'PreconditionFailed');
    expect(await readText(await adapter.read('v', { start: 1, end: 2 }, { ifMatch: second.etag }))).toBe('wo');

    // Another writer replaces the file between the ETag check and the DataNode read.
    const open = WebHdfsClient.prototype.open;
    jest.spyOn(WebHdfsClient.prototype, 'open').mockImplementationOnce(async function (this: WebHdfsClient, ...args) {
      await emulator.writeFile(`${ROOT}/v`, 'three');
      return open.apply(this, args);
    });
    await expectUfsError(adapter.read('v', undefined, { ifMatch: second.etag }), 'PreconditionFailed');
  });

  it('accepts unusual valid keys and refuses what HDFS cannot name', async () => {
    for (const key of ['sp ace/ü€😀', 'a+b=c&d', '100%', 'dots.../x', '-leading', 'semi;colon', 'q?mark#hash']) {
      await adapter.write({ key, body: body(key), metadata: meta() });
      expect(await readText(await adapter.read(key, undefined))).toBe(key);
    }
    for (const key of ['', '/abs', 'a//b', 'a/./b', 'a/../b', '.ringcache/x', '.RingCache', 'a\\b', 'time:12', 'x/.snapshot/y', 'a'.repeat(256)]) {
      await expectUfsError(adapter.write({ key, body: body('x'), metadata: meta() }), 'InvalidKey');
    }
    await expectUfsError(adapter.stat('c:d'), 'InvalidKey');
  });
});

describe('atomic writes', () => {
  beforeEach(() => start());

  const failingBody = (error: Error): Readable => {
    let sent = false;
    return new Readable({
      read() {
        if (!sent) {
          sent = true;
          this.push(Buffer.alloc(256 * 1024, 1));
          return;
        }
        this.destroy(error);
      },
    });
  };

  it('a body that errors mid-way leaves no object and no temp file, and its error comes back unchanged', async () => {
    await adapter.write({ key: 'keep', body: body('old'), metadata: meta() });
    const error = new Error('client went away');
    await expect(adapter.write({ key: 'keep', body: failingBody(error), metadata: meta() })).rejects.toBe(error);
    await expect(adapter.write({ key: 'new/object', body: failingBody(new Error('x')), metadata: meta() })).rejects.toThrow('x');
    expect(await readText(await adapter.read('keep', undefined))).toBe('old');
    await expectUfsError(adapter.stat('new/object'), 'NotFound');
    expect(await tmpFiles()).toEqual([]);
    expect(await emulator.list(ROOT)).toEqual(['.ringcache', 'keep']);
  });

  it('returns an error raised inside a body pipeline stage unchanged (as the S3 layer raises BadDigest)', async () => {
    const badDigest = new Error('BadDigest');
    const check = new Transform({
      transform(_chunk, _encoding, callback) {
        callback(badDigest);
      },
    });
    const source = body('payload');
    const stage = pipeline(source, check, () => undefined);
    await expect(adapter.write({ key: 'digest', body: stage as unknown as Readable, metadata: meta() })).rejects.toBe(badDigest);
    expect(await tmpFiles()).toEqual([]);
  });

  it('beforeCommit throwing leaves nothing; its return value is stored', async () => {
    const veto = new Error('veto');
    await expect(adapter.write({ key: 'v', body: body('x'), metadata: meta(), beforeCommit: () => Promise.reject(veto) })).rejects.toBe(veto);
    await expectUfsError(adapter.stat('v'), 'NotFound');
    await adapter.write({ key: 'v', body: body('x'), metadata: meta({ userMetadata: { a: '1' } }), beforeCommit: () => ({ checksums: { CRC32: 'AAAAAA==' } }) });
    expect(await adapter.stat('v')).toMatchObject({ userMetadata: { a: '1' }, checksums: { CRC32: 'AAAAAA==' } });
    expect(await tmpFiles()).toEqual([]);
  });

  it('an aborted signal rejects with Aborted and cleans up', async () => {
    const controller = new AbortController();
    const slow = new Readable({
      read() {
        this.push(Buffer.alloc(1024));
        setTimeout(() => controller.abort(), 5);
      },
    });
    await expectUfsError(adapter.write({ key: 'aborted', body: slow, metadata: meta(), signal: controller.signal }), 'Aborted');
    await expectUfsError(adapter.stat('aborted'), 'NotFound');
    expect(await tmpFiles()).toEqual([]);
  });

  it('without rename2 (a server ignoring renameoptions) the old file is deleted, then the new one renamed', async () => {
    await emulator.close();
    await adapter.close();
    await start({ renameOptions: false });
    await adapter.write({ key: 'r/x', body: body('one'), metadata: meta() });
    emulator.resetCounts();
    await adapter.write({ key: 'r/x', body: body('two'), metadata: meta({ contentType: 'text/two' }) });
    expect(emulator.requests.filter((r) => ['DELETE', 'RENAME'].includes(r.op)).map((r) => r.op)).toEqual(['DELETE', 'RENAME']);
    expect(await adapter.stat('r/x')).toMatchObject({ size: 3, etag: `"${md5Hex('two')}"`, contentType: 'text/two' });
    await adapter.write({ key: 'r/dir/', body: Readable.from([]), metadata: meta() });
    await expectUfsError(adapter.write({ key: 'r/dir', body: body('x'), metadata: meta() }), 'PathConflict');
    expect(await collect(adapter.list({ prefix: 'r/' }))).toEqual(['r/dir/', 'r/x']);
  });
});

describe('metadata in extended attributes', () => {
  beforeEach(() => start());

  const full = meta({
    contentType: 'text/plain',
    contentEncoding: 'gzip',
    contentDisposition: 'attachment; filename="a b.txt"',
    contentLanguage: 'en',
    cacheControl: 'no-cache',
    expires: 'Wed, 21 Oct 2015 07:28:00 GMT',
    userMetadata: { color: 'blue', 'ünï': 'çødé "quoted"' },
    checksums: { SHA256: 'LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564=' },
  });

  it('lives in user.ringcache.meta of the file and survives a new adapter instance', async () => {
    const result = await adapter.write({ key: 'm/a.txt', body: body('hello'), metadata: full });
    const attrs = await emulator.namespace.getXAttrs(['data', 'mount', 'm', 'a.txt'], [], 'alice');
    expect(attrs.map((a) => a.name)).toEqual(['user.ringcache.meta']);
    const again = createHdfsAdapterFromUri(`hdfs://127.0.0.1:${emulator.nameNodePort}${ROOT}?user=alice`);
    try {
      expect(await again.stat('m/a.txt')).toMatchObject({ ...full, etag: result.etag, size: 5 });
    } finally {
      await again.close();
    }
  });

  it('falls back to a synthetic ETag when an HDFS user appends behind the gateway', async () => {
    const result = await adapter.write({ key: 'm/log', body: body('line1\n'), metadata: full });
    await emulator.appendFile(`${ROOT}/m/log`, 'line2\n');
    const status = await emulator.fileStatus(`${ROOT}/m/log`);
    const info = await adapter.stat('m/log');
    expect(info.etag).not.toBe(result.etag);
    expect(info.etag).toBe(`"${md5Hex(`${status?.length}-${status?.modificationTime}-${status?.fileId}`)}"`);
    expect(info).toMatchObject({ size: 12, userMetadata: {} });
    expect(info.contentType).toBeUndefined();
  });

  it('carries large metadata in the SETXATTR URL, and drops part sizes before exceeding the xattr limit', async () => {
    const userMetadata = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`key-${i}`, `${'v'.repeat(200)}-${i}`]));
    await adapter.write({ key: 'm/big-meta', body: body('x'), metadata: meta({ userMetadata }) });
    expect((await adapter.stat('m/big-meta')).userMetadata).toEqual(userMetadata);

    const partSizes = Array.from({ length: 4000 }, (_, i) => 5 * 1024 * 1024 + i);
    const record = buildRecord(meta(), { etag: '"x-4000"', size: 1, mtime: 1, partSizes });
    expect(JSON.parse(encodeRecord(record).toString()).parts).toBeUndefined();
    const uniform = buildRecord(meta(), { etag: '"x-4000"', size: 1, mtime: 1, partSizes: [...Array(3999).fill(8 << 20), 5] });
    expect(JSON.parse(encodeRecord(uniform).toString()).parts).toEqual([
      [8 << 20, 3999],
      [5, 1],
    ]);
    expect(() => encodeRecord(buildRecord(meta({ contentDisposition: 'x'.repeat(20000) }), { etag: '"e"', size: 1, mtime: 1 }))).toThrow(/too large/);
  });

  it('serves files written by HDFS users with a stable synthetic ETag', async () => {
    await emulator.writeFile(`${ROOT}/raw/file.bin`, 'from hdfs dfs -put');
    const a = await adapter.stat('raw/file.bin');
    const b = await adapter.stat('raw/file.bin');
    expect(a.etag).toBe(b.etag);
    expect(a).toMatchObject({ size: 18, userMetadata: {} });
    expect(await collect(adapter.list({ prefix: 'raw/' }))).toEqual(['raw/file.bin']);
    expect(await readText(await adapter.read('raw/file.bin', undefined, { ifMatch: a.etag }))).toBe('from hdfs dfs -put');
  });
});

describe('folder markers and path conflicts', () => {
  beforeEach(() => start());

  it('stores a folder marker as a directory carrying the record', async () => {
    const result = await adapter.write({ key: 'photos/', body: Readable.from([]), metadata: meta({ userMetadata: { a: 'b' } }) });
    expect(result).toMatchObject({ etag: `"${md5Hex('')}"`, size: 0 });
    expect((await emulator.fileStatus(`${ROOT}/photos`))?.type).toBe('DIRECTORY');
    expect(await adapter.stat('photos/')).toMatchObject({ key: 'photos/', size: 0, etag: `"${md5Hex('')}"`, userMetadata: { a: 'b' } });
    expect(await readText(await adapter.read('photos/', undefined))).toBe('');
    await expectUfsError(adapter.stat('photos'), 'NotFound');
    expect(await collect(adapter.list({ prefix: '' }))).toEqual(['photos/']);
    expect(await collect(adapter.list({ prefix: '', delimiter: '/' }))).toEqual(['prefix:photos/']);
    expect(await collect(adapter.list({ prefix: 'photos/', delimiter: '/' }))).toEqual(['photos/']);
    await expectUfsError(adapter.write({ key: 'nonempty/', body: body('x'), metadata: meta() }), 'InvalidKey');
  });

  it('a plain directory is not an object', async () => {
    await emulator.mkdirs(`${ROOT}/plain/empty`);
    await expectUfsError(adapter.stat('plain'), 'NotFound');
    await expectUfsError(adapter.stat('plain/'), 'NotFound');
    expect(await collect(adapter.list({ prefix: '' }))).toEqual([]);
  });

  it('deleting a marker keeps a non-empty folder; deleting files prunes empty parents but keeps markers', async () => {
    await adapter.write({ key: 'p/', body: Readable.from([]), metadata: meta() });
    await adapter.write({ key: 'p/a.jpg', body: body('jpg'), metadata: meta() });
    await adapter.delete('p/');
    await expectUfsError(adapter.stat('p/'), 'NotFound');
    expect(await collect(adapter.list({ prefix: '' }))).toEqual(['p/a.jpg']);
    await adapter.delete('p/a.jpg');
    expect(await emulator.list(ROOT)).toEqual(['.ringcache']);

    await adapter.write({ key: 'a/b/', body: Readable.from([]), metadata: meta() });
    await adapter.write({ key: 'a/b/c/d/e.txt', body: body('e'), metadata: meta() });
    await adapter.delete('a/b/c/d/e.txt');
    expect(await emulator.list(`${ROOT}/a/b`)).toEqual([]);
    expect(await collect(adapter.list({ prefix: '' }))).toEqual(['a/b/']);
    await adapter.delete('a/b/');
    expect(await emulator.list(ROOT)).toEqual(['.ringcache']);
  });

  it('reports PathConflict for what HDFS cannot hold, and replaces an empty leftover directory', async () => {
    await adapter.write({ key: 'a', body: body('file a'), metadata: meta() });
    await expectUfsError(adapter.write({ key: 'a/b', body: body('x'), metadata: meta() }), 'PathConflict');
    await expectUfsError(adapter.write({ key: 'a/b/c', body: body('x'), metadata: meta() }), 'PathConflict');
    await expectUfsError(adapter.write({ key: 'a/', body: Readable.from([]), metadata: meta() }), 'PathConflict');
    await adapter.write({ key: 'dir/x', body: body('x'), metadata: meta() });
    await expectUfsError(adapter.write({ key: 'dir', body: body('y'), metadata: meta() }), 'PathConflict');
    await adapter.write({ key: 'marker/', body: Readable.from([]), metadata: meta() });
    await expectUfsError(adapter.write({ key: 'marker', body: body('y'), metadata: meta() }), 'PathConflict');
    expect(await readText(await adapter.read('a', undefined))).toBe('file a');
    expect(await collect(adapter.list({ prefix: '' }))).toEqual(['a', 'dir/x', 'marker/']);
    expect(await tmpFiles()).toEqual([]);

    await emulator.mkdirs(`${ROOT}/leftover`);
    await adapter.write({ key: 'leftover', body: body('now a file'), metadata: meta() });
    expect(await readText(await adapter.read('leftover', undefined))).toBe('now a file');
    // Deleting "dir" (a folder holding dir/x) is not deleting an object.
    await adapter.delete('dir');
    expect(await readText(await adapter.read('dir/x', undefined))).toBe('x');
  });
});

describe('copy', () => {
  beforeEach(() => start());

  it('streams the bytes through the gateway and keeps the ETag and metadata', async () => {
    const src = await adapter.write({ key: 'src/a.txt', body: body('copy me'), metadata: meta({ contentType: 'text/x', userMetadata: { k: 'v' } }) });
    emulator.resetCounts();
    const copied = await adapter.copy({ sourceKey: 'src/a.txt', destinationKey: 'dst/b.txt' });
    expect(copied).toMatchObject({ etag: src.etag, size: 7 });
    expect(emulator.count('OPEN', 'datanode')).toBe(1);
    expect(emulator.count('CREATE', 'datanode')).toBe(1);
    expect(await adapter.stat('dst/b.txt')).toMatchObject({ etag: src.etag, contentType: 'text/x', userMetadata: { k: 'v' } });
    await adapter.copy({ sourceKey: 'src/a.txt', destinationKey: 'dst/c.txt', metadata: meta({ contentType: 'text/y' }) });
    expect(await adapter.stat('dst/c.txt')).toMatchObject({ etag: src.etag, contentType: 'text/y', userMetadata: {} });
    expect(await tmpFiles()).toEqual([]);
  });

  it('onto itself only rewrites the record (same inode, same mtime)', async () => {
    const src = await adapter.write({ key: 'self', body: body('same bytes'), metadata: meta({ contentType: 'a/b' }) });
    const before = await emulator.fileStatus(`${ROOT}/self`);
    emulator.resetCounts();
    const result = await adapter.copy({ sourceKey: 'self', destinationKey: 'self', metadata: meta({ contentType: 'c/d' }) });
    expect(emulator.count('CREATE')).toBe(0);
    const after = await emulator.fileStatus(`${ROOT}/self`);
    expect(after).toMatchObject({ fileId: before?.fileId, modificationTime: before?.modificationTime });
    expect(result.etag).toBe(src.etag);
    expect(await adapter.stat('self')).toMatchObject({ etag: src.etag, contentType: 'c/d' });
  });

  it('NotFound for a missing source, PathConflict for an impossible destination', async () => {
    await expectUfsError(adapter.copy({ sourceKey: 'missing', destinationKey: 'x' }), 'NotFound');
    await adapter.write({ key: 'file', body: body('f'), metadata: meta() });
    await expectUfsError(adapter.copy({ sourceKey: 'file', destinationKey: 'file/below' }), 'PathConflict');
    expect(await tmpFiles()).toEqual([]);
  });
});

describe('RemoteException mapping', () => {
  beforeEach(() => start());

  const cases: Array<[string, string, number, UfsErrorKind]> = [
    ['FileNotFoundException', 'java.io.FileNotFoundException', 404, 'NotFound'],
    ['AccessControlException', 'org.apache.hadoop.security.AccessControlException', 403, 'Denied'],
    ['SafeModeException', 'org.apache.hadoop.hdfs.server.namenode.SafeModeException', 403, 'Unavailable'],
    ['StandbyException', 'org.apache.hadoop.ipc.StandbyException', 403, 'Unavailable'],
    ['RetriableException', 'org.apache.hadoop.ipc.RetriableException', 403, 'Throttled'],
    ['IllegalArgumentException', 'java.lang.IllegalArgumentException', 400, 'Unavailable'],
    ['RuntimeException', 'java.lang.RuntimeException', 500, 'Unavailable'],
  ];

  it.each(cases)('%s maps by exception name, keeping the RemoteException as cause', async (exception, javaClassName, status, kind) => {
    await adapter.write({ key: 'x', body: body('x'), metadata: meta() });
    const message = `${exception} for /data/mount/x: secret path detail`;
    emulator.injectFault({ op: 'OPEN', status, exception, javaClassName, message });
    const err = await expectUfsError(adapter.read('x', undefined), kind);
    expect(err.message).not.toContain('/data/mount');
    const cause = (err as Error & { cause?: unknown }).cause;
    expect(cause).toBeInstanceOf(WebHdfsError);
    expect(cause).toMatchObject({ op: 'OPEN', status, exception, javaClassName, remoteMessage: message });
    if (kind !== 'NotFound') {
      emulator.injectFault({ op: 'GETFILESTATUS', status, exception, javaClassName, message });
      await expectUfsError(adapter.stat('x'), kind);
    }
  });

  it('maps write-side exceptions: FileAlreadyExists is PathConflict, quota is Unavailable, DataNode errors too', async () => {
    emulator.injectFault({ op: 'RENAME', status: 403, exception: 'FileAlreadyExistsException', javaClassName: 'org.apache.hadoop.fs.FileAlreadyExistsException' });
    await expectUfsError(adapter.write({ key: 'y', body: body('y'), metadata: meta() }), 'PathConflict');
    emulator.injectFault({ op: 'CREATE', node: 'datanode', status: 403, exception: 'DSQuotaExceededException', javaClassName: 'org.apache.hadoop.hdfs.protocol.DSQuotaExceededException' });
    await expectUfsError(adapter.write({ key: 'y', body: body('y'), metadata: meta() }), 'Unavailable');
    emulator.injectFault({ op: 'OPEN', node: 'datanode', status: 403, exception: 'AccessControlException', javaClassName: 'org.apache.hadoop.security.AccessControlException' });
    await adapter.write({ key: 'z', body: body('z'), metadata: meta() });
    await expectUfsError(adapter.read('z', undefined), 'Denied');
    expect(await tmpFiles()).toEqual([]);
  });

  it('network failures are Unavailable; a 401 page without RemoteException is Denied', async () => {
    emulator.injectFault({ op: 'GETFILESTATUS', network: true });
    await expectUfsError(adapter.stat('x'), 'Unavailable');
    const nowhere = new HdfsAdapter({ nameNodeUrl: 'http://127.0.0.1:1', root: '/x', user: 'a', timeoutMs: 2000 });
    await expectUfsError(nowhere.stat('k'), 'Unavailable');
    await nowhere.close();

    await adapter.close();
    await emulator.close();
    await start({ allowAnonymous: false }, '');
    const err = await expectUfsError(adapter.stat('x'), 'Denied');
    expect((err as Error & { cause?: unknown }).cause).toMatchObject({ status: 401, exception: undefined });
  });
});

describe('delegation tokens', () => {
  it('sends delegation=<token> instead of user.name, also to the DataNode', async () => {
    await start({ requireDelegationToken: true, delegationTokens: { 'tok-123': 'alice' } }, '?user=alice', { delegationToken: 'tok-123' });
    await adapter.write({ key: 't/a', body: body('secured'), metadata: meta() });
    expect(await readText(await adapter.read('t/a', undefined))).toBe('secured');
    expect(emulator.requests.length).toBeGreaterThan(5);
    for (const r of emulator.requests) {
      expect(r.params.delegation).toBe('tok-123');
      expect(r.params['user.name']).toBeUndefined();
    }
    expect(emulator.requests.some((r) => r.node === 'datanode')).toBe(true);
  });

  it('a cluster that requires tokens refuses user.name (Denied); an unknown token is Denied too', async () => {
    await start({ requireDelegationToken: true, delegationTokens: { good: 'alice' } });
    await expectUfsError(adapter.stat('x'), 'Denied');
    const bad = createHdfsAdapterFromUri(`hdfs://127.0.0.1:${emulator.nameNodePort}${ROOT}`, { delegationToken: 'stolen' });
    try {
      const err = await expectUfsError(bad.stat('x'), 'Denied');
      expect((err as Error & { cause?: unknown }).cause).toMatchObject({ status: 403, exception: 'InvalidToken' });
    } finally {
      await bad.close();
    }
  });
});
