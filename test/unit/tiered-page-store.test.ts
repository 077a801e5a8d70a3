/**
 * The policy and the tier arrangement of the page store (real LMDB in temp dirs): one S3-FIFO
 * over memory + disk; exclusive tiers that add up; demotion writes only what the policy keeps;
 * a disk hit moves the page without a copy; the policy rebuilt at open; memory written to disk
 * at close; metadata in the memory budget; the disk quota held whatever memory holds.
 */
import fc from 'fast-check';
import { MetadataCache } from '../../src/cache/metadata-cache';
import { PAGE_ITEM_HEAP_BYTES } from '../../src/cache/memory-accounting';
import { policyBytes } from '../../src/cache/tiered-page-store';
import { pageKeyOf } from '../../src/cache/types';
import { closeStore, invariantProblems, KiB, openStore, PAGE, pageOf, placement, recordEvents, tempDir, usePageStoreFixture } from '../helpers/page-store-fixture';

usePageStoreFixture();

/** A memory budget of `pages` pages of `size` plus room for the bookkeeping of a few dozen pages. */
const memoryFor = (pages: number, size = PAGE): number => pages * (size + PAGE_ITEM_HEAP_BYTES) + 16 * KiB;
const key = (object: string, i: number): string => pageKeyOf(object, i);

