import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Transform, pipeline } from 'node:stream';
import { LocalAdapter } from '../../ufs-adapters/local/local-adapter';
import type { ObjectMetadata } from '../../ufs-adapters/types';
import { body, collect, expectUfsError, md5Hex, meta, readText } from '../helpers/adapter-test-kit';


let base: string;
let root: string;
let outside: string;
let adapter: LocalAdapter;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'ringcache-local-'));
  root = path.join(base, 'root');
  outside = path.join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
  await writeFile(path.join(outside, 'secret.txt'), 'top secret');
  adapter = new LocalAdapter({ root });
});

afterEach(async () => {
  await adapter.close();
  await rm(base, { recursive: true, force: true });
});

const tmpFiles = async (): Promise<string[]> => readdir(path.join(root, '.ringcache', 'tmp')).catch(() => []);

describe('LocalAdapter basics', () => {
  it('reports kind and capabilities, and close resolves', async () => {
    expect(adapter.kind).toBe('local');
    expect(adapter.capabilities).toEqual({
      nativeCopy: false,
      nativeMultipartComplete: false,
      anyDelimiter: false,
      fileAndPrefixWithSameName: false,
    });
    await expect(adapter.close()).resolves.toBeUndefined();
  });

  it('requires an absolute root', () => {
    expect(() => new LocalAdapter({ root: 'relative/dir' })).toThrow(TypeError);
  });

  it('writes, stats, reads (whole and ranged) and deletes an object', async () => {
    const result = await adapter.write({ key: 'docs/hello.txt', body: body('hello world'), metadata: meta({ contentType: 'text/plain' }) });
    expect(result.etag).toBe(`"${md5Hex('hello world')}"`);
    expect(result.size).toBe(11);

    const info = await adapter.stat('docs/hello.txt');
    expect(info).toMatchObject({ key: 'docs/hello.txt', size: 11, etag: result.etag, contentType: 'text/plain', userMetadata: {} });
    expect(info.lastModified.getTime()).toBe(result.lastModified.getTime());
    expect(await readFile(path.join(root, 'docs', 'hello.txt'), 'utf8')).toBe('hello world');

    expect(await readText(await adapter.read('docs/hello.txt', undefined))).toBe('hello world');
    expect(await readText(await adapter.read('docs/hello.txt', { start: 6, end: 10 }))).toBe('world');
    expect(await readText(await adapter.read('docs/hello.txt', { start: 0, end: 0 }))).toBe('h');

    await adapter.delete('docs/hello.txt');
    await expectUfsError(adapter.stat('docs/hello.txt'), 'NotFound');
    expect(existsSync(path.join(root, 'docs'))).toBe(false);
    expect(await tmpFiles()).toEqual([]);
  });

  it('overwrites an object and reports NotFound for missing keys before any byte', async () => {
    await adapter.write({ key: 'k', body: body('one'), metadata: meta() });
    await adapter.write({ key: 'k', body: body('two!'), metadata: meta() });
    expect(await readText(await adapter.read('k', undefined))).toBe('two!');
    expect((await adapter.stat('k')).etag).toBe(`"${md5Hex('two!')}"`);
    await expectUfsError(adapter.read('missing', undefined), 'NotFound');
    await expectUfsError(adapter.stat('missing/deeper'), 'NotFound');
  });

  it('destroys a read stream when its signal aborts', async () => {
    await adapter.write({ key: 'big', body: body(Buffer.alloc(4 * 1024 * 1024, 'z')), metadata: meta() });
    const controller = new AbortController();
    const stream = await adapter.read('big', undefined, { signal: controller.signal });
    controller.abort();
    await expect(readText(stream)).rejects.toMatchObject({ name: 'AbortError' });
    expect(stream.destroyed).toBe(true);
  });

  it('deleting a missing key is not an error', async () => {
    await expect(adapter.delete('nothing/here')).resolves.toBeUndefined();
    await expect(adapter.delete('nothing/')).resolves.toBeUndefined();
  });
});

