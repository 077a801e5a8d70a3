import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { LocalAdapter } from '../../ufs-adapters/local/local-adapter';
import { compareUtf8 } from '../../ufs-adapters/utf8-order';
import type { ListEntry, ListOptions } from '../../ufs-adapters/types';

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** Deterministic PRNG so failures are reproducible. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const render = (entry: ListEntry): string => (entry.kind === 'object' ? entry.key : `prefix:${entry.prefix}`);

async function list(adapter: LocalAdapter, options: ListOptions): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of adapter.list(options)) out.push(render(entry));
  return out;
}

/** What S3 returns, computed by brute force over the full sorted key list. */
function expectedListing(sortedKeys: string[], { prefix, delimiter, startAfter }: ListOptions): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const key of sortedKeys) {
    if (!key.startsWith(prefix)) continue;
    const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    if (delimiter && cut >= 0) {
      const common = key.slice(0, cut + delimiter.length);
      if (seen.has(common)) continue;
      seen.add(common);
      if (startAfter === undefined || byteOrder(common, startAfter) > 0) out.push(`prefix:${common}`);
      continue;
    }
    if (startAfter === undefined || byteOrder(key, startAfter) > 0) out.push(key);
  }
  return out;
}

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

describe('list against a brute-force model', () => {
  const alphabet = ['a', 'b', 'z', 'A', '0', '-', '.', '€', '😀', 'ä', '~', ' ', 'ﬀ'];

  /** Random keys a POSIX tree can hold (no key is both a file and a folder). */
  function randomKeys(random: () => number, count: number): string[] {
    const files = new Set<string>();
    const folders = new Set<string>(); // "a/", "a/b/" ...
    const markers = new Set<string>();
    const segment = (): string =>
      Array.from({ length: 1 + Math.floor(random() * 3) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
    let attempts = 0;
    while (files.size + markers.size < count && attempts++ < count * 20) {
      const depth = 1 + Math.floor(random() * 3);
      const segments = Array.from({ length: depth }, segment);
      if (segments.some((s) => s === '.' || s === '..')) continue;
      const ancestors = segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/'));
      if (ancestors.some((a) => files.has(a))) continue;
      const key = segments.join('/');
      const asMarker = random() < 0.12;
      if (asMarker) {
        if (files.has(key)) continue;
        markers.add(`${key}/`);
      } else {
        if (folders.has(`${key}/`)) continue;
        files.add(key);
      }
      ancestors.forEach((a) => folders.add(`${a}/`));
      if (asMarker) folders.add(`${key}/`);
    }
    return [...files, ...markers];
  }

  it('lists random unicode trees in UTF-8 byte order for every prefix, delimiter and startAfter', async () => {
    const random = prng(7);
    const keys = randomKeys(random, 160);
    for (const key of keys) await put(key);
    // Noise that must never show up: empty plain folders, invalid names, symlinks.
    await mkdir(path.join(root, 'zz-empty', 'deeper'), { recursive: true });
    await writeFile(path.join(root, 'back\\slash'), 'x');
    await symlink(path.join(root, keys[0]), path.join(root, 'a-symlink'));
    const sorted = [...keys].sort(byteOrder);

    expect(await list(adapter, { prefix: '' })).toEqual(sorted);
    expect(await list(adapter, { prefix: '', delimiter: '/' })).toEqual(expectedListing(sorted, { prefix: '', delimiter: '/' }));

    const prefixes = new Set<string>(['', 'a', 'a/', '€', '😀/', 'nothing/', 'a/b/c/d/']);
    for (let i = 0; i < 12; i++) {
      const key = sorted[Math.floor(random() * sorted.length)];
      const cut = Math.floor(random() * (key.length + 1));
      // Never cut inside a surrogate pair (the prefix would not be valid UTF-8).
      prefixes.add(/[\ud800-\udbff]$/.test(key.slice(0, cut)) ? key.slice(0, cut + 1) : key.slice(0, cut));
      const slash = key.lastIndexOf('/');
      if (slash > 0) prefixes.add(key.slice(0, slash + 1));
    }
    let checked = 0;
    for (const prefix of prefixes) {
      for (const delimiter of [undefined, '/', '-', '€']) {
        const full = expectedListing(sorted, { prefix, delimiter });
        expect(await list(adapter, { prefix, delimiter })).toEqual(full);
        // startAfter at (up to) 6 evenly spread returned positions and just before them, plus arbitrary strings.
        const returned = full.map((e) => e.replace(/^prefix:/, ''));
        const step = Math.max(1, Math.ceil(returned.length / 6));
        const sampled = returned.filter((_, i) => i % step === 0 || i === returned.length - 1);
        const positions = sampled.concat(sampled.map((k) => Array.from(k).slice(0, -1).join('')), ['', '€', '😀', `${prefix}a`]);
        for (const startAfter of positions) {
          const expected = expectedListing(sorted, { prefix, delimiter, startAfter });
          expect({ prefix, delimiter, startAfter, got: await list(adapter, { prefix, delimiter, startAfter }) }).toEqual({
            prefix,
            delimiter,
            startAfter,
            got: expected,
          });
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(200);
  });

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
