/**
 * Page store: the disk tier (LMDB: quota, order across restarts, checksums, dropObject, write
 * failures, backpressure), the store over both tiers in its basic uses, metadata persistence,
 * and the best-effort contract. Real LMDB in temp dirs. The policy and tier arrangement
 * (exclusive tiers, demotion, restore, close) are in tiered-page-store.test.ts; the memory
 * tier in memory-tier.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { diskMapSize, type DiskIndexEntry } from '../../src/cache/disk-lmdb';
import { DiskTier, type DiskTierOptions } from '../../src/cache/disk-tier';
import { decodePageRecord, encodePageRecord, pageChecksum } from '../../src/cache/page-checksum';
import { pageKeyOf, type MetadataRecord, type MetadataStore } from '../../src/cache/types';
import { closeLater, closeStore, invariantProblems, KiB, openStore, PAGE, pageOf, recordEvents, tempDir, usePageStoreFixture } from '../helpers/page-store-fixture';

usePageStoreFixture();

describe('page checksum framing', () => {
  test('record = big-endian crc32 of page key + data, then the data; a flipped bit fails', () => {
    const data = Buffer.from('hello page');
    const key = pageKeyOf('object', 3);
    const record = encodePageRecord(key, data);
    expect(record.readUInt32BE(0)).toBe(pageChecksum(key, data));
    expect(pageChecksum('', Buffer.from('123456789'))).toBe(0xcbf43926); // the CRC-32 check value
    expect(pageChecksum('12345', Buffer.from('6789'))).toBe(0xcbf43926); // over the key, then the data
    expect(decodePageRecord(key, record)?.toString()).toBe('hello page');
    record[7] ^= 0x01;
    expect(decodePageRecord(key, record)).toBeUndefined();
    expect(decodePageRecord(key, Buffer.alloc(3))).toBeUndefined();
  });

  test('a record is valid only under its own page key: another index, version or object is a miss', () => {
    const data = Buffer.from('the same bytes');
    const record = encodePageRecord(pageKeyOf('object-v1', 3), data);
    expect(decodePageRecord(pageKeyOf('object-v1', 3), record)?.equals(data)).toBe(true);
    for (const other of [pageKeyOf('object-v1', 4), pageKeyOf('object-v2', 3), pageKeyOf('other', 3)]) {
      expect(decodePageRecord(other, record)).toBeUndefined();
    }
  });
});

/** A memory budget of `pages` pages of `size` plus room for the bookkeeping of a few dozen pages. */
const memoryFor = (pages: number, size = PAGE): number => pages * (size + 512) + 16 * KiB;