describe('key safety', () => {
  const badKeys = [
    '',
    '..',
    'a/../../x',
    '../x',
    '/etc/passwd',
    'a\\..\\b',
    'a\0b',
    '.ringcache/x',
    '.ringcache',
    '.ringcache/',
    '.RingCache/meta/x',
    'a//b',
    'a//',
    './a',
    'a/./b',
    'a/..',
    'x'.repeat(256),
    'ab/'.repeat(400),
    '\ud800lonely',
  ];

  it.each(badKeys.map((k) => [JSON.stringify(k), k]))('rejects %s everywhere without touching the disk', async (_label, key) => {
    const err = await expectUfsError(adapter.write({ key, body: body('pwned'), metadata: meta() }), 'InvalidKey');
    expect(err.message).not.toContain(base);
    await expectUfsError(adapter.stat(key), 'InvalidKey');
    await expectUfsError(adapter.read(key, undefined), 'InvalidKey');
    await expectUfsError(adapter.delete(key), 'InvalidKey');
    await expectUfsError(adapter.copy({ sourceKey: key, destinationKey: 'ok' }), 'InvalidKey');
    await expectUfsError(adapter.createMultipartUpload(key, meta()), 'InvalidKey');

    expect((await readdir(base)).sort()).toEqual(['outside', 'root']);
    expect(await readdir(outside)).toEqual(['secret.txt']);
    expect((await readdir(root)).filter((n) => n !== '.ringcache')).toEqual([]);
    expect(await tmpFiles()).toEqual([]);
  });

  it('accepts unusual but valid keys', async () => {
    const keys = ['a/...', '..a', 'a..b/c', ' spaced ', '€/😀/ä', 'x'.repeat(255), 'dir/' + '€'.repeat(85), 'dot.ringcache/x', 'a/.ringcache/b'];
    for (const key of keys) {
      await adapter.write({ key, body: body(key), metadata: meta({ contentType: `type/${key.length}` }) });
      expect(await readText(await adapter.read(key, undefined))).toBe(key);
      expect((await adapter.stat(key)).contentType).toBe(`type/${key.length}`);
    }
    expect((await collect(adapter.list({ prefix: '' }))).length).toBe(keys.length);
  });

  it('does not follow symlinks that lead outside the root', async () => {
    await symlink(path.join(outside, 'secret.txt'), path.join(root, 'link.txt'));
    await symlink(outside, path.join(root, 'linkdir'));

    await expectUfsError(adapter.stat('link.txt'), 'NotFound');
    await expectUfsError(adapter.read('link.txt', undefined), 'NotFound');
    await expectUfsError(adapter.stat('linkdir/secret.txt'), 'NotFound');
    await expectUfsError(adapter.read('linkdir/secret.txt', undefined), 'NotFound');
    await expectUfsError(adapter.copy({ sourceKey: 'linkdir/secret.txt', destinationKey: 'stolen' }), 'NotFound');
    expect(await collect(adapter.list({ prefix: '' }))).toEqual([]);
    expect(await collect(adapter.list({ prefix: 'linkdir/' }))).toEqual([]);
    expect(await collect(adapter.list({ prefix: '', delimiter: '/' }))).toEqual([]);

    const err = await expectUfsError(adapter.write({ key: 'linkdir/planted.txt', body: body('x'), metadata: meta() }), 'Denied');
    expect(err.message).not.toContain(base);
    expect(existsSync(path.join(outside, 'planted.txt'))).toBe(false);

    await adapter.delete('linkdir/secret.txt');
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('top secret');
  });

  it('does not serve the reserved folder through a symlink, and skips in-root symlinks when listing', async () => {
    await adapter.write({ key: 'real.txt', body: body('real'), metadata: meta() });
    await symlink(path.join(root, '.ringcache'), path.join(root, 'reserved'));
    await symlink(path.join(root, 'real.txt'), path.join(root, 'alias.txt'));
    await expectUfsError(adapter.stat('reserved/meta/real.txt.meta.json'), 'NotFound');
    expect(await collect(adapter.list({ prefix: '' }))).toEqual(['real.txt']);
  });
});

