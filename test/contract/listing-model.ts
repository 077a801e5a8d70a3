/**
 * The brute-force model of an S3 listing the adapters are checked against: random key trees any
 * store can hold, and what ListObjects returns for them, computed over the sorted key list.
 */
import type { ListEntry, ListOptions, UfsAdapter } from '../../ufs-adapters/types';

/** S3 order: the UTF-8 bytes, compared (not JS string order). */
export const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** Deterministic PRNG so failures are reproducible. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** A listing entry as the model writes it: the key, or "prefix:" and the common prefix. */
export const render = (entry: ListEntry): string => (entry.kind === 'object' ? entry.key : `prefix:${entry.prefix}`);

/** Everything `adapter.list(options)` yields, rendered. */
export async function listRendered(adapter: Pick<UfsAdapter, 'list'>, options: ListOptions): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of adapter.list(options)) out.push(render(entry));
  return out;
}

/** What S3 returns, computed by brute force over the full sorted key list. */
export function expectedListing(sortedKeys: string[], { prefix, delimiter, startAfter }: ListOptions): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const key of sortedKeys) {
    if (!key.startsWith(prefix)) continue;
    const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    if (delimiter && cut >= 0) {
      const common = key.slice(0, cut + delimiter.length);
      if (seen.has(common)) continue;
      seen.add(common);
      if (startAfter === undefined || byteOrder(common, startAfter) > 0) out.push(`prefix:${common}`);
      continue;
    }
    if (startAfter === undefined || byteOrder(key, startAfter) > 0) out.push(key);
  }
  return out;
}

const ALPHABET = ['a', 'b', 'z', 'A', '0', '-', '.', '€', '😀', 'ä', '~', ' ', 'ﬀ'];

/** Random keys a POSIX tree can hold too (no key is both a file and a folder), about 12% folder markers. */
export function randomKeys(random: () => number, count: number): string[] {
  const files = new Set<string>();
  const folders = new Set<string>(); // "a/", "a/b/" ...
  const markers = new Set<string>();
  const segment = (): string => Array.from({ length: 1 + Math.floor(random() * 3) }, () => ALPHABET[Math.floor(random() * ALPHABET.length)]).join('');
  let attempts = 0;
  while (files.size + markers.size < count && attempts++ < count * 20) {
    const depth = 1 + Math.floor(random() * 3);
    const segments = Array.from({ length: depth }, segment);
    if (segments.some((s) => s === '.' || s === '..')) continue;
    const ancestors = segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/'));
    if (ancestors.some((a) => files.has(a))) continue;
    const key = segments.join('/');
    const asMarker = random() < 0.12;
    if (asMarker) {
      if (files.has(key)) continue;
      markers.add(`${key}/`);
    } else {
      if (folders.has(`${key}/`)) continue;
      files.add(key);
    }
    ancestors.forEach((a) => folders.add(`${a}/`));
    if (asMarker) folders.add(`${key}/`);
  }
  return [...files, ...markers];
}

/**
 * The prefixes a listing is checked with: fixed ones (under `base`) and, for `count` random keys
 * (all under `base`), a cut of the key after `base` (never inside a surrogate pair) and its folder.
 */
export function samplePrefixes(random: () => number, sorted: string[], base: string, count: number): Set<string> {
  const prefixes = new Set<string>(['', 'a', 'a/', '€', '😀/', 'nothing/', 'a/b/c/d/'].map((p) => base + p));
  for (let i = 0; i < count; i++) {
    const key = sorted[Math.floor(random() * sorted.length)];
    const cut = base.length + Math.floor(random() * (key.length - base.length + 1));
    prefixes.add(/[\ud800-\udbff]$/.test(key.slice(0, cut)) ? key.slice(0, cut + 1) : key.slice(0, cut));
    const slash = key.lastIndexOf('/');
    if (slash > 0) prefixes.add(key.slice(0, slash + 1));
  }
  return prefixes;
}

/** startAfter values for one listing: up to `spread` evenly spread returned positions and just before them, plus arbitrary strings. */
export function startAfterPositions(full: string[], prefix: string, spread: number): string[] {
  const returned = full.map((e) => e.replace(/^prefix:/, ''));
  const step = Math.max(1, Math.ceil(returned.length / spread));
  const sampled = returned.filter((_, i) => i % step === 0 || i === returned.length - 1);
  return sampled.concat(
    sampled.map((k) => Array.from(k).slice(0, -1).join('')),
    ['', '€', '😀', `${prefix}a`],
  );
}