describe('tiered page store', () => {
  test('memory holds the most recently used pages, disk the others; a disk hit moves the page to memory', async () => {
    const { events, log } = recordEvents();
    const store = openStore({ dir: tempDir(), diskBytes: 64 * PAGE, memoryBytes: memoryFor(2), events });
    const keys = [0, 1, 2].map((i) => pageKeyOf('obj', i));
    for (const key of keys) store.put(key, pageOf(key));
    // The oldest was pushed out of memory onto disk: each page is in one tier.
    expect(store.stats()).toEqual({ memoryBytes: 2 * PAGE, memoryPages: 2, diskBytes: PAGE, diskPages: 1 });
    expect(keys.map((k) => store.has(k))).toEqual(['disk', 'memory', 'memory']);
    await store.flush();
    expect(log.stored).toEqual({ memory: 3, disk: 1 });

    const first = store.get(keys[0]!);
    expect(first?.tier).toBe('disk');
    expect(first?.data.equals(pageOf(keys[0]!))).toBe(true);
    expect(store.get(keys[0]!)?.tier).toBe('memory'); // moved
    expect(store.get(keys[2]!)?.tier).toBe('memory');
    expect(store.get(keys[1]!)?.tier).toBe('disk'); // was pushed out of memory by the move
    expect(store.get(pageKeyOf('obj', 9))).toBeUndefined();
    expect(invariantProblems(store)).toEqual([]);
    expect(log.errors).toEqual([]);
  });

  test('a disk read returns a buffer the caller may keep (not a reused read buffer)', async () => {
    const { events } = recordEvents();
    const store = openStore({ dir: tempDir(), diskBytes: 64 * PAGE, events });
    const small = ['s/0', 's/1'].map((k) => [k, pageOf(k, 1000, 7)] as const);
    const large = ['l/0', 'l/1'].map((k) => [k, pageOf(k, 3 * PAGE, 9)] as const);
    for (const [k, v] of [...small, ...large]) store.put(k, v);
    await store.flush();
    const got = [...small, ...large].map(([k]) => store.get(k)!.data);
    for (const [i, [, v]] of [...small, ...large].entries()) expect(got[i]!.equals(v)).toBe(true);
    expect(Buffer.isBuffer(got[0])).toBe(true);
  });

  test('disk quota: 3x the quota of 64 KiB pages keeps total <= quota; pages read again stay', async () => {
    const { events, log } = recordEvents();
    const dir = tempDir();
    const quota = 16 * PAGE;
    const store = openStore({ dir, diskBytes: quota, events });
    const key = (i: number): string => pageKeyOf('quota', i);
    const hot = [0, 1, 2, 3].map(key);
    let maxSeen = 0;
    for (let i = 0; i < 48; i++) {
      store.put(key(i), pageOf(key(i), PAGE, i));
      maxSeen = Math.max(maxSeen, store.stats().diskBytes);
      if (i % 4 === 3) for (const k of hot) expect(store.get(k)?.data.readUInt8(PAGE - 1)).toBe(Number(k.slice(-1)));
      if (i % 8 === 7) await store.flush();
    }
    await store.flush();
    expect(maxSeen).toBeLessThanOrEqual(quota);
    expect(store.stats()).toMatchObject({ diskBytes: quota, diskPages: 16 });
    const survivors = Array.from({ length: 48 }, (_, i) => i).filter((i) => store.disk.has(key(i)));
    expect(survivors.slice(0, 4)).toEqual([0, 1, 2, 3]); // read again: kept by the policy
    for (const i of survivors) expect(store.get(key(i))?.data.equals(pageOf(key(i), PAGE, i))).toBe(true);
    expect(log.evicted.disk).toMatchObject({ pages: 32, bytes: 32 * PAGE });
    expect(invariantProblems(store)).toEqual([]);

    const report = store.disk.verifyIntegrity();
    expect(report).toMatchObject({ indexEntries: 16, indexBytes: quota, pages: 16, accountedBytes: quota, accountedPages: 16 });
    expect([...report.missingPages, ...report.orphanPages, ...report.badPages]).toEqual([]);
    // The file stays within the planned map size (overflow pages, freelist, index).
    expect(statSync(path.join(dir, 'data.mdb')).size).toBeLessThanOrEqual(diskMapSize(quota));
    expect(log.errors).toEqual([]);
  });

  test('reopen keeps pages and accounting, and restores the policy in the order pages were last used', async () => {
    const { events, log } = recordEvents();
    const dir = tempDir();
    let clock = 1_700_000_000_000;
    const now = (): number => clock;
    const quota = 16 * PAGE;
    const key = (i: number): string => pageKeyOf('reopen', i);
    const first = openStore({ dir, diskBytes: quota, events, now });
    for (let i = 0; i < 16; i++) first.put(key(i), pageOf(key(i), PAGE, i));
    await first.flush();
    clock += 30_000;
    expect(first.get(key(4))?.tier).toBe('disk'); // 30 s after its put: not persisted (60 s interval)
    clock += 90_000;
    for (const i of [0, 1, 2, 3]) expect(first.get(key(i))?.tier).toBe('disk'); // persisted
    const before = first.stats();
    await closeStore(first);

    const second = openStore({ dir, diskBytes: quota, events, now });
    expect(second.stats()).toEqual({ ...before, memoryBytes: 0, memoryPages: 0 });
    expect(before).toMatchObject({ diskBytes: quota, diskPages: 16 });
    expect(second.policy.size).toBe(16);
    expect(invariantProblems(second)).toEqual([]);
    // Restored pages are the policy's main queue, oldest last use first: 4..15, then 0..3 (4's
    // touch was too recent to be written). New pages start in the small queue: the first two
    // take the room of the two oldest restored pages (4 and 5), the later ones replace each
    // other in small (read once, never again), leaving the last two.
    for (let i = 16; i < 24; i++) second.put(key(i), pageOf(key(i), PAGE, i));
    await second.flush();
    const survivors = Array.from({ length: 24 }, (_, i) => i).filter((i) => second.disk.has(key(i)));
    expect(survivors).toEqual([0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 22, 23]);
    for (const i of survivors) expect(second.get(key(i))?.data.equals(pageOf(key(i), PAGE, i))).toBe(true);
    expect(second.stats().diskBytes).toBe(quota);
    await closeStore(second);

    // A smaller quota at the next open frees down to it at once, oldest first.
    const third = openStore({ dir, diskBytes: 4 * PAGE, events, now });
    expect(third.stats()).toMatchObject({ diskBytes: 4 * PAGE, diskPages: 4 });
    expect(third.policy.size).toBe(4);
    await third.flush();
    const report = third.disk.verifyIntegrity();
    expect(report).toMatchObject({ indexEntries: 4, pages: 4, indexBytes: 4 * PAGE });
    expect(invariantProblems(third)).toEqual([]);
    expect(log.errors).toEqual([]);
  });

  test.each([
    ['read where it is (no memory tier)', 0],
    ['moved to memory', 8 * PAGE],
  ])('a page corrupted on disk is detected, reported once, and deleted: %s', async (_how, memoryBytes) => {
    const { events, log } = recordEvents();
    const dir = tempDir();
    const victim = pageKeyOf('corrupt', 1);
    const neighbour = pageKeyOf('corrupt', 2);
    const data = randomBytes(PAGE);
    const first = openStore({ dir, diskBytes: 64 * PAGE, events });
    first.put(victim, data);
    first.put(neighbour, pageOf(neighbour));
    await closeStore(first);

    const file = path.join(dir, 'data.mdb');
    const bytes = readFileSync(file);
    const pattern = data.subarray(1000, 1064);
    const at = bytes.indexOf(pattern);
    expect(at).toBeGreaterThan(0);
    expect(bytes.lastIndexOf(pattern)).toBe(at); // exactly one copy on disk
    bytes[at + 17] ^= 0xff;
    writeFileSync(file, bytes);

    const second = openStore({ dir, diskBytes: 64 * PAGE, memoryBytes, events });
    expect(second.stats()).toMatchObject({ diskPages: 2, diskBytes: 2 * PAGE });
    expect(second.get(victim)).toBeUndefined();
    expect(log.checksumFailures).toBe(1);
    expect(second.stats()).toMatchObject({ diskPages: 1, diskBytes: PAGE });
    expect(second.policy.has(victim)).toBe(false);
    expect(second.get(victim)).toBeUndefined(); // gone: a plain miss now
    expect(log.checksumFailures).toBe(1);
    expect(second.get(neighbour)?.data.equals(pageOf(neighbour))).toBe(true);
    expect(invariantProblems(second)).toEqual([]);
    await closeStore(second);

    const third = openStore({ dir, diskBytes: 64 * PAGE, events });
    expect(third.stats()).toMatchObject({ diskPages: 1, diskBytes: PAGE });
    const report = third.disk.verifyIntegrity();
    expect(report).toMatchObject({ indexEntries: 1, pages: 1, missingPages: [], orphanPages: [], badPages: [] });
    expect(log.checksumFailures).toBe(1);
    expect(log.errors).toEqual([]);
  });

  test('two page records swapped inside the file are misses, never served as each other', async () => {
    const { events, log } = recordEvents();
    const dir = tempDir();
    const a = pageKeyOf('swapped', 0);
    const b = pageKeyOf('swapped', 1);
    const dataA = randomBytes(PAGE);
    const dataB = randomBytes(PAGE);
    const first = openStore({ dir, diskBytes: 64 * PAGE, events });
    first.put(a, dataA);
    first.put(b, dataB);
    await closeStore(first);

    // Swap the two records (checksum + data) in place: the B-trees still point at the old spots.
    const file = path.join(dir, 'data.mdb');
    const bytes = readFileSync(file);
    const at = (data: Buffer): number => {
      const found = bytes.indexOf(data.subarray(0, 64));
      expect(found).toBeGreaterThan(4);
      expect(bytes.lastIndexOf(data.subarray(0, 64))).toBe(found);
      return found - 4;
    };
    const atA = at(dataA);
    const atB = at(dataB);
    const recordA = Buffer.from(bytes.subarray(atA, atA + 4 + PAGE));
    bytes.copy(bytes, atA, atB, atB + 4 + PAGE);
    recordA.copy(bytes, atB);
    writeFileSync(file, bytes);

    const second = openStore({ dir, diskBytes: 64 * PAGE, events });
    expect(second.get(a)).toBeUndefined();
    expect(second.get(b)).toBeUndefined();
    expect(log.checksumFailures).toBe(2);
    expect(second.stats()).toMatchObject({ diskPages: 0 });
    await closeStore(second);
  });

  test('dropObject removes every page of one object only, in memory, on disk or pending', async () => {
    const { events, log } = recordEvents();
    const store = openStore({ dir: tempDir(), diskBytes: 64 * PAGE, memoryBytes: memoryFor(4, 8 * KiB), events });
    const ids = ['abc', 'abc0', 'abc.', 'abd', 'ab'];
    for (const id of ids) for (let i = 0; i < 3; i++) store.put(pageKeyOf(id, i), pageOf(pageKeyOf(id, i), 8 * KiB));
    await store.flush();
    store.put(pageKeyOf('abc', 3), pageOf(pageKeyOf('abc', 3), 8 * KiB)); // in memory: pushes an older page onto disk, pending
    const before = store.stats();
    expect(before.memoryPages).toBeGreaterThan(0);
    expect(before.diskPages).toBeGreaterThan(0);
    expect(await store.dropObject('abc')).toBe(4);
    const after = store.stats();
    expect(after.memoryPages + after.diskPages).toBe(before.memoryPages + before.diskPages - 4);
    for (let i = 0; i < 4; i++) expect(store.get(pageKeyOf('abc', i))).toBeUndefined();
    for (const id of ids.slice(1)) for (let i = 0; i < 3; i++) expect(store.get(pageKeyOf(id, i))?.data.equals(pageOf(pageKeyOf(id, i), 8 * KiB))).toBe(true);
    expect(await store.dropObject('abc')).toBe(0);
    await store.flush();
    expect(invariantProblems(store)).toEqual([]);
    const report = store.disk.verifyIntegrity();
    expect(report).toMatchObject({ indexEntries: report.accountedPages, pages: report.accountedPages, missingPages: [], orphanPages: [] });
    expect(log.evicted.disk.pages + log.evicted.memory.pages).toBe(0); // a drop is not an eviction
  });

  test('never throws from get/put; failures are reported and behave as misses', async () => {
    const { events, log } = recordEvents();
    const store = openStore({ dir: tempDir(), diskBytes: 64 * PAGE, memoryBytes: 0, events });
    const longKey = 'k'.repeat(3000); // beyond LMDB's key size limit
    expect(() => store.put(longKey, pageOf('x'))).not.toThrow();
    expect(store.get(longKey)).toBeUndefined();
    expect(log.errors.map((e) => e.operation)).toEqual(['disk.put']);
    expect(store.stats()).toMatchObject({ diskPages: 0, diskBytes: 0 });
    expect(store.policy.size).toBe(0);
    await store.close();
    expect(() => store.put('after/00000000', pageOf('x'))).not.toThrow();
    expect(store.get('after/00000000')).toBeUndefined();
  });

  test('both tiers disabled: nothing stored, metadata kept in memory, no directory created', async () => {
    const { events } = recordEvents();
    const dir = path.join(tempDir(), 'never');
    const store = openStore({ dir, diskBytes: 0, memoryBytes: 0, events });
    store.put('a/00000000', pageOf('a'));
    expect(store.get('a/00000000')).toBeUndefined();
    expect(store.stats()).toEqual({ memoryBytes: 0, memoryPages: 0, diskBytes: 0, diskPages: 0 });
    expect(await store.dropObject('a')).toBe(0);
    await store.flush();
    store.metadata.putMeta('m:a', record('a'));
    expect(store.metadata.getMeta('m:a')).toEqual(record('a'));
    expect(existsSync(dir)).toBe(false);
  });
});

