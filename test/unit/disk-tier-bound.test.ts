/**
 * The disk tier's file stays within the documented bound (src/cache/disk-bound.ts, README "The
 * paged cache") at small quotas too, under puts that arrive faster than LMDB commits them
 * (the write backlog stays at its cap, the worst case for copy-on-write growth).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { diskFileBound, storedPageBytes } from '../../src/cache/disk-bound';
import { DiskTier } from '../../src/cache/disk-tier';
import { pageKeyOf, type PageStoreEvents } from '../../src/cache/types';

const MiB = 1024 * 1024;
const quiet: PageStoreEvents = { stored: () => undefined, evicted: () => undefined, checksumFailure: () => undefined, error: () => undefined };

test('the rounding of pages into LMDB overflow pages', () => {
  expect(storedPageBytes(64 * 1024)).toBe(17 * 4096);
  expect(storedPageBytes(MiB)).toBe(257 * 4096);
});

test.each([
  [8 * MiB, 64 * 1024],
  [32 * MiB, 64 * 1024],
  [32 * MiB, MiB],
])('a %d-byte quota of %d-byte pages, filled 4 times over: the file stays within the bound', async (quota, pageSize) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringcache-bound-'));
  const tier = new DiskTier({ path: dir, maxBytes: quota, events: quiet });
  const file = path.join(dir, 'data.mdb');
  let largest = 0;
  try {
    for (let i = 0; i * pageSize < 4 * quota; i++) {
      // The backlog at its cap refuses a put: wait for a commit and put again, so every page goes in
      // however slowly this machine commits, and the backlog keeps reaching its cap (the worst case).
      // (A full quota refuses puts too, for good: then there is nothing to wait for.)
      while (tier.stats().bytes + pageSize <= quota && !tier.canPut(pageSize)) await tier.flush();
      tier.put(pageKeyOf(`object-${Math.floor(i / 16)}`, i % 16), Buffer.alloc(pageSize, i & 0xff));
      await new Promise((resolve) => setImmediate(resolve)); // lets commits run, as a busy gateway would
      if (i % 4 === 0) largest = Math.max(largest, statSync(file).size);
    }
    await tier.flush();
    largest = Math.max(largest, statSync(file).size);
    expect(tier.stats().bytes).toBeGreaterThan(quota / 2); // it really filled
    expect(largest).toBeLessThanOrEqual(diskFileBound(quota, pageSize, tier.maxPendingBytes));
  } finally {
    await tier.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
