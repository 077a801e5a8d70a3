/**
 * HDFS listing: LISTSTATUS_BATCH paging, the re-ordering of the NameNode's signed-byte order
 * into S3's UTF-8 order, seeking with startAfter, laziness and the LISTSTATUS fallback, all
 * against the WebHDFS emulator (which orders children like INodeDirectory).
 */
import { Readable } from 'node:stream';
import { HdfsAdapter, createHdfsAdapterFromUri } from '../../ufs-adapters/hdfs/hdfs-adapter';
import { compareSigned, seekPast, watermarkOf } from '../../ufs-adapters/hdfs/hdfs-order';
import { byteOrder, expectedListing, listRendered, render } from '../contract/listing-model';
import { startWebHdfsEmulator, type WebHdfsEmulator, type WebHdfsEmulatorOptions } from '../emulators/webhdfs';

const list = listRendered;

let emulator: WebHdfsEmulator;
let adapter: HdfsAdapter;

async function start(options: WebHdfsEmulatorOptions = {}): Promise<void> {
  emulator = await startWebHdfsEmulator({ lsLimit: 3, ...options });
  adapter = createHdfsAdapterFromUri(`hdfs://127.0.0.1:${emulator.nameNodePort}/mnt/bucket?user=alice`);
}

afterEach(async () => {
  await adapter?.close();
  await emulator?.close();
});

const put = (key: string, data = key): Promise<unknown> =>
  adapter.write({ key, body: Readable.from(key.endsWith('/') ? [] : [Buffer.from(data)]), metadata: { userMetadata: {} } });

describe('HDFS order helpers', () => {
  it('compareSigned puts non-ASCII bytes before ASCII ones, like the NameNode', () => {
    const names = ['b', 'é', 'a', '😀', 'ﬀ', 'a-', 'a/'];
    const sorted = [...names].sort((x, y) => compareSigned(Buffer.from(x), Buffer.from(y)));
    expect(sorted).toEqual(['é', 'ﬀ', '😀', 'a', 'a-', 'a/', 'b']);
  });

  it('the watermark is the name up to its first non-ASCII byte', () => {
    expect(watermarkOf('abc').toString()).toBe('abc');
    expect(watermarkOf('abé-x').toString()).toBe('ab');
    expect(watermarkOf('😀').length).toBe(0);
  });

  it('seekPast jumps over names sorting before startAfter, never over names after it', () => {
    expect(seekPast('img_000100', 'img_512345.jpg')).toEqual({ startAfter: 'img_5', probe: undefined });
    // A folder named like the seek target would sort as "img_512345/", after "img_512345.jpg".
    expect(seekPast('img_512340', 'img_512345.jpg')).toEqual({ startAfter: 'img_512345', probe: 'img_512345' });
    expect(seekPast('abc!', 'abc/def')).toEqual({ startAfter: 'abc/', probe: undefined });
    // ASCII where startAfter has a non-ASCII character: all of those names sort before it.
    expect(seekPast('a1', 'aé')?.startAfter).toBe(`a${'\u007f'.repeat(256)}`);
    // Within one multi-byte character the target is extended to the end of the character.
    expect(seekPast('é', 'ê')).toEqual({ startAfter: 'ê', probe: 'ê' });
    expect(seekPast('b', 'a')).toBeUndefined();
    expect(seekPast('ab', 'abc')).toBeUndefined();
  });
});

describe('listing against the brute-force model (random trees: the contract suite)', () => {
  it('a flat folder of mixed ASCII and non-ASCII names, read two at a time, with every startAfter', async () => {
    await start({ lsLimit: 2 });
    const names = ['a-1', 'a.b', 'aé', 'aa', 'b', 'bé', 'b€x', 'c', 'é', 'éa', 'ê', 'ﬀ', '😀', 'z', 'z😀', 'zz'];
    for (const name of names) await emulator.writeFile(`/mnt/bucket/f/${name}`, name);
    // A folder "a": S3 lists it as "a/", after "a-1" and "a.b" (HDFS lists it first).
    await emulator.writeFile('/mnt/bucket/f/a/inside', 'folder a');
    const keys = [...names.map((n) => `f/${n}`), 'f/a/inside'].sort(byteOrder);
    expect(await list(adapter, { prefix: 'f/' })).toEqual(keys);
    for (const startAfter of [...keys, 'f/', 'f/a/', 'f/a', 'f/aé0', 'f/b€', 'f/é0', 'f/zzz', 'f/😀😀']) {
      expect({ startAfter, got: await list(adapter, { prefix: 'f/', startAfter }) }).toEqual({
        startAfter,
        got: expectedListing(keys, { prefix: 'f/', startAfter }),
      });
      expect({ startAfter, got: await list(adapter, { prefix: 'f/', delimiter: '/', startAfter }) }).toEqual({
        startAfter,
        got: expectedListing(keys, { prefix: 'f/', delimiter: '/', startAfter }),
      });
    }
  });
});

