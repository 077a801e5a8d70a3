/**
 * Non-ASCII text in HTTP headers, the way S3 handles user metadata: a value the client sent as
 * raw UTF-8 bytes (Node hands them over as latin1 characters, one per byte) or as an RFC 2047
 * encoded word (=?UTF-8?B?...?=, =?UTF-8?Q?...?=) is stored as the text it stands for; a stored
 * value that is not US-ASCII goes back out as an RFC 2047 encoded word, which is mail- and
 * header-safe, as S3 returns it.
 */

const NON_ASCII = /[^\x00-\x7f]/;
const ENCODED_WORD = /^=\?([^?]+)\?([bBqQ])\?([^?]*)\?=$/;

/** The text a request header carried (UTF-8 bytes decoded, an RFC 2047 encoded word decoded). */
export function headerText(raw: string): string {
  const word = ENCODED_WORD.exec(raw.trim());
  if (word && /^utf-?8$/i.test(word[1])) {
    const payload = word[3];
    const bytes = /b/i.test(word[2])
      ? Buffer.from(payload, 'base64')
      : Buffer.from(payload.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
    return bytes.toString('utf8');
  }
  return NON_ASCII.test(raw) ? Buffer.from(raw, 'latin1').toString('utf8') : raw;
}

/** A stored text as a response header value: as it is when US-ASCII, else an RFC 2047 encoded word. */
export function headerValueOf(text: string): string {
  return NON_ASCII.test(text) ? `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=` : text;
}