function record(key: string, fetchedAt = 1_000, extra: Partial<NonNullable<MetadataRecord['info']>> = {}): MetadataRecord {
  return {
    info: { key, size: 123, etag: `"etag-${key}"`, lastModifiedMs: 1_600_000_000_000, userMetadata: { a: 'b' }, ...extra },
    fetchedAt,
  };
}

describe.each([
  ['LMDB', 64 * PAGE],
  ['in-memory', 0],
])('metadata store (%s)', (_name, diskBytes) => {
  async function exercise(metadata: MetadataStore, flush: () => Promise<void>): Promise<void> {
    metadata.putMeta('m1:a', record('a', 1, { contentType: 'text/plain', partSizes: [5, 5], checksums: { crc32: 'AAAA' } }));
    metadata.putMeta('m1:b', record('b'));
    metadata.putMeta('m1:b/c', record('b/c'));
    metadata.putMeta('m2:a', { info: null, fetchedAt: 7 });
    // Read-your-writes before the batch commits.
    expect(metadata.getMeta('m1:a')).toEqual(record('a', 1, { contentType: 'text/plain', partSizes: [5, 5], checksums: { crc32: 'AAAA' } }));
    expect(metadata.getMeta('m2:a')).toEqual({ info: null, fetchedAt: 7 });
    await flush();
    expect(metadata.getMeta('m1:b')).toEqual(record('b'));
    expect(metadata.getMeta('nope')).toBeUndefined();
    const changed = metadata.getMeta('m1:b')!;
    changed.fetchedAt = 99; // a copy: the store is unaffected
    expect(metadata.getMeta('m1:b')?.fetchedAt).toBe(1_000);

    metadata.putMeta('m1:d', record('d')); // pending while scanning
    metadata.deleteMeta('m1:b');
    expect(metadata.getMeta('m1:b')).toBeUndefined();
    expect([...metadata.scanMeta('m1:')].map(([k]) => k)).toEqual(['m1:a', 'm1:b/c', 'm1:d']);
    expect([...metadata.scanMeta('m1:b')].map(([k, v]) => [k, v.info?.key])).toEqual([['m1:b/c', 'b/c']]);
    expect([...metadata.scanMeta('zz')]).toEqual([]);

    expect(await metadata.deleteMetaPrefix('m1:')).toBe(3);
    expect(metadata.getMeta('m1:a')).toBeUndefined();
    expect(metadata.getMeta('m1:d')).toBeUndefined();
    expect(metadata.getMeta('m2:a')).toEqual({ info: null, fetchedAt: 7 });
    expect(await metadata.deleteMetaPrefix('m1:')).toBe(0);
    await flush();
    expect([...metadata.scanMeta('')].map(([k]) => k)).toEqual(['m2:a']);
  }

  test('put/get/delete/scan/deletePrefix', async () => {
    const { events, log } = recordEvents();
    const dir = tempDir();
    const store = openStore({ dir, diskBytes, events });
    await exercise(store.metadata, () => store.flush());
    store.metadata.putMeta('m3:x', record('x', 5));
    await closeStore(store);
    if (diskBytes > 0) {
      const reopened = openStore({ dir, diskBytes, events });
      expect(reopened.metadata.getMeta('m3:x')).toEqual(record('x', 5));
      expect([...reopened.metadata.scanMeta('')].map(([k]) => k)).toEqual(['m2:a', 'm3:x']);
    }
    expect(log.errors).toEqual([]);
  });
});

