/**
 * Shared pieces of the page-store tests: an event recorder, pages whose bytes name them, temp
 * directories removed after the file, and stores closed after each test whatever happened.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TieredPageStore, type TieredPageStoreOptions } from '../../src/cache/tiered-page-store';
import type { PageStoreEvents } from '../../src/cache/types';

export const KiB = 1024;
export const PAGE = 64 * KiB;

interface EventLog {
  stored: { memory: number; disk: number };
  storedBytes: { memory: number; disk: number };
  evicted: { memory: { pages: number; bytes: number; calls: number }; disk: { pages: number; bytes: number; calls: number } };
  checksumFailures: number;
  errors: Array<{ operation: string; err: unknown }>;
}

export function recordEvents(): { events: PageStoreEvents; log: EventLog } {
  const log: EventLog = {
    stored: { memory: 0, disk: 0 },
    storedBytes: { memory: 0, disk: 0 },
    evicted: { memory: { pages: 0, bytes: 0, calls: 0 }, disk: { pages: 0, bytes: 0, calls: 0 } },
    checksumFailures: 0,
    errors: [],
  };
  const events: PageStoreEvents = {
    stored: (tier, bytes) => {
      log.stored[tier]++;
      log.storedBytes[tier] += bytes;
    },
    evicted: (tier, pages, bytes) => {
      log.evicted[tier].pages += pages;
      log.evicted[tier].bytes += bytes;
      log.evicted[tier].calls++;
    },
    checksumFailure: () => void log.checksumFailures++,
    error: (operation, err) => void log.errors.push({ operation, err }),
  };
  return { events, log };
}

/** A page whose bytes identify it: `fill` repeated, then its key (so mix-ups show). */
export function pageOf(key: string, size = PAGE, fill = 0): Buffer {
  const data = Buffer.alloc(size, fill);
  data.write(key, 0, 'latin1');
  return data;
}

const tempDirs: string[] = [];
export function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringcache-pages-'));
  tempDirs.push(dir);
  return dir;
}

/** Stores to close after each test, whatever happened. */
const open: Array<{ close(): Promise<void> }> = [];

/** Registers the afterEach/afterAll hooks of a test file that uses this fixture. */
export function usePageStoreFixture(): void {
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
  });
  afterAll(() => {
    for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
}

export function closeLater<T extends { close(): Promise<void> }>(store: T): T {
  open.push(store);
  return store;
}

type StoreOptions = Partial<TieredPageStoreOptions> & { dir: string; diskBytes: number; events: PageStoreEvents };

export function openStore(options: StoreOptions): TieredPageStore {
  const { dir, diskBytes, memoryBytes, ...rest } = options;
  return closeLater(new TieredPageStore({ pageSize: PAGE, ...rest, memoryBytes: memoryBytes ?? 0, disk: { path: dir, maxBytes: diskBytes } }));
}

export async function closeStore(store: { close(): Promise<void> }): Promise<void> {
  const i = open.indexOf(store);
  if (i >= 0) open.splice(i, 1);
  await store.close();
}

/** The pages each tier holds, and what the policy keeps: the tiers are exclusive and add up to the policy. */
export function placement(store: TieredPageStore): { memory: string[]; disk: string[]; policy: string[] } {
  return {
    memory: [...store.memory.pageKeysOldestFirst()].sort(),
    disk: [...store.disk.pagesInOrder()].map(([key]) => key).sort(),
    policy: [...store.policy.keys()].sort(),
  };
}

/** Checks the store's invariants; returns a list of what is wrong (empty when all hold). */
export function invariantProblems(store: TieredPageStore): string[] {
  const problems: string[] = [];
  const { memory, disk, policy } = placement(store);
  const inDisk = new Set(disk);
  const both = memory.filter((k) => inDisk.has(k));
  if (both.length > 0) problems.push(`in both tiers: ${both.join(', ')}`);
  const held = [...new Set([...memory, ...disk])].sort();
  if (held.join('\n') !== policy.join('\n')) problems.push(`tiers hold [${held.join(', ')}] but the policy keeps [${policy.join(', ')}]`);
  if (store.disk.bytes > store.disk.maxBytes) problems.push(`disk holds ${store.disk.bytes} > quota ${store.disk.maxBytes}`);
  if (store.memory.enabled && store.memory.usedBytes > store.memory.maxBytes) problems.push(`memory uses ${store.memory.usedBytes} > budget ${store.memory.maxBytes}`);
  if (store.policy.bytes > store.policy.maxBytes) problems.push(`policy holds ${store.policy.bytes} > ${store.policy.maxBytes}`);
  return problems;
}
