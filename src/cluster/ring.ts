/**
 * The ring: which node owns a key. Pure functions from the set of member node ids (stable
 * ids, not addresses) to an immutable Ring, replaced whole when membership changes.
 *
 * Scheme: rendezvous (highest-random-weight) hashing. Every node gets a score for a key and
 * the highest score owns it; `owners(key, n)` is the n best. Chosen over a virtual-node ring
 * because its balance does not depend on a vnode count and a membership change rebuilds
 * nothing; it was not benchmarked against a vnode ring here. Measured (100 nodes, 200k keys,
 * compiled): max/mean owned share 1.054, min/mean 0.946; adding a 101st node moved 1.0% of
 * the keys, all to the new node (1/101 is 0.99%).
 *
 * A lookup is one pass over the members keeping the best `n` scores (no sort, no allocation
 * per member): one 32-bit mix per member. `npm run bench:ring` measures it (bench/README.md:
 * about 0.3 us at 100 members and 3 us at 1000 for the owner and its successor). Fine for
 * thousands of nodes, not for hundreds of thousands.
 */

/** FNV-1a over UTF-16 code units, finished with murmur3's fmix32: a 32-bit hash of a string. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

function fmix32(input: number): number {
  let h = input;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface Ring {
  /** Member ids, sorted. */
  readonly members: readonly string[];
  /** The owner of `key` followed by its successors (at most `n`, at most all members). */
  owners(key: string, n?: number): string[];
  owner(key: string): string | undefined;
}

/**
 * A member's score for a key hash: fmix32((keyHash ^ seed) + 0x9e3779b9), the higher the better
 * (ties go to the smaller id). Returned with the top bit flipped, as a signed 32-bit integer:
 * the same order as the unsigned score, but V8 keeps it a small integer instead of a heap number.
 */
function score(keyHash: number, seed: number): number {
  let h = ((keyHash ^ seed) - 0x61c88647) | 0; // + 0x9e3779b9, modulo 2^32
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h ^ 0x80000000;
}

/** Builds the ring of a set of node ids. Same set, same ring, on every node. */
export function buildRing(nodeIds: Iterable<string>): Ring {
  const ids = Object.freeze([...new Set(nodeIds)].sort());
  const seeds = Int32Array.from(ids, (id) => hash32(`node:${id}`) | 0);
  const count = ids.length;

  /** Index of the best member, in one pass. */
  function best(k: number): number {
    let top = 0;
    let topScore = score(k, seeds[0]);
    for (let i = 1; i < count; i++) {
      const s = score(k, seeds[i]);
      // Members are sorted by id: on a tie the earlier index (smaller id) stays.
      if (s > topScore) {
        top = i;
        topScore = s;
      }
    }
    return top;
  }

  /** The best two members in one pass (needs two members at least): returns the first, sets `second`. */
  let second = 1;
  function bestTwo(k: number): number {
    let first = 0;
    let firstScore = score(k, seeds[0]);
    let next = 1;
    let nextScore = score(k, seeds[1]);
    if (nextScore > firstScore) {
      first = 1;
      next = 0;
      const s = firstScore;
      firstScore = nextScore;
      nextScore = s;
    }
    for (let i = 2; i < count; i++) {
      const s = score(k, seeds[i]);
      if (s > nextScore) {
        if (s > firstScore) {
          next = first;
          nextScore = firstScore;
          first = i;
          firstScore = s;
        } else {
          next = i;
          nextScore = s;
        }
      }
    }
    second = next;
    return first;
  }

  /** The best `n` by partial selection: a small sorted window of (score, index), O(N * n). */
  function bestN(k: number, n: number): number[] {
    const topScores: number[] = [];
    const topIndexes: number[] = [];
    for (let i = 0; i < count; i++) {
      const s = score(k, seeds[i]);
      if (topScores.length === n && s <= topScores[n - 1]) continue;
      let at = Math.min(topScores.length, n - 1);
      // Shift smaller scores down; equal scores keep the earlier (smaller id) member first.
      while (at > 0 && topScores[at - 1] < s) {
        topScores[at] = topScores[at - 1];
        topIndexes[at] = topIndexes[at - 1];
        at--;
      }
      topScores[at] = s;
      topIndexes[at] = i;
    }
    return topIndexes;
  }

  function owners(key: string, n = 1): string[] {
    if (count === 0 || n < 1) return [];
    const k = hash32(key);
    if (n === 1 || count === 1) return [ids[best(k)]];
    if (n === 2) {
      const first = bestTwo(k);
      return [ids[first], ids[second]];
    }
    return bestN(k, Math.min(n, count)).map((i) => ids[i]);
  }

  return Object.freeze({
    members: ids,
    owners,
    owner: (key: string): string | undefined => (count === 0 ? undefined : ids[best(hash32(key))]),
  });
}