describe('disk tier write failures', () => {
  /** A DiskTier whose next `failures` page writes fail as LMDB's MDB_MAP_FULL would. */
  class FailingDiskTier extends DiskTier {
    failures = 0;
    attempts: string[] = [];
    constructor(options: DiskTierOptions) {
      super(options);
    }
    protected override writeRecord(pageKey: string, record: Buffer, entry: DiskIndexEntry): Promise<unknown> {
      this.attempts.push(pageKey);
      if (this.failures > 0) {
        this.failures--;
        return Promise.reject(Object.assign(new Error('MDB_MAP_FULL: Environment mapsize limit reached'), { code: -30792 }));
      }
      return super.writeRecord(pageKey, record, entry);
    }
  }

  test('MDB_MAP_FULL: frees 10% of the quota (the pages held longest) and retries once; a second failure drops the put', async () => {
    const { events, log } = recordEvents();
    const dropped: string[] = [];
    const tier = closeLater(new FailingDiskTier({ path: tempDir(), maxBytes: 10 * PAGE, events, onDropped: (k) => dropped.push(k) }));
    const key = (i: number): string => pageKeyOf('full', i);
    for (let i = 0; i < 9; i++) expect(tier.put(key(i), pageOf(key(i)))).toBe(true);
    await tier.flush();
    expect(tier.stats()).toMatchObject({ bytes: 9 * PAGE, pages: 9 });
    expect(tier.put(key(99), Buffer.alloc(2 * PAGE))).toBe(false); // past the quota: refused, nothing evicted
    expect(tier.stats()).toMatchObject({ bytes: 9 * PAGE, pages: 9 });

    tier.failures = 1;
    expect(tier.put(key(9), pageOf(key(9)))).toBe(true); // fails, frees 0 (10%), retries
    await tier.flush();
    expect(tier.attempts.filter((k) => k === key(9))).toHaveLength(2);
    expect(tier.stats()).toMatchObject({ bytes: 9 * PAGE, pages: 9 });
    expect([0, 1, 9].map((i) => tier.has(key(i)))).toEqual([false, true, true]);
    expect(tier.get(key(9))?.equals(pageOf(key(9)))).toBe(true);
    expect(log.errors).toEqual([]);
    expect(log.evicted.disk).toMatchObject({ pages: 1, bytes: PAGE });
    expect(dropped).toEqual([key(0)]);

    tier.failures = 2;
    tier.put(key(10), pageOf(key(10)));
    await tier.flush();
    expect(tier.has(key(10))).toBe(false);
    expect(log.errors.map((e) => e.operation)).toEqual(['disk.put']);
    expect(dropped).toEqual([key(0), key(1), key(10)]); // 10% more went before the retry, then the put itself
    expect(tier.stats()).toMatchObject({ bytes: 8 * PAGE, pages: 8 });
    const report = tier.verifyIntegrity();
    expect(report).toMatchObject({ indexEntries: 8, pages: 8, indexBytes: 8 * PAGE, accountedBytes: 8 * PAGE, missingPages: [], orphanPages: [], badPages: [] });
  });

  test('a delete whose transaction failed is issued again (unless the page was stored again meanwhile)', async () => {
    const { events, log } = recordEvents();
    class FailingRemoves extends DiskTier {
      failures = 0;
      protected override removeRecord(pageKey: string): Promise<unknown> {
        if (this.failures > 0) {
          this.failures--;
          return Promise.reject(new Error('commit failed'));
        }
        return super.removeRecord(pageKey);
      }
    }
    const tier = closeLater(new FailingRemoves({ path: tempDir(), maxBytes: 10 * PAGE, events }));
    const key = (i: number): string => pageKeyOf('txn', i);
    for (let i = 0; i < 4; i++) tier.put(key(i), pageOf(key(i)));
    await tier.flush();
    tier.failures = 1;
    tier.delete(key(0)); // fails once, issued again
    await tier.flush();
    tier.failures = 2;
    tier.delete(key(1)); // fails twice: given up and reported
    await tier.flush();
    expect(log.errors.map((e) => e.operation)).toEqual(['disk.delete']);
    const report = tier.verifyIntegrity();
    expect(report.orphanPages).toEqual([]);
    expect(report.missingPages).toEqual([]);
    expect(report).toMatchObject({ indexEntries: 3, accountedPages: 2 }); // key 1 stays in the file until the next open
    expect([0, 1, 2, 3].map((i) => tier.has(key(i)))).toEqual([false, false, true, true]);
  });
});

