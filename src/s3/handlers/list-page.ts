/**
 * One page of a listing, pulled lazily from the adapter's sorted entry stream: it stops
 * after max-keys entries (plus one look-ahead to know whether more follow) and closes the
 * iterator, so a prefix with millions of keys costs one page of memory.
 */
import type { ListEntry, UfsAdapter } from '../../../ufs-adapters/types';
import { s3Error } from '../errors';

const DEFAULT_MAX_KEYS = 1000;

export interface ListPage {
  objects: Extract<ListEntry, { kind: 'object' }>[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** Key or common prefix of the last entry on the page: where the next page starts after. */
  last?: string;
}

export function parseMaxKeys(value: string | undefined, name = 'max-keys'): number {
  if (value === undefined) return DEFAULT_MAX_KEYS;
  // Decimal digits within a signed 32-bit integer, as S3 accepts (no "1e3", "0x10", "+5").
  if (!/^\d{1,10}$/.test(value) || Number(value) > 2 ** 31 - 1) throw s3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`);
  return Math.min(Number(value), DEFAULT_MAX_KEYS);
}

export async function collectListPage(
  adapter: UfsAdapter,
  options: { prefix: string; delimiter?: string; startAfter?: string; maxKeys: number; signal?: AbortSignal },
): Promise<ListPage> {
  const page: ListPage = { objects: [], commonPrefixes: [], isTruncated: false };
  if (options.maxKeys === 0) return page;
  const delimiter = options.delimiter === '' ? undefined : options.delimiter;
  let count = 0;
  for await (const entry of adapter.list({ prefix: options.prefix, delimiter, startAfter: options.startAfter, signal: options.signal })) {
    if (count === options.maxKeys) {
      page.isTruncated = true;
      break; // returns the iterator: the adapter stops walking
    }
    if (entry.kind === 'object') {
      page.objects.push(entry);
      page.last = entry.key;
    } else {
      page.commonPrefixes.push(entry.prefix);
      page.last = entry.prefix;
    }
    count++;
  }
  return page;
}

/** Continuation tokens are opaque to clients: the base64url of where the next page starts after. */
export const encodeContinuationToken = (after: string): string => Buffer.from(after, 'utf8').toString('base64url');

export function decodeContinuationToken(token: string): string {
  const after = Buffer.from(token, 'base64url').toString('utf8');
  if (token === '' || encodeContinuationToken(after) !== token) {
    throw s3Error('InvalidArgument', 'The continuation token provided is incorrect');
  }
  return after;
}

/** encoding-type=url: percent-encode like S3 (clients decode with unquote_plus or decodeURIComponent). */
export function urlEncodeKey(value: string): string {
  return encodeURIComponent(value).replace(/%2F/g, '/');
}
