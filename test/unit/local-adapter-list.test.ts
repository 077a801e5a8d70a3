import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { LocalAdapter } from '../../ufs-adapters/local/local-adapter';
import { compareUtf8 } from '../../ufs-adapters/utf8-order';
import { byteOrder, listRendered, prng, render } from '../contract/listing-model';

const list = listRendered;

let base: string;
let root: string;
let adapter: LocalAdapter;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'ringcache-list-'));
  root = path.join(base, 'root');
  await mkdir(root);
  adapter = new LocalAdapter({ root });
});

afterEach(async () => {
  jest.restoreAllMocks();
  await rm(base, { recursive: true, force: true });
});

const put = (key: string, data = key): Promise<unknown> =>
  adapter.write({ key, body: Readable.from(key.endsWith('/') ? [] : [Buffer.from(data)]), metadata: { userMetadata: {} } });

describe('compareUtf8', () => {
  it('matches Buffer.compare of the UTF-8 bytes, unlike JS string order', () => {
    expect('😀' < 'ﬀ').toBe(true); // UTF-16 order...
    expect(compareUtf8('😀', 'ﬀ')).toBeGreaterThan(0); // ...is not byte order
    const alphabet = ['a', 'b', 'Z', '-', '.', '/', '~', '\u007f', 'ä', '€', 'ﬀ', '\uffff', '😀', '𝄞', '\u0001'];
    const random = prng(42);
    const word = (): string => Array.from({ length: Math.floor(random() * 5) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
    for (let i = 0; i < 5000; i++) {
      const a = word();
      const b = random() < 0.3 ? a + word() : word();
      expect(Math.sign(compareUtf8(a, b))).toBe(Math.sign(byteOrder(a, b)));
      expect(Math.sign(compareUtf8(b, a))).toBe(Math.sign(byteOrder(b, a)));
    }
  });
});

// Random trees against the brute-force listing model: the contract suite (test/contract/ufs-contract.ts).
describe('list entries', () => {
  it('returns object entries with the same size, ETag and date as stat', async () => {
    await put('one/a.txt', 'aaa');
    await put('one/b/', '');
    for await (const entry of adapter.list({ prefix: '' })) {
      if (entry.kind !== 'object') throw new Error('unexpected prefix');
      const info = await adapter.stat(entry.key);
      expect(entry).toEqual({ kind: 'object', key: info.key, size: info.size, etag: info.etag, lastModified: info.lastModified });
    }
  });
});

describe('list specifics', () => {
  it('matches a prefix that ends mid-name against files and folders', async () => {
    for (const key of ['a/photo.jpg', 'a/photos/1.jpg', 'a/photos/2.jpg', 'a/phone', 'a/pi', 'a/zebra', 'b/photo']) await put(key);
    expect(await list(adapter, { prefix: 'a/ph', delimiter: '/' })).toEqual(['a/phone', 'a/photo.jpg', 'prefix:a/photos/']);
    expect(await list(adapter, { prefix: 'a/ph' })).toEqual(['a/phone', 'a/photo.jpg', 'a/photos/1.jpg', 'a/photos/2.jpg']);
  });

  it('sorts a folder d as "d/" among its siblings', async () => {
    // '-' (0x2d) and '.' (0x2e) sort before '/' (0x2f); '0' (0x30) after it.
    for (const key of ['d-x', 'd.x', 'd/x', 'd0']) await put(key);
    expect(await list(adapter, { prefix: '' })).toEqual(['d-x', 'd.x', 'd/x', 'd0']);
    expect(await list(adapter, { prefix: '', delimiter: '/' })).toEqual(['d-x', 'd.x', 'prefix:d/', 'd0']);
  });

  it('yields a common prefix only for folders holding an object or marker', async () => {
    await mkdir(path.join(root, 'empty', 'a', 'b'), { recursive: true });
    await put('full/deep/er/file');
    await put('marked/');
    await put('marked-deep/x/');
    expect(await list(adapter, { prefix: '', delimiter: '/' })).toEqual(['prefix:full/', 'prefix:marked-deep/', 'prefix:marked/']);
    expect(await list(adapter, { prefix: 'marked/', delimiter: '/' })).toEqual(['marked/']);
    expect(await list(adapter, { prefix: 'empty/' })).toEqual([]);
  });

  it('skips the reserved folder, symlinks, invalid UTF-8 names and special names', async () => {
    await put('ok');
    await writeFile(Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x66, 0xff, 0xfe])]), 'bad utf8');
    await writeFile(path.join(root, 'has\\backslash'), 'x');
    await mkdir(path.join(root, '.RINGCACHE'));
    await writeFile(path.join(root, '.RINGCACHE', 'x'), 'x');
    await symlink(path.join(root, 'ok'), path.join(root, 'link'));
    expect(await list(adapter, { prefix: '' })).toEqual(['ok']);
    expect(await list(adapter, { prefix: '.ringcache/' })).toEqual([]);
    expect(await list(adapter, { prefix: '.ring' })).toEqual([]);
  });

  it('is lazy: stopping early works and later entries are not needed', async () => {
    for (const key of ['a1', 'a2', 'b/c', 'b/d']) await put(key);
    const seen: string[] = [];
    for await (const entry of adapter.list({ prefix: '' })) {
      seen.push(render(entry));
      if (seen.length === 2) break;
    }
    expect(seen).toEqual(['a1', 'a2']);
  });

  it('starts in the folder of a deep prefix and seeks past subtrees before startAfter', async () => {
    for (const key of ['x/1', 'y/1', 'deep/a/b/c/1', 'deep/a/b/c/2', 'deep/a/b/d/1', 'm/1', 'm/2', 'z/1']) await put(key);
    // The very module object the adapter's compiled `require('node:fs/promises')` sees.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fsPromises = require('node:fs/promises') as typeof import('node:fs/promises');
    const readdirSpy = jest.spyOn(fsPromises, 'readdir');
    const visited = (): string[] => readdirSpy.mock.calls.map((call) => path.relative(root, String(call[0])).split(path.sep).join('/'));

    expect(await list(adapter, { prefix: 'deep/a/b/c/' })).toEqual(['deep/a/b/c/1', 'deep/a/b/c/2']);
    expect(visited()).toEqual(['deep/a/b/c']);

    readdirSpy.mockClear();
    expect(await list(adapter, { prefix: '', startAfter: 'm/1' })).toEqual(['m/2', 'x/1', 'y/1', 'z/1']);
    expect(visited()).toEqual(['', 'm', 'x', 'y', 'z']);

    readdirSpy.mockClear();
    expect(await list(adapter, { prefix: '', delimiter: '/', startAfter: 'm/' })).toEqual(['prefix:x/', 'prefix:y/', 'prefix:z/']);
    expect(visited().every((dir) => !dir.startsWith('deep') && !dir.startsWith('m'))).toBe(true);
  });

  it('returns nothing for prefixes no valid key can have; a missing root is Unavailable, not empty', async () => {
    await put('a/b');
    for (const prefix of ['/a', '../', 'a//', './a/', '.ringcache/meta/']) expect(await list(adapter, { prefix })).toEqual([]);
    const missing = new LocalAdapter({ root: path.join(base, 'does-not-exist') });
    await expect(list(missing, { prefix: '' })).rejects.toMatchObject({ kind: 'Unavailable' });
  });

  it('stops with Aborted when the signal fires', async () => {
    await put('a');
    const controller = new AbortController();
    controller.abort();
    await expect(list(adapter, { prefix: '', signal: controller.signal })).rejects.toMatchObject({ kind: 'Aborted' });
  });
});