describe('disk tier backpressure and file growth', () => {
  test('puts beyond maxPendingBytes waiting to commit are skipped, then accepted again', async () => {
    const { events, log } = recordEvents();
    const tier = closeLater(new DiskTier({ path: tempDir(), maxBytes: 64 * PAGE, events, maxPendingBytes: 2 * PAGE }));
    const key = (i: number): string => pageKeyOf('backlog', i);
    for (let i = 0; i < 4; i++) tier.put(key(i), pageOf(key(i)));
    expect(tier.stats()).toMatchObject({ pages: 1, skippedPuts: 3 }); // 1 page + 4 bytes of checksum already pending
    expect(tier.stats().pendingBytes).toBe(PAGE + 4);
    await tier.flush();
    expect(tier.stats()).toMatchObject({ pendingBytes: 0, pages: 1 });
    tier.put(key(1), pageOf(key(1)));
    await tier.flush();
    expect([0, 1, 2].map((i) => tier.has(key(i)))).toEqual([true, true, false]);
    expect(log.errors).toEqual([]);
  });

  test('a file outgrowing the map size (lmdb-js grows it instead of MDB_MAP_FULL) evicts 10% of the quota once', async () => {
    const { events, log } = recordEvents();
    let clock = 1_000_000;
    class SmallMapDiskTier extends DiskTier {
      constructor(options: DiskTierOptions) {
        super(options);
        (this as { mapSize: number }).mapSize = 1024 * KiB; // pretend the planned map is 1 MiB
      }
    }
    const tier = closeLater(new SmallMapDiskTier({ path: tempDir(), maxBytes: 64 * PAGE, events, now: () => clock }));
    const key = (i: number): string => pageKeyOf('growth', i);
    for (let i = 0; i < 32; i++) tier.put(key(i), pageOf(key(i))); // 2 MiB: the file passes 1 MiB
    await tier.flush();
    expect(log.errors.map((e) => e.operation)).toEqual(['disk.mapFull']);
    expect(log.evicted.disk).toMatchObject({ pages: 7, bytes: 7 * PAGE }); // ceil(10% of 64 pages)
    expect(tier.stats()).toMatchObject({ pages: 25, bytes: 25 * PAGE });
    // Checked at most once a second: more growth within the second does not evict again.
    for (let i = 32; i < 40; i++) tier.put(key(i), pageOf(key(i)));
    await tier.flush();
    expect(log.errors).toHaveLength(1);
    expect(tier.stats()).toMatchObject({ pages: 33, bytes: 33 * PAGE });
    // A second later, a file that grew again triggers the next batch.
    clock += 2000;
    for (let i = 40; i < 48; i++) tier.put(key(i), pageOf(key(i)));
    await tier.flush();
    expect(log.errors.map((e) => e.operation)).toEqual(['disk.mapFull', 'disk.mapFull']);
    expect(tier.stats()).toMatchObject({ pages: 34, bytes: 34 * PAGE });
    const report = tier.verifyIntegrity();
    expect(report).toMatchObject({ indexEntries: 34, pages: 34, missingPages: [], orphanPages: [], badPages: [] });
  });
});
