/**
 * loadPage: a cached page whose length is not the length of that page of this object (cut
 * at another page size, or damaged) is a miss: the page is read again and replaced.
 */
import { Readable } from 'node:stream';
import type { UfsAdapter } from '../../ufs-adapters/types';
import { Metrics } from '../../src/admin/metrics';
import { loadPage, openRange, type PageSource } from '../../src/cache/page-reader';
import { PageFills } from '../../src/cache/page-fill';
import { PageStash } from '../../src/cache/page-stash';
import { pageKeyOf, type PageLookup, type PageStore } from '../../src/cache/types';

const PAGE = 4;
const OBJECT = Buffer.from('0123456789'); // pages "0123", "4567", "89"

function harness(): { src: PageSource; held: Map<string, Buffer>; reads: () => number } {
  const held = new Map<string, Buffer>();
  let reads = 0;
  const pages = {
    get: (key: string): PageLookup | undefined => (held.has(key) ? { data: held.get(key) as Buffer, tier: 'memory' } : undefined),
    has: (key: string) => (held.has(key) ? 'memory' : undefined),
    put: (key: string, data: Buffer) => void held.set(key, data),
  } as unknown as PageStore;
  const store = {
    kind: 'fake',
    async read(_key: string, range: { start: number; end: number }) {
      reads++;
      return Readable.from([OBJECT.subarray(range.start, range.end + 1)]);
    },
  } as unknown as UfsAdapter;
  const src: PageSource = {
    keep: true,
    idleTimeoutMs: 1000,
    store,
    key: 'k',
    info: { key: 'k', size: OBJECT.length, etag: '"e"', lastModified: new Date(0), userMetadata: {} },
    objectId: 'object',
    pageSize: PAGE,
    pages,
    fills: new PageFills(),
    metrics: new Metrics(),
  };
  return { src, held, reads: () => reads };
}

test('a cached page of the expected length is served from the cache', async () => {
  const { src, held, reads } = harness();
  held.set(pageKeyOf('object', 1), Buffer.from('4567'));
  expect(await loadPage(src, 1)).toEqual({ data: Buffer.from('4567'), tier: 'memory' });
  expect(reads()).toBe(0);
});

test.each([
  ['longer (cut at a larger page size)', 1, '456789'],
  ['shorter', 1, '45'],
  ['of a full page where the last page is short', 2, '89ab'],
])('a cached page %s is a miss, read again and replaced', async (_what, index, cachedText) => {
  const { src, held, reads } = harness();
  held.set(pageKeyOf('object', index), Buffer.from(cachedText));
  const expected = OBJECT.subarray(index * PAGE, Math.min(OBJECT.length, (index + 1) * PAGE));
  const page = await loadPage(src, index);
  expect(page.data.equals(expected)).toBe(true);
  expect(page.tier).toBe('ufs');
  expect(reads()).toBe(1);
  expect(held.get(pageKeyOf('object', index))?.equals(expected)).toBe(true);
});

test('a range stream over pages of the wrong length serves the object bytes', async () => {
  const { src, held } = harness();
  for (let i = 0; i < 3; i++) held.set(pageKeyOf('object', i), Buffer.from('zzzzzzzz'));
  const chunks: Buffer[] = [];
  const body = await openRange(src, { start: 2, end: 9 }, 1);
  if (Buffer.isBuffer(body)) throw new Error('a range over three pages is streamed');
  for await (const chunk of body) chunks.push(chunk as Buffer);
  expect(Buffer.concat(chunks).toString()).toBe('23456789');
});

test('a page stashed for this read (fetched with the metadata, not admitted) is used once instead of a store read', async () => {
  const { src, held, reads } = harness();
  const unkept = new PageStash(2);
  src.unkept = unkept;
  src.keep = false;
  unkept.put(pageKeyOf('object', 0), Buffer.from('0123'));
  unkept.put(pageKeyOf('object', 1), Buffer.from('45')); // not the length of page 1: ignored
  expect(await loadPage(src, 0)).toEqual({ data: Buffer.from('0123'), tier: 'ufs' });
  expect(reads()).toBe(0);
  expect(unkept.size).toBe(1);
  expect((await loadPage(src, 1)).data.toString()).toBe('4567');
  expect(reads()).toBe(1);
  expect(unkept.size).toBe(0); // taken, and dropped for its length
  expect(held.size).toBe(0); // keep: false stores nothing
  // Bounded: the oldest page goes.
  for (let i = 0; i < 3; i++) unkept.put(`k${i}`, Buffer.from('x'));
  expect([unkept.take('k0'), unkept.take('k1')?.toString(), unkept.take('k2')?.toString()]).toEqual([undefined, 'x', 'x']);
});
