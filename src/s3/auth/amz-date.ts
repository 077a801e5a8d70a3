/** The ISO 8601 basic timestamps of SigV4 ('20260101T000000Z') and the HTTP Date fallback. */

const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Parses '20260101T123456Z'; undefined when malformed or not a real calendar time. */
export function parseAmzDate(value: string): Date | undefined {
  const m = AMZ_DATE.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Rejects 20260231T000000Z and the like, which Date.UTC would roll over.
  return formatAmzDate(date) === value ? date : undefined;
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