describe('atomic writes', () => {
  function failingBody(error: Error): Readable {
    let sent = false;
    return new Readable({
      read() {
        if (!sent) {
          sent = true;
          this.push(Buffer.alloc(64 * 1024, 'x'));
          setTimeout(() => this.destroy(error), 5);
        }
      },
    });
  }

  it('a body that errors mid-way leaves no object and no temp file, and its error comes back unchanged', async () => {
    await adapter.write({ key: 'keep/me', body: body('version 1'), metadata: meta() });
    const badDigest = new Error('BadDigest');
    await expect(adapter.write({ key: 'keep/me', body: failingBody(badDigest), metadata: meta() })).rejects.toBe(badDigest);
    await expect(adapter.write({ key: 'new/object', body: failingBody(badDigest), metadata: meta() })).rejects.toBe(badDigest);

    expect(await readText(await adapter.read('keep/me', undefined))).toBe('version 1');
    expect((await adapter.stat('keep/me')).etag).toBe(`"${md5Hex('version 1')}"`);
    await expectUfsError(adapter.stat('new/object'), 'NotFound');
    expect(existsSync(path.join(root, 'new'))).toBe(false);
    expect(await tmpFiles()).toEqual([]);
  });

  it('returns an error raised inside a body pipeline stage unchanged (as the S3 layer raises BadDigest)', async () => {
    const badDigest = new Error('BadDigest');
    const integrity = new Transform({
      transform(chunk, _encoding, callback) {
        callback(null, chunk);
      },
      flush(callback) {
        setTimeout(() => callback(badDigest), 1);
      },
    });
    const counter = new PassThrough();
    const staged = pipeline([integrity, counter] as [Transform, PassThrough], () => undefined) as unknown as Readable;
    integrity.end('payload');
    await expect(adapter.write({ key: 'staged', body: staged, metadata: meta() })).rejects.toBe(badDigest);
    await expectUfsError(adapter.stat('staged'), 'NotFound');
    expect(await tmpFiles()).toEqual([]);
  });

  it('beforeCommit throwing leaves nothing; its return value is stored', async () => {
    const refused = new Error('checksum mismatch');
    await expect(
      adapter.write({ key: 'x', body: body('data'), metadata: meta(), beforeCommit: () => Promise.reject(refused) }),
    ).rejects.toBe(refused);
    await expectUfsError(adapter.stat('x'), 'NotFound');
    expect(await tmpFiles()).toEqual([]);

    await adapter.write({
      key: 'x',
      body: body('data'),
      metadata: meta({ checksums: { CRC32: 'AAAAAA==' }, userMetadata: { a: '1' } }),
      beforeCommit: () => ({ checksums: { SHA256: 'c2hhMjU2' } }),
    });
    const info = await adapter.stat('x');
    expect(info.checksums).toEqual({ CRC32: 'AAAAAA==', SHA256: 'c2hhMjU2' });
    expect(info.userMetadata).toEqual({ a: '1' });
  });

  it('an aborted signal rejects with Aborted and cleans up', async () => {
    const controller = new AbortController();
    const endless = new Readable({
      read() {
        /* data arrives once, then the client stalls */
      },
    });
    endless.push('partial');
    setTimeout(() => controller.abort(), 20);
    await expectUfsError(adapter.write({ key: 'slow', body: endless, metadata: meta(), signal: controller.signal }), 'Aborted');
    await expectUfsError(adapter.stat('slow'), 'NotFound');
    expect(await tmpFiles()).toEqual([]);

    await expectUfsError(adapter.write({ key: 'late', body: body('x'), metadata: meta(), signal: controller.signal }), 'Aborted');
  });
});