describe('listing specifics', () => {
  it('is lazy: consuming 10 entries of a large folder costs one LISTSTATUS_BATCH page', async () => {
    await start({ lsLimit: 100 });
    for (let i = 0; i < 250; i++) await emulator.writeFile(`/mnt/bucket/big/${String(i).padStart(4, '0')}`, 'x');
    emulator.resetCounts();
    const seen: string[] = [];
    for await (const entry of adapter.list({ prefix: 'big/' })) {
      seen.push(render(entry));
      if (seen.length === 10) break;
    }
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `big/${String(i).padStart(4, '0')}`));
    expect(emulator.count('LISTSTATUS_BATCH')).toBe(1);
    expect(emulator.count('LISTSTATUS')).toBe(0);

    // The whole folder takes three pages, each asked with startAfter = the last name of the previous one.
    emulator.resetCounts();
    expect((await list(adapter, { prefix: 'big/' })).length).toBe(250);
    const pages = emulator.requests.filter((r) => r.op === 'LISTSTATUS_BATCH');
    expect(pages.map((r) => r.params.startAfter)).toEqual([undefined, '0099', '0199']);
    expect(pages.every((r) => r.params['user.name'] === 'alice')).toBe(true);
  });

  it('seeks with startAfter instead of reading the pages before it', async () => {
    await start({ lsLimit: 100 });
    for (let i = 0; i < 1000; i++) await emulator.writeFile(`/mnt/bucket/seek/img_${String(i).padStart(4, '0')}.jpg`, 'x');
    emulator.resetCounts();
    const got = await list(adapter, { prefix: 'seek/', startAfter: 'seek/img_0876.jpg' });
    expect(got[0]).toBe('seek/img_0877.jpg');
    expect(got.length).toBe(123);
    // 1000 names in pages of 100: a linear scan would read 10 pages.
    expect(emulator.count('LISTSTATUS_BATCH')).toBeLessThanOrEqual(5);
  }, 30_000);

  it('matches a prefix that ends mid-name, and sorts a folder d as "d/"', async () => {
    await start();
    for (const key of ['a/photo.jpg', 'a/photos/1.jpg', 'a/photos/2.jpg', 'a/phone', 'a/pi', 'a/zebra', 'b/photo']) await put(key);
    expect(await list(adapter, { prefix: 'a/ph', delimiter: '/' })).toEqual(['a/phone', 'a/photo.jpg', 'prefix:a/photos/']);
    expect(await list(adapter, { prefix: 'a/ph' })).toEqual(['a/phone', 'a/photo.jpg', 'a/photos/1.jpg', 'a/photos/2.jpg']);
    for (const key of ['d-x', 'd.x', 'd/x', 'd0']) await put(key);
    expect(await list(adapter, { prefix: 'd' })).toEqual(['d-x', 'd.x', 'd/x', 'd0']);
    expect(await list(adapter, { prefix: 'd', delimiter: '/' })).toEqual(['d-x', 'd.x', 'prefix:d/', 'd0']);
  });

  it('yields a common prefix only for folders holding an object or marker', async () => {
    await start();
    await emulator.mkdirs('/mnt/bucket/empty/a/b');
    await put('full/deep/er/file');
    await put('marked/');
    await put('marked-deep/x/');
    expect(await list(adapter, { prefix: '', delimiter: '/' })).toEqual(['prefix:full/', 'prefix:marked-deep/', 'prefix:marked/']);
    expect(await list(adapter, { prefix: 'marked/', delimiter: '/' })).toEqual(['marked/']);
    expect(await list(adapter, { prefix: 'empty/' })).toEqual([]);
  });

  it('returns entries with the same size, ETag and date as stat', async () => {
    await start();
    await put('one/a.txt', 'aaa');
    await put('one/b/', '');
    await emulator.writeFile('/mnt/bucket/one/c.raw', 'written by an HDFS user');
    for await (const entry of adapter.list({ prefix: '' })) {
      if (entry.kind !== 'object') throw new Error('unexpected prefix');
      const info = await adapter.stat(entry.key);
      expect(entry).toEqual({ kind: 'object', key: info.key, size: info.size, etag: info.etag, lastModified: info.lastModified });
    }
  });

  it('falls back to LISTSTATUS on a NameNode without LISTSTATUS_BATCH', async () => {
    await start({ listStatusBatch: false });
    for (const key of ['x/é', 'x/a', 'x/b/c', 'x/b-c']) await put(key);
    expect(await list(adapter, { prefix: 'x/' })).toEqual(['x/a', 'x/b-c', 'x/b/c', 'x/é']);
    expect(await list(adapter, { prefix: 'x/', startAfter: 'x/b-c' })).toEqual(['x/b/c', 'x/é']);
    expect(emulator.count('LISTSTATUS_BATCH')).toBe(1); // tried once, then remembered
    expect(emulator.count('LISTSTATUS')).toBeGreaterThan(0);
  });

  it('returns nothing for a missing root, prefixes no key can have, or a file in place of the folder', async () => {
    await start();
    expect(await list(adapter, { prefix: '' })).toEqual([]);
    await put('a/b');
    for (const prefix of ['/a', '../', 'a//', './a/', '.ringcache/', 'a/b/', 'x:y/']) expect(await list(adapter, { prefix })).toEqual([]);
  });

  it('stops with Aborted when the signal fires', async () => {
    await start();
    await put('a');
    const controller = new AbortController();
    controller.abort();
    await expect(list(adapter, { prefix: '', signal: controller.signal })).rejects.toMatchObject({ kind: 'Aborted' });
  });
});
