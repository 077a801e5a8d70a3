/**
 * What the simulator replays a trace against: one policy over the whole budget, or two tiers
 * (memory in front of disk) arranged as the gateway does today or exclusively.
 *
 * request(page, size) looks the page up and, on a miss, fills it as the gateway does after
 * reading it from the store; it answers where the page was found (0: the store).
 */
import { AdmissionGate, type AdmissionRules } from '../../src/cache/policy/admission-gate';
import type { EvictionPolicy } from '../../src/cache/policy/types';

export const MISS = 0;
export const MEMORY = 1;
const DISK = 2;
export type Served = typeof MISS | typeof MEMORY | typeof DISK;

export interface SimCache {
  readonly name: string;
  request(page: number, size: number): Served;
  /** Bytes written to the disk tier so far (fills and demotions); absent for a single tier. */
  readonly diskWriteBytes?: number;
  /** Called before the pages of each request (admission rules decide per object and read). */
  startRequest?(objectId: number, objectSize: number): void;
}

/** One policy over the whole budget (all hits count as memory hits). */
export class SingleTier implements SimCache {
  constructor(
    readonly name: string,
    private readonly policy: EvictionPolicy<number>,
  ) {}

  request(page: number, size: number): Served {
    if (this.policy.access(page)) return MEMORY;
    this.policy.admit(page, size);
    return MISS;
  }
}

/** One policy behind per-mount admission rules (AdmissionGate): a read that the rules refuse stores nothing. */
export class GatedTier implements SimCache {
  private readonly gate = new AdmissionGate({ maxTrackedObjects: 1 << 20 });
  private mayStore = true;

  constructor(
    readonly name: string,
    private readonly policy: EvictionPolicy<number>,
    private readonly rules: AdmissionRules,
  ) {}

  startRequest(objectId: number, objectSize: number): void {
    this.mayStore = this.gate.admits(`obj-${objectId}`, objectSize, this.rules);
  }

  request(page: number, size: number): Served {
    if (this.policy.access(page)) return MEMORY;
    if (this.mayStore) this.policy.admit(page, size);
    return MISS;
  }
}

/**
 * The gateway's arrangement today (src/cache/tiered-page-store.ts): a miss is put in BOTH
 * tiers; a disk hit is copied into memory (and stays on disk); a memory hit does not touch
 * the disk tier's recency, so pages that are hot in memory age out of the disk tier.
 * The tiers overlap: the union holds at most max(memory, disk) + what differs.
 */
export class InclusiveTiers implements SimCache {
  diskWriteBytes = 0;

  constructor(
    readonly name: string,
    private readonly memory: EvictionPolicy<number>,
    private readonly disk: EvictionPolicy<number>,
  ) {}

  request(page: number, size: number): Served {
    if (this.memory.access(page)) return MEMORY;
    if (this.disk.access(page)) {
      this.memory.admit(page, size);
      return DISK;
    }
    this.memory.admit(page, size);
    if (this.disk.admit(page, size)) this.diskWriteBytes += size;
    return MISS;
  }
}

interface PromotingPolicy<K> extends EvictionPolicy<K> {
  /** Admits a key known to be worth keeping (S3Fifo.restore: straight to main). */
  restore?(key: K, size: number, evicted?: K[]): boolean;
}

/**
 * Exclusive tiers: a page lives in one tier. A miss fills memory; what memory evicts is
 * demoted to disk (the disk policy admits it, and may evict); a disk hit moves the page to
 * memory (promotion removes it from disk). Memory + disk bytes add up.
 * `promoteHot`: a promoted page enters memory as proven (S3-FIFO's main queue) instead of
 * as new.
 */
export class ExclusiveTiers implements SimCache {
  diskWriteBytes = 0;
  private readonly victims: number[] = [];

  constructor(
    readonly name: string,
    private readonly memory: PromotingPolicy<number>,
    private readonly disk: EvictionPolicy<number>,
    private readonly sizeOf: (page: number) => number,
    private readonly promoteHot = false,
  ) {}

