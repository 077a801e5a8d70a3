/** Reading node IncomingHttpHeaders-style header records. */
import type { AuthInput } from './types';

export type HeaderRecord = AuthInput['headers'];

/**
 * One header as a single string: repeated values (an array) are joined with ',' as SigV4 wants for
 * canonical headers. Undefined when absent. `host` falls back to HTTP/2's `:authority`.
 */
export function headerValue(headers: HeaderRecord, name: string): string | undefined {
  const v = headers[name] ?? (name === 'host' ? headers[':authority'] : undefined);
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.map((s) => s.trim()).join(',') : v;
}
