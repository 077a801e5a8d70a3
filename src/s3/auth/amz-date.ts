/** The ISO 8601 basic timestamps of SigV4 ('20260101T000000Z') and the HTTP Date fallback. */

import { memoLast } from '../../util/memo-last';

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/**
 * Parses '20260101T123456Z'; undefined when malformed or not a real calendar time. The Date is
 * shared by the requests that carry the same text: do not change it.
 */
export const parseAmzDate = memoLast(parseAmzDateText);

function parseAmzDateText(value: string): Date | undefined {
  const m = AMZ_DATE.exec(value);
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const s = Number(m[6]);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Rejects 20260231T000000Z and the like, which Date.UTC would roll over.
  const real = date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && date.getUTCHours() === h && date.getUTCMinutes() === mi && date.getUTCSeconds() === s;
  return real ? date : undefined;
}

/** Formats a Date as '20260101T123456Z' (milliseconds dropped). */
export function formatAmzDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/** Parses an HTTP Date header (RFC 7231 IMF-fixdate and the obsolete forms Date.parse knows). */
export function parseHttpDate(value: string): Date | undefined {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}