  request(page: number, size: number): Served {
    if (this.memory.access(page)) return MEMORY;
    if (this.disk.remove(page)) {
      this.fillMemory(page, size, this.promoteHot);
      return DISK;
    }
    this.fillMemory(page, size, false);
    return MISS;
  }

  private fillMemory(page: number, size: number, hot: boolean): void {
    const victims = this.victims;
    victims.length = 0;
    const admitted = hot && this.memory.restore ? this.memory.restore(page, size, victims) : this.memory.admit(page, size, victims);
    if (!admitted) this.demote(page, size); // larger than the memory tier: straight to disk
    for (const victim of victims) this.demote(victim, this.sizeOf(victim));
  }

  private demote(page: number, size: number): void {
    if (this.disk.admit(page, size)) this.diskWriteBytes += size;
  }
}

/**
 * One policy decides what is cached, over the memory and disk budgets together; the tiers
 * only decide where a cached page lives. Memory holds the most recently used cached pages
 * (an LRU placement of `memoryBytes`); a page pushed out of memory while the policy still
 * keeps it is written to disk (demotion); a disk hit moves the page back to memory; a page
 * the policy evicts is deleted from whichever tier holds it. A page the policy evicts
 * while it is still in memory (a one-hit wonder, a scan) is never written to disk.
 *
 * The disk tier holds policy bytes - memory bytes: at most the disk budget while memory is
 * full, more while memory has room (after evictions of pages in memory); maxDiskBytes
 * records the peak so the overshoot can be checked.
 */
export class UnifiedTiers implements SimCache {
  diskWriteBytes = 0;
  maxDiskBytes = 0;
  private readonly inMemory = new Map<number, number>();
  private memoryUsed = 0;
  private diskUsed = 0;
  private readonly victims: number[] = [];

  /**
   * `probation` (the policy itself, S3Fifo): a page pushed out of memory while still in the
   * policy's probation queue (S3-FIFO's small queue: read once) is evicted there and then (a
   * ghost, as small's own eviction would make it) instead of being written to disk.
   */
  constructor(
    readonly name: string,
    private readonly policy: EvictionPolicy<number>,
    private readonly memoryBytes: number,
    private readonly sizeOf: (page: number) => number,
    private readonly probation?: { inSmall(key: number): boolean; evict(key: number): boolean },
  ) {}

  request(page: number, size: number): Served {
    if (this.policy.access(page)) {
      const inMemory = this.inMemory.get(page);
      if (inMemory !== undefined) {
        this.inMemory.delete(page);
        this.inMemory.set(page, inMemory);
        return MEMORY;
      }
      this.diskUsed -= size;
      this.place(page, size);
      return DISK;
    }
    const victims = this.victims;
    victims.length = 0;
    const admitted = this.policy.admit(page, size, victims);
    for (const victim of victims) {
      const victimSize = this.inMemory.get(victim);
      if (victimSize !== undefined) {
        this.inMemory.delete(victim);
        this.memoryUsed -= victimSize;
      } else this.diskUsed -= this.sizeOf(victim);
    }
    if (admitted) this.place(page, size);
    return MISS;
  }

  private place(page: number, size: number): void {
    this.inMemory.set(page, size);
    this.memoryUsed += size;
    while (this.memoryUsed > this.memoryBytes) {
      const [oldest, oldestSize] = this.inMemory.entries().next().value as [number, number];
      this.inMemory.delete(oldest);
      this.memoryUsed -= oldestSize;
      if (this.probation?.inSmall(oldest)) {
        this.probation.evict(oldest);
        continue;
      }
      this.diskUsed += oldestSize;
      this.diskWriteBytes += oldestSize;
    }
    if (this.diskUsed > this.maxDiskBytes) this.maxDiskBytes = this.diskUsed;
  }
}
