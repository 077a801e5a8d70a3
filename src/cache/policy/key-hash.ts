/**
 * Hashes of cache keys for ghost entries and admission counters: those keep a hash, never
 * the key, so their memory is a few bytes per entry whatever the key's length. A collision
 * only makes a key look recently seen, which costs a little efficiency, never correctness
 * (the tier's own map decides what is stored).
 *
 * Hashes are 30-bit non-negative integers: V8 stores integers of up to 31 bits signed as
 * small integers (Smis) when pointer compression is on, so a Map keyed by them allocates
 * nothing per key; a full 32-bit hash would often be a heap number (measured: the ghost
 * queue's cost per miss doubled).
 */
import { hash32 } from '../../cluster/ring';
import type { KeyHash } from './types';

/** murmur3's finaliser: spreads the bits of a 32-bit integer. */
function mix32(input: number): number {
  let h = input | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** Keeps 30 bits of a hash (see above). */
export const HASH_MASK = 0x3fffffff;

/** Strings: FNV-1a with a final mix (the ring's hash). Numbers: their low and high 32 bits mixed. */
export const defaultKeyHash: KeyHash<unknown> = (key: unknown): number => {
  if (typeof key === 'string') return hash32(key) & HASH_MASK;
  if (typeof key === 'number') return mix32((key | 0) ^ mix32(Math.floor(key / 0x1_0000_0000))) & HASH_MASK;
  throw new TypeError(`no default hash for a key of type ${typeof key}; pass options.hash`);
};
