/**
 * Headers whose meaning Ringcache cannot honour. Ignoring them would be worse than refusing:
 * SSE-C data would be stored in plaintext and readable without the key; object-lock
 * retention would not hold; tags would vanish.
 */
import type { IncomingHttpHeaders } from 'node:http';

const UNSUPPORTED_HEADERS = [
  'x-amz-server-side-encryption',
  'x-amz-server-side-encryption-customer-algorithm',
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-copy-source-server-side-encryption-customer-algorithm',
  'x-amz-object-lock-mode',
  'x-amz-object-lock-retain-until-date',
  'x-amz-object-lock-legal-hold',
  'x-amz-tagging',
];

/** The first such header the request carries, if any. */
export function unsupportedHeader(headers: IncomingHttpHeaders): string | undefined {
  for (const name of UNSUPPORTED_HEADERS) if (headers[name] !== undefined) return name;
  return undefined;
}
