/**
 * S3 lists keys in UTF-8 byte order. JavaScript's `<` compares UTF-16 code units, which
 * differs for characters outside the Basic Multilingual Plane (e.g. '😀' vs 'ﬀ').
 */

const isSurrogate = (unit: number): boolean => unit >= 0xd800 && unit <= 0xdfff;

/**
 * Compares two well-formed strings in UTF-8 byte order (the same as Unicode code point
 * order) without encoding them. Returns a negative number, zero or a positive number.
 */
export function compareUtf8(a: string, b: string): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xAstral = isSurrogate(x);
    // A surrogate encodes a code point >= U+10000, above every BMP character; two
    // surrogates at the same position compare like the code points they encode.
    if (xAstral !== isSurrogate(y)) return xAstral ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** True when `key` sorts strictly after `startAfter` (or there is no `startAfter`). */
export const isAfter = (key: string, startAfter: string | undefined): boolean =>
  startAfter === undefined || compareUtf8(key, startAfter) > 0;

export const utf8Length = (text: string): number => Buffer.byteLength(text, 'utf8');