describe('one policy over both tiers', () => {
  test('its budget is both tiers less one page of slack (none when a tier is disabled)', () => {
    expect(policyBytes(16 * PAGE, 48 * PAGE, PAGE)).toBe(63 * PAGE);
    expect(policyBytes(PAGE / 2, 48 * PAGE, PAGE)).toBe(48 * PAGE);
    expect(policyBytes(0, 48 * PAGE, PAGE)).toBe(48 * PAGE);
    expect(policyBytes(16 * PAGE, 0, PAGE)).toBe(16 * PAGE);
  });

  test('random reads, fills, drops and metadata keep the tiers exclusive, adding up to what the policy keeps, within budget', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('read' as const), object: fc.integer({ min: 0, max: 11 }), page: fc.integer({ min: 0, max: 3 }), size: fc.constantFrom(2, 5, 9, 16) }),
            fc.record({ op: fc.constant('drop' as const), object: fc.integer({ min: 0, max: 11 }) }),
            fc.record({ op: fc.constant('meta' as const), n: fc.integer({ min: 0, max: 40 }), bytes: fc.integer({ min: 100, max: 6000 }) }),
          ),
          { minLength: 20, maxLength: 160 },
        ),
        async (ops) => {
          const { events, log } = recordEvents();
          const dir = tempDir();
          const store = openStore({ dir, diskBytes: 48 * KiB, memoryBytes: 24 * KiB, pageSize: 16 * KiB, events });
          for (const op of ops) {
            if (op.op === 'read') {
              const k = key(`o${op.object}`, op.page);
              const size = op.size * KiB;
              const hit = store.get(k);
              if (hit) expect(hit.data.equals(pageOf(k, hit.data.length))).toBe(true);
              if (!hit || hit.data.length !== size) store.put(k, pageOf(k, size));
            } else if (op.op === 'drop') await store.dropObject(`o${op.object}`);
            else store.memory.setMeta(`meta:${op.n}`, { info: null, fetchedAt: 0 }, op.bytes);
            expect(invariantProblems(store)).toEqual([]);
          }
          await store.flush();
          const report = store.disk.verifyIntegrity();
          expect([...report.missingPages, ...report.orphanPages, ...report.badPages]).toEqual([]);
          expect(report.indexEntries).toBe(report.accountedPages);
          expect(log.errors).toEqual([]);
          await closeStore(store);
          // At the next open the policy holds exactly the pages on disk (memory's went there at close).
          const reopened = openStore({ dir, diskBytes: 48 * KiB, memoryBytes: 24 * KiB, pageSize: 16 * KiB, events });
          const after = placement(reopened);
          expect(after.policy).toEqual(after.disk);
          expect(invariantProblems(reopened)).toEqual([]);
          await closeStore(reopened);
        },
      ),
      { numRuns: 40 },
    );
  });

  test('a scan of pages read once flushes neither the hot set nor writes a single scan page to disk', async () => {
    // 8 pages of memory + 16 of disk; a hot set of 20 pages fills the policy's main queue, so
    // the small queue (where new pages start) holds about 10% of the 23 pages: fewer than memory.
    // A scan page is evicted from small while still in memory, and never reaches the disk.
    const { events, log } = recordEvents();
    const store = openStore({ dir: tempDir(), diskBytes: 16 * PAGE, memoryBytes: memoryFor(8), events });
    const writes: string[] = [];
    const put = store.disk.put.bind(store.disk);
    store.disk.put = (pageKey, data) => {
      writes.push(pageKey);
      return put(pageKey, data);
    };
    const hot = Array.from({ length: 20 }, (_, i) => key('hot', i));
    for (let round = 0; round < 3; round++) for (const k of hot) if (!store.get(k)) store.put(k, pageOf(k));
    for (let i = 0; i < 500; i++) {
      const k = key('scan', i);
      expect(store.get(k)).toBeUndefined();
      store.put(k, pageOf(k));
      expect(invariantProblems(store)).toEqual([]);
    }
    expect(hot.filter((k) => store.has(k) === undefined)).toEqual([]);
    expect(writes.filter((k) => k.startsWith('scan/'))).toEqual([]);
    expect(writes.length).toBeGreaterThan(0); // hot pages were demoted to make room in memory
    await store.flush();
    expect(log.errors).toEqual([]);
  });

  test('a disk hit moves the page to memory without a copy: the buffer read is the one kept', async () => {
    const { events } = recordEvents();
    const store = openStore({ dir: tempDir(), diskBytes: 16 * PAGE, memoryBytes: memoryFor(1), events });
    store.put(key('a', 0), pageOf(key('a', 0)));
    store.put(key('b', 0), pageOf(key('b', 0))); // pushes a onto disk
    await store.flush();
    expect(store.has(key('a', 0))).toBe('disk');
    const fromDisk = store.get(key('a', 0))!;
    expect(fromDisk.tier).toBe('disk');
    expect(fromDisk.data.equals(pageOf(key('a', 0)))).toBe(true);
    expect(fromDisk.data.buffer.byteLength).toBe(PAGE + 4); // a view of its own record (checksum + data)
    const fromMemory = store.get(key('a', 0))!;
    expect(fromMemory.tier).toBe('memory');
    expect(fromMemory.data).toBe(fromDisk.data);
    expect(store.get(key('a', 0))).toBe(fromMemory); // memory hits share one lookup object
    expect(placement(store)).toMatchObject({ memory: [key('a', 0)], disk: [key('b', 0)] });
  });

  test('a page pushed onto disk and read back before its write commits comes from the pending write', () => {
    const { events, log } = recordEvents();
    const store = openStore({ dir: tempDir(), diskBytes: 16 * PAGE, memoryBytes: memoryFor(1), events });
    store.put(key('a', 0), pageOf(key('a', 0)));
    store.put(key('b', 0), pageOf(key('b', 0)));
    expect(store.disk.stats().pendingBytes).toBeGreaterThan(0);
    expect(store.get(key('a', 0))?.data.equals(pageOf(key('a', 0)))).toBe(true);
    expect(store.get(key('b', 0))?.data.equals(pageOf(key('b', 0)))).toBe(true);
    expect(invariantProblems(store)).toEqual([]);
    expect(log.errors).toEqual([]);
  });

  test('without a memory tier pages go straight to disk and disk hits stay there; a page larger than memory too', async () => {
    const { events } = recordEvents();
    const store = openStore({ dir: tempDir(), diskBytes: 16 * PAGE, memoryBytes: memoryFor(1, 8 * KiB), events });
    store.put(key('big', 0), pageOf(key('big', 0)));
    expect(store.has(key('big', 0))).toBe('disk');
    expect(store.get(key('big', 0))?.tier).toBe('disk');
    expect(store.get(key('big', 0))?.tier).toBe('disk');
    const none = openStore({ dir: tempDir(), diskBytes: 16 * PAGE, events });
    none.put(key('a', 0), pageOf(key('a', 0)));
    expect(none.get(key('a', 0))?.tier).toBe('disk');
    expect(none.stats()).toMatchObject({ memoryPages: 0, diskPages: 1 });
  });

  test('without a disk tier a page memory sheds leaves the cache', () => {
    const { events, log } = recordEvents();
    const store = openStore({ dir: tempDir(), diskBytes: 0, memoryBytes: memoryFor(2), events });
    for (let i = 0; i < 3; i++) store.put(key('m', i), pageOf(key('m', i)));
    expect(placement(store).memory).toHaveLength(2);
    expect(invariantProblems(store)).toEqual([]);
    expect(log.evicted.memory.pages).toBe(1);
  });

  test('a page held with another length is replaced by the one read', () => {
    const { events } = recordEvents();
    const store = openStore({ dir: tempDir(), diskBytes: 16 * PAGE, memoryBytes: memoryFor(4), events });
    store.put(key('x', 0), pageOf(key('x', 0), 1000));
    store.put(key('x', 0), pageOf(key('x', 0), 2000));
    expect(store.get(key('x', 0))?.data.length).toBe(2000);
    expect(store.policy.bytes).toBe(2000);
    expect(invariantProblems(store)).toEqual([]);
  });

  test('at open the policy is rebuilt from the disk: restored pages are proven, a scan after a restart does not flush them', async () => {
    const { events } = recordEvents();
    const dir = tempDir();
    const first = openStore({ dir, diskBytes: 16 * PAGE, events });
    const kept = Array.from({ length: 16 }, (_, i) => key('kept', i));
    for (const k of kept) first.put(k, pageOf(k));
    await closeStore(first);
    const second = openStore({ dir, diskBytes: 16 * PAGE, events });
    expect(placement(second).policy).toEqual([...kept].sort());
    for (let i = 0; i < 100; i++) second.put(key('scan', i), pageOf(key('scan', i)));
    // The scan cycles through the small queue (10% of the budget, 1.6 pages): it took the room
    // of the two oldest restored pages while small filled to its share, then only replaced itself.
    expect(kept.filter((k) => second.has(k) === 'disk')).toEqual(kept.slice(2));
    expect(invariantProblems(second)).toEqual([]);
  });

  test('preloaded pages enter as proven: a preload larger than the probation queue stays whole', async () => {
    const { events } = recordEvents();
    const store = openStore({ dir: tempDir(), diskBytes: 16 * PAGE, events });
    const established = Array.from({ length: 16 }, (_, i) => key('old', i));
    for (const k of established) store.put(k, pageOf(k));
    const preload = Array.from({ length: 12 }, (_, i) => key('preload', i));
    for (const k of preload) store.put(k, pageOf(k), 'preload');
    expect(preload.filter((k) => store.has(k) === undefined)).toEqual([]);
    expect(preload.some((k) => store.policy.inSmall(k))).toBe(false);
    // Pages read once replace each other in the small queue (4 pages were left there) and do
    // not displace the preloaded ones.
    const once = Array.from({ length: 12 }, (_, i) => key('once', i));
    for (const k of once) store.put(k, pageOf(k));
    expect(once.filter((k) => store.has(k) !== undefined)).toEqual(once.slice(8));
    expect(preload.filter((k) => store.has(k) === undefined)).toEqual([]);
    expect(invariantProblems(store)).toEqual([]);
  });

  test.each([
    ['in memory', memoryFor(8)],
    ['on disk (no memory tier)', 0],
  ])("a page placed ahead of its read (with the metadata), %s: the read's lookup is its first use, not a second", (_where, memoryBytes) => {
    const { events } = recordEvents();
    const store = openStore({ dir: tempDir(), diskBytes: 16 * PAGE, memoryBytes, events });
    const established = Array.from({ length: 20 }, (_, i) => key('hot', i));
    for (const k of established) store.put(k, pageOf(k));
    for (const k of established) store.get(k);
    const tier = memoryBytes > 0 ? 'memory' : 'disk';
    store.put(key('ahead', 0), pageOf(key('ahead', 0)), 'ahead');
    expect(store.get(key('ahead', 0))?.tier).toBe(tier); // the read it was fetched for
    store.put(key('read', 0), pageOf(key('read', 0)));
    expect(store.get(key('read', 0))?.tier).toBe(tier); // a second read: proven
    for (let i = 0; i < 10; i++) store.put(key('scan', i), pageOf(key('scan', i)));
    expect(store.has(key('ahead', 0))).toBeUndefined(); // read once: left with the scan
    expect(store.has(key('read', 0))).toBeDefined();
    expect(invariantProblems(store)).toEqual([]);
  });

  test('close writes the pages in memory to disk, so a restart keeps them', async () => {
    const { events, log } = recordEvents();
    const dir = tempDir();
    const first = openStore({ dir, diskBytes: 16 * PAGE, memoryBytes: memoryFor(4), events });
    const keys = Array.from({ length: 6 }, (_, i) => key('warm', i));
    for (const k of keys) first.put(k, pageOf(k));
    expect(first.stats()).toMatchObject({ memoryPages: 4, diskPages: 2 });
    await closeStore(first);
    const second = openStore({ dir, diskBytes: 16 * PAGE, memoryBytes: memoryFor(4), events });
    expect(placement(second).disk).toEqual([...keys].sort());
    for (const k of keys) expect(second.get(k)?.data.equals(pageOf(k))).toBe(true);
    expect(log.errors).toEqual([]);
  });

  test('at close, more in memory than the disk quota holds: the policy chooses what stays, within the quota', async () => {
    const { events, log } = recordEvents();
    const dir = tempDir();
    const first = openStore({ dir, diskBytes: 4 * PAGE, memoryBytes: memoryFor(6), events });
    const hot = [0, 1].map((i) => key('hot', i));
    for (const k of hot) first.put(k, pageOf(k));
    for (const k of hot) first.get(k); // read again: proven
    for (let i = 0; i < 6; i++) first.put(key('once', i), pageOf(key('once', i)));
    await closeStore(first);
    const second = openStore({ dir, diskBytes: 4 * PAGE, events });
    expect(second.stats()).toMatchObject({ diskPages: 4, diskBytes: 4 * PAGE });
    expect(hot.map((k) => second.has(k))).toEqual(['disk', 'disk']);
    expect(log.errors).toEqual([]);
  });

  test('metadata entries share the memory budget: they push pages onto disk, and the disk quota still holds', async () => {
    const { events, log } = recordEvents();
    const store = openStore({ dir: tempDir(), diskBytes: 8 * PAGE, memoryBytes: memoryFor(8), events });
    const metadata = new MetadataCache(store.metadata, store.memory, (operation, err) => log.errors.push({ operation, err }));
    for (let i = 0; i < 12; i++) store.put(key('p', i), pageOf(key('p', i)));
    expect(store.stats()).toMatchObject({ memoryPages: 8, diskPages: 4 });
    for (let i = 0; i < 600; i++) {
      metadata.set(`tag:object-${i}`, { key: `object-${i}`, size: 100, etag: `"${i}"`, lastModified: new Date(0), userMetadata: { owner: 'someone' } }, 1);
      expect(invariantProblems(store)).toEqual([]);
    }
    const memory = store.memory.stats();
    expect(memory.metadataEntries).toBe(600);
    expect(memory.pages).toBeLessThan(8);
    expect(store.disk.bytes).toBeLessThanOrEqual(8 * PAGE);
    expect(metadata.get('tag:object-599')?.info?.etag).toBe('"599"');
    await store.flush();
    expect(log.errors).toEqual([]);
  });
});
