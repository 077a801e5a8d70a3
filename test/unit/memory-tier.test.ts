/**
 * The memory tier: one recency order and one byte budget over pages and metadata entries,
 * pages shed oldest first to the owner (demotion), metadata shed by bytes and by count.
 */
import { MemoryTier } from '../../src/cache/memory-tier';
import { PAGE_ITEM_HEAP_BYTES } from '../../src/cache/memory-accounting';
import type { MetadataEntry } from '../../src/cache/metadata-cache';
import { KiB, PAGE, pageOf } from '../helpers/page-store-fixture';

const ITEM = PAGE + PAGE_ITEM_HEAP_BYTES;
const entry = (key: string): MetadataEntry => ({ info: { key, size: 1, etag: '"e"', lastModified: new Date(0), userMetadata: {} }, fetchedAt: 1 });

function tier(maxBytes: number, maxMetadataEntries?: number): { memory: MemoryTier; shed: string[] } {
  const shed: string[] = [];
  const memory = new MemoryTier(maxBytes, { onShed: (key) => shed.push(key), ...(maxMetadataEntries ? { maxMetadataEntries } : {}) });
  return { memory, shed };
}

describe('memory tier', () => {
  test('sheds the least recently used pages by bytes, oldest first, to the owner', () => {
    const { memory, shed } = tier(4 * ITEM);
    for (let i = 0; i < 4; i++) expect(memory.placePage(`m/${i}`, pageOf(`m/${i}`))).toBe(true);
    expect(memory.stats()).toMatchObject({ bytes: 4 * PAGE, pages: 4, usedBytes: 4 * ITEM });
    expect(memory.getPage('m/0')?.data.subarray(0, 3).toString()).toBe('m/0'); // m/0 becomes the most recent
    memory.placePage('m/4', pageOf('m/4'));
    memory.placePage('m/5', pageOf('m/5', 2 * PAGE)); // twice as large: two more pages must go
    expect(shed).toEqual(['m/1', 'm/2', 'm/3']);
    expect([...memory.pageKeysOldestFirst()]).toEqual(['m/0', 'm/4', 'm/5']);
    expect(memory.usedBytes).toBeLessThanOrEqual(memory.maxBytes);
  });

  test('a hit returns the same PageLookup every time (nothing allocated per hit)', () => {
    const { memory } = tier(4 * ITEM);
    memory.placePage('a', pageOf('a'));
    const first = memory.getPage('a');
    expect(first).toEqual({ data: pageOf('a'), tier: 'memory' });
    for (let i = 0; i < 5; i++) expect(memory.getPage('a')).toBe(first);
    expect(memory.peekPage('a')).toBe(first);
  });

  test('refuses pages larger than the budget, pages already held, and everything when disabled', () => {
    const { memory, shed } = tier(2 * ITEM);
    expect(memory.fits(2 * ITEM)).toBe(false);
    expect(memory.placePage('big', Buffer.alloc(2 * ITEM))).toBe(false);
    expect(memory.placePage('a', pageOf('a'))).toBe(true);
    expect(memory.placePage('a', pageOf('a', PAGE, 1))).toBe(false);
    expect(memory.getPage('a')?.data[PAGE - 1]).toBe(0);
    expect(memory.stats()).toMatchObject({ bytes: PAGE, pages: 1 });
    expect(shed).toEqual([]);

    const disabled = new MemoryTier(0);
    expect(disabled.enabled).toBe(false);
    expect(disabled.placePage('a', pageOf('a'))).toBe(false);
    expect(disabled.getPage('a')).toBeUndefined();
    expect(disabled.stats()).toMatchObject({ bytes: 0, pages: 0 });
  });

  test('metadata and pages share the budget and one recency order', () => {
    const { memory, shed } = tier(3 * ITEM);
    memory.placePage('p/0', pageOf('p/0'));
    memory.placePage('p/1', pageOf('p/1'));
    memory.setMeta('m:old', entry('old'), 10 * KiB);
    memory.placePage('p/2', pageOf('p/2')); // over budget: the oldest item, page p/0, goes
    expect(shed).toEqual(['p/0']);
    expect(memory.getMeta('m:old')).toBeDefined(); // now more recent than p/1 and p/2
    memory.setMeta('m:big', entry('big'), PAGE); // p/1 is the oldest now
    expect(shed).toEqual(['p/0', 'p/1']);
    memory.getPage('p/2');
    memory.getMeta('m:big');
    memory.setMeta('m:bigger', entry('bigger'), PAGE); // m:old is the oldest item: dropped, not shed to the owner
    expect(memory.hasMeta('m:old')).toBe(false);
    expect(shed).toEqual(['p/0', 'p/1']);
    expect(memory.stats()).toMatchObject({ pages: 1, metadataEntries: 2, metadataBytes: 2 * PAGE });
    expect(memory.usedBytes).toBeLessThanOrEqual(memory.maxBytes);
    // Replacing an entry re-charges it.
    memory.setMeta('m:big', entry('big'), 1 * KiB);
    expect(memory.stats().metadataBytes).toBe(PAGE + KiB);
  });

  test('metadata entries are bounded by count too, the least recently used going first', () => {
    const { memory, shed } = tier(64 * ITEM, 3);
    memory.placePage('p/0', pageOf('p/0'));
    for (const k of ['a', 'b', 'c']) memory.setMeta(`m:${k}`, entry(k), 100);
    memory.getMeta('m:a');
    memory.setMeta('m:d', entry('d'), 100);
    expect(['a', 'b', 'c', 'd'].map((k) => memory.hasMeta(`m:${k}`))).toEqual([true, false, true, true]);
    expect(memory.hasPage('p/0')).toBe(true);
    expect(shed).toEqual([]);
    expect([...memory.metaEntries()].map(([k]) => k).sort()).toEqual(['m:a', 'm:c', 'm:d']);
    memory.deleteMeta('m:c');
    memory.setMeta('m:e', entry('e'), 100);
    memory.setMeta('m:f', entry('f'), 100); // a is the oldest again (d, e, f are newer)
    expect(['a', 'd', 'e', 'f'].map((k) => memory.hasMeta(`m:${k}`))).toEqual([false, true, true, true]);
  });

  test('without a page budget, metadata is bounded by count only', () => {
    const memory = new MemoryTier(0, { maxMetadataEntries: 2 });
    memory.setMeta('m:a', entry('a'), 10 * PAGE);
    memory.setMeta('m:b', entry('b'), 10 * PAGE);
    expect(memory.hasMeta('m:a') && memory.hasMeta('m:b')).toBe(true);
    memory.setMeta('m:c', entry('c'), 1);
    expect(memory.hasMeta('m:a')).toBe(false);
  });

  test("the owner's reserved bytes count: raising them sheds", () => {
    const { memory, shed } = tier(4 * ITEM);
    for (let i = 0; i < 4; i++) memory.placePage(`p/${i}`, pageOf(`p/${i}`));
    memory.reserve(ITEM + 1);
    expect(shed).toEqual(['p/0', 'p/1']);
    expect(memory.stats()).toMatchObject({ pages: 2, overheadBytes: 2 * PAGE_ITEM_HEAP_BYTES + ITEM + 1 });
  });

  test('deletePage and dropObject remove pages without shedding them', () => {
    const { memory, shed } = tier(16 * ITEM);
    for (const id of ['abc', 'abc0', 'ab']) for (let i = 0; i < 2; i++) memory.placePage(`${id}/${i}`, pageOf(`${id}/${i}`));
    expect(memory.deletePage('ab/0')?.subarray(0, 4).toString()).toBe('ab/0');
    expect(memory.deletePage('ab/0')).toBeUndefined();
    expect(memory.dropObject('abc').sort()).toEqual(['abc/0', 'abc/1']);
    expect([...memory.pageKeysOldestFirst()]).toEqual(['abc0/0', 'abc0/1', 'ab/1']);
    expect(shed).toEqual([]);
  });

  test('copies a small view of a large allocation instead of pinning it', () => {
    const { memory } = tier(4 * ITEM);
    const big = Buffer.alloc(16 * PAGE);
    memory.placePage('view', big.subarray(0, PAGE));
    expect(memory.getPage('view')!.data.buffer.byteLength).toBe(PAGE);
    const own = Buffer.alloc(PAGE);
    memory.placePage('own', own);
    expect(memory.getPage('own')!.data).toBe(own);
  });
});
