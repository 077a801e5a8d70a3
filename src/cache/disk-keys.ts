/** Key limits of the disk tier's LMDB environment. */

/** LMDB's key size limit with 4 KiB pages (lmdb-js: maxKeySize 1978), less a margin for key encoding. */
export const LMDB_MAX_KEY_BYTES = 1978 - 8;

/** Whether `key` can be an LMDB key (lmdb-js would throw on a longer or empty one). */
export function keyFits(key: string): boolean {
  return key.length > 0 && (key.length <= LMDB_MAX_KEY_BYTES / 3 || Buffer.byteLength(key, 'utf8') <= LMDB_MAX_KEY_BYTES);
}