describe('metadata sidecars', () => {
  const full: ObjectMetadata = {
    contentType: 'image/png',
    contentEncoding: 'gzip',
    contentDisposition: 'attachment; filename="a.png"',
    contentLanguage: 'de',
    cacheControl: 'max-age=60',
    expires: 'Wed, 21 Oct 2037 07:28:00 GMT',
    userMetadata: { owner: 'me', 'x-y': 'ä€' },
    checksums: { CRC32C: 'q83vEg==' },
  };

  it('survive a new adapter instance (process restart)', async () => {
    const written = await adapter.write({ key: 'img/a.png', body: body('png bytes'), metadata: full });
    const restarted = new LocalAdapter({ root });
    const info = await restarted.stat('img/a.png');
    expect(info).toEqual({ key: 'img/a.png', size: 9, etag: written.etag, lastModified: written.lastModified, ...full });
    expect(JSON.parse(await readFile(path.join(root, '.ringcache', 'meta', 'img', 'a.png.meta.json'), 'utf8'))).toMatchObject({
      etag: written.etag,
      size: 9,
      contentType: 'image/png',
    });
  });

  it('falls back to synthetic metadata when the file was changed behind the gateway', async () => {
    await adapter.write({ key: 'nfs.txt', body: body('original'), metadata: full });
    await writeFile(path.join(root, 'nfs.txt'), 'changed by an NFS user');
    const st = await stat(path.join(root, 'nfs.txt'));
    const info = await adapter.stat('nfs.txt');
    expect(info.etag).toBe(`"${md5Hex(`${st.size}-${st.mtimeMs}-${st.ino}`)}"`);
    expect(info.contentType).toBeUndefined();
    expect(info.userMetadata).toEqual({});
    expect(info.size).toBe(22);
  });

  it('serves pre-existing files without sidecar, with a stable synthetic ETag', async () => {
    await mkdir(path.join(root, 'legacy'));
    await writeFile(path.join(root, 'legacy', 'data.bin'), 'legacy data');
    const when = new Date('2020-01-02T03:04:05.678Z');
    await utimes(path.join(root, 'legacy', 'data.bin'), when, when);
    const info = await adapter.stat('legacy/data.bin');
    expect(info.size).toBe(11);
    // utimes goes through float seconds: allow for sub-millisecond rounding.
    expect(Math.abs(info.lastModified.getTime() - when.getTime())).toBeLessThanOrEqual(1);
    expect(info.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(info.etag).not.toBe(`"${md5Hex('legacy data')}"`);
    expect((await adapter.stat('legacy/data.bin')).etag).toBe(info.etag);
    const listed = [];
    for await (const entry of adapter.list({ prefix: 'legacy/' })) listed.push(entry);
    expect(listed).toEqual([{ kind: 'object', key: 'legacy/data.bin', size: 11, etag: info.etag, lastModified: info.lastModified }]);
  });
});

describe('folder markers and path conflicts', () => {
  it('stores a folder marker as a directory with a sidecar', async () => {
    const result = await adapter.write({ key: 'photos/', body: Readable.from([]), metadata: meta({ userMetadata: { a: 'b' } }) });
    expect(result).toMatchObject({ etag: `"${md5Hex('')}"`, size: 0 });
    expect((await lstat(path.join(root, 'photos'))).isDirectory()).toBe(true);
    const info = await adapter.stat('photos/');
    expect(info).toMatchObject({ key: 'photos/', size: 0, etag: `"${md5Hex('')}"`, userMetadata: { a: 'b' } });
    expect(await readText(await adapter.read('photos/', undefined))).toBe('');
    await expectUfsError(adapter.stat('photos'), 'NotFound');
    expect(await collect(adapter.list({ prefix: '' }))).toEqual(['photos/']);
    expect(await collect(adapter.list({ prefix: '', delimiter: '/' }))).toEqual(['prefix:photos/']);
    expect(await collect(adapter.list({ prefix: 'photos/', delimiter: '/' }))).toEqual(['photos/']);
  });

  it('rejects a non-empty body for a folder key', async () => {
    await expectUfsError(adapter.write({ key: 'dir/', body: body('not empty'), metadata: meta() }), 'InvalidKey');
    await expectUfsError(adapter.stat('dir/'), 'NotFound');
    expect(existsSync(path.join(root, 'dir'))).toBe(false);
  });

  it('a plain directory is not an object', async () => {
    await mkdir(path.join(root, 'plain', 'empty'), { recursive: true });
    await expectUfsError(adapter.stat('plain'), 'NotFound');
    await expectUfsError(adapter.stat('plain/'), 'NotFound');
    expect(await collect(adapter.list({ prefix: '' }))).toEqual([]);
    expect(await collect(adapter.list({ prefix: '', delimiter: '/' }))).toEqual([]);
  });

  it('deleting a marker keeps a non-empty folder and its content', async () => {
    await adapter.write({ key: 'photos/', body: Readable.from([]), metadata: meta() });
    await adapter.write({ key: 'photos/a.jpg', body: body('jpg'), metadata: meta() });
    await adapter.delete('photos/');
    await expectUfsError(adapter.stat('photos/'), 'NotFound');
    expect(await readText(await adapter.read('photos/a.jpg', undefined))).toBe('jpg');
    expect(await collect(adapter.list({ prefix: '' }))).toEqual(['photos/a.jpg']);
    await adapter.delete('photos/a.jpg');
    expect(existsSync(path.join(root, 'photos'))).toBe(false);
  });

  it('deleting an empty marker removes its folder', async () => {
    await adapter.write({ key: 'a/b/', body: Readable.from([]), metadata: meta() });
    await adapter.delete('a/b/');
    expect(existsSync(path.join(root, 'a'))).toBe(false);
  });

  it('deleting a file prunes empty parents but keeps explicit folder markers', async () => {
    await adapter.write({ key: 'a/b/', body: Readable.from([]), metadata: meta() });
    await adapter.write({ key: 'a/b/c/d/e.txt', body: body('e'), metadata: meta() });
    await adapter.delete('a/b/c/d/e.txt');
    expect(existsSync(path.join(root, 'a', 'b', 'c'))).toBe(false);
    expect((await lstat(path.join(root, 'a', 'b'))).isDirectory()).toBe(true);
    expect(await collect(adapter.list({ prefix: '' }))).toEqual(['a/b/']);
    expect(await readdir(path.join(root, '.ringcache', 'meta', 'a', 'b'))).toEqual(['.meta.json']);
  });

  it('reports PathConflict for what a POSIX file system cannot hold', async () => {
    await adapter.write({ key: 'a', body: body('file a'), metadata: meta() });
    await expectUfsError(adapter.write({ key: 'a/b', body: body('x'), metadata: meta() }), 'PathConflict');
    await expectUfsError(adapter.write({ key: 'a/b/c', body: body('x'), metadata: meta() }), 'PathConflict');
    await expectUfsError(adapter.write({ key: 'a/', body: Readable.from([]), metadata: meta() }), 'PathConflict');

    await adapter.write({ key: 'dir/x', body: body('x'), metadata: meta() });
    await expectUfsError(adapter.write({ key: 'dir', body: body('y'), metadata: meta() }), 'PathConflict');
    await adapter.write({ key: 'marker/', body: Readable.from([]), metadata: meta() });
    await expectUfsError(adapter.write({ key: 'marker', body: body('y'), metadata: meta() }), 'PathConflict');

    expect(await readText(await adapter.read('a', undefined))).toBe('file a');
    expect(await readText(await adapter.read('dir/x', undefined))).toBe('x');
    await expectUfsError(adapter.stat('dir'), 'NotFound');
    expect(await collect(adapter.list({ prefix: '' }))).toEqual(['a', 'dir/x', 'marker/']);
    expect(await tmpFiles()).toEqual([]);
  });

  it('replaces an empty leftover directory that is not a marker', async () => {
    await mkdir(path.join(root, 'leftover'));
    await adapter.write({ key: 'leftover', body: body('now a file'), metadata: meta() });
    expect(await readText(await adapter.read('leftover', undefined))).toBe('now a file');
  });
});

describe('copy', () => {
  it('copies data and metadata, keeping the ETag', async () => {
    const src = await adapter.write({ key: 'src/a.txt', body: body('copy me'), metadata: meta({ contentType: 'text/x', userMetadata: { k: 'v' } }) });
    const copied = await adapter.copy({ sourceKey: 'src/a.txt', destinationKey: 'dst/b.txt' });
    expect(copied.etag).toBe(src.etag);
    expect(copied.size).toBe(7);
    expect(await readText(await adapter.read('dst/b.txt', undefined))).toBe('copy me');
    expect(await adapter.stat('dst/b.txt')).toMatchObject({ etag: src.etag, contentType: 'text/x', userMetadata: { k: 'v' } });
    expect(await tmpFiles()).toEqual([]);
  });

  it('replaces metadata when given', async () => {
    await adapter.write({ key: 'src', body: body('abc'), metadata: meta({ contentType: 'text/x', checksums: { CRC32: 'Y3JjMzI=' } }) });
    await adapter.copy({ sourceKey: 'src', destinationKey: 'dst', metadata: meta({ contentType: 'text/y', userMetadata: { n: '1' } }) });
    const info = await adapter.stat('dst');
    expect(info).toMatchObject({ contentType: 'text/y', userMetadata: { n: '1' }, checksums: { CRC32: 'Y3JjMzI=' } });
    expect(info.etag).toBe(`"${md5Hex('abc')}"`);
  });

  it('copy onto itself with metadata only rewrites the sidecar', async () => {
    const src = await adapter.write({ key: 'self', body: body('same bytes'), metadata: meta({ contentType: 'a/b' }) });
    const before = await stat(path.join(root, 'self'));
    const result = await adapter.copy({ sourceKey: 'self', destinationKey: 'self', metadata: meta({ contentType: 'c/d' }) });
    const after = await stat(path.join(root, 'self'));
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
    expect(result.etag).toBe(src.etag);
    expect(await adapter.stat('self')).toMatchObject({ etag: src.etag, contentType: 'c/d' });
  });

  it('reports NotFound for a missing source and PathConflict for an impossible destination', async () => {
    await expectUfsError(adapter.copy({ sourceKey: 'missing', destinationKey: 'x' }), 'NotFound');
    await adapter.write({ key: 'file', body: body('f'), metadata: meta() });
    await expectUfsError(adapter.copy({ sourceKey: 'file', destinationKey: 'file/below' }), 'PathConflict');
    expect(await tmpFiles()).toEqual([]);
  });
});

describe('read with ifMatch', () => {
  test('reads the expected version and refuses another one before any byte', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'rc-local-ifmatch-'));
    const adapter = new LocalAdapter({ root });
    const first = await adapter.write({ key: 'v', body: Readable.from([Buffer.from('one')]), metadata: { userMetadata: {} } });
    expect(await readText(await adapter.read('v', undefined, { ifMatch: first.etag }))).toBe('one');
    const second = await adapter.write({ key: 'v', body: Readable.from([Buffer.from('two')]), metadata: { userMetadata: {} } });
    expect(second.etag).not.toBe(first.etag);
    // The file of the first version is still open (kept for the next pages of a read of it).
    expect(await readText(await adapter.read('v', undefined, { ifMatch: first.etag }))).toBe('one');
    // Without it, the first version is gone: refused before any byte.
    const fresh = new LocalAdapter({ root });
    await expectUfsError(fresh.read('v', undefined, { ifMatch: first.etag }), 'PreconditionFailed');
    expect(await readText(await fresh.read('v', { start: 1, end: 2 }, { ifMatch: second.etag }))).toBe('wo');
    await adapter.close();
    await fresh.close();
    await rm(root, { recursive: true, force: true });
  });
});
