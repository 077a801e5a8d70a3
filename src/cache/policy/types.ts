/**
 * The contract of a byte-budgeted eviction policy for the page cache.
 *
 * A policy holds keys and sizes only, never the data: a tier keeps its own key -> data map
 * (a Map of Buffers in memory, LMDB on disk) and asks the policy what to keep. The two are
 * kept in step by the tier:
 *   - on a hit:    policy.access(key)                      (the data is served)
 *   - on a fill:   policy.admit(key, size, evicted)        (store the data if it returns true,
 *                                                           then delete every key in `evicted`)
 *   - on a delete: policy.remove(key)                      (purge, dropObject, bad checksum)
 *
 * Every operation is O(1) amortised (admit is O(1) per key it evicts). Implementations do
 * not allocate on access; admit appends to the caller's array, so a tier can reuse one.
 */
export interface EvictionPolicy<K> {
  /** Byte budget: the sum of the sizes of resident keys never exceeds it. */
  readonly maxBytes: number;
  /** Sum of the sizes of resident keys. */
  readonly bytes: number;
  /** Number of resident keys. */
  readonly size: number;

  /** Whether the key is resident, without recording an access. */
  has(key: K): boolean;

  /** Records a hit on a resident key; returns false (and records nothing) if it is not resident. */
  access(key: K): boolean;

  /**
   * Makes a key that missed resident, evicting as needed; the evicted keys are appended to
   * `evicted` (if given). Returns false when the key is not made resident: already resident
   * (its access is not recorded), larger than maxBytes, or refused by the policy's own
   * admission. A policy may evict keys even when it returns false only if it says so in its
   * documentation (S3Fifo does not).
   */
  admit(key: K, size: number, evicted?: K[]): boolean;

  /** Forgets a resident key (no ghost entry is kept); returns whether it was resident. */
  remove(key: K): boolean;

  /**
   * Evicts, in the policy's own order, until at most `bytes` remain; appends the victims to
   * `evicted`. For recovering space (the disk tier's "map full") and for a budget that
   * shrank since the keys were loaded.
   */
  trimTo(bytes: number, evicted?: K[]): void;

  /** Resident keys, in no guaranteed order (dropObject scans them for a prefix). */
  keys(): IterableIterator<K>;

  /** Forgets everything, ghosts and statistics included. */
  clear(): void;
}

/** Hash of a key to an integer for ghost entries and admission counters; policies keep its low 30 bits (see key-hash.ts). */
export type KeyHash<K> = (key: K) => number;
