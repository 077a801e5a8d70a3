/**
 * A bucket's CORS configuration: the rules of a CORSConfiguration document, validated as S3
 * does, and matched as S3 does: the first rule whose AllowedOrigin matches the Origin (one `*`
 * wildcard at most), whose AllowedMethod holds the method, and (for a preflight) whose
 * AllowedHeader patterns cover every header in Access-Control-Request-Headers, case-insensitively.
 */
import { s3Error } from '../errors';
import { assertChildrenIn, childText as rawChildText, childrenNamed, type XmlElement as XmlNode } from '../request-xml';
import { parseRequestXml as parseXmlTree } from '../xml';

/** The trimmed text of the one child `name` (request-xml.ts childText). */
const childText = (node: XmlNode, name: string): string | undefined => rawChildText(node, name)?.trim();
import type { XmlObject } from '../xml';

const CORS_METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'] as const;
export type CorsMethod = (typeof CORS_METHODS)[number];

export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: CorsMethod[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

/** S3 keeps at most 100 rules per bucket. */
const MAX_RULES = 100;

function parseRule(node: XmlNode): CorsRule {
  assertChildrenIn(node, ['ID', 'AllowedOrigin', 'AllowedMethod', 'AllowedHeader', 'ExposeHeader', 'MaxAgeSeconds']);
  const texts = (name: string) => childrenNamed(node, name).map((c) => c.text.trim());
  const allowedOrigins = texts('AllowedOrigin');
  const allowedMethods = texts('AllowedMethod');
  if (allowedOrigins.length === 0 || allowedMethods.length === 0) throw s3Error('MalformedXML', 'Each CORSRule needs at least one AllowedOrigin and one AllowedMethod.');
  for (const method of allowedMethods) {
    if (!(CORS_METHODS as readonly string[]).includes(method)) throw s3Error('InvalidRequest', `Found unsupported HTTP method in CORS config. Unsupported method is ${method}`);
  }
  for (const origin of allowedOrigins) {
    if (origin.split('*').length > 2) throw s3Error('InvalidRequest', `AllowedOrigin "${origin}" can not have more than one wildcard.`);
  }
  const allowedHeaders = texts('AllowedHeader');
  for (const h of allowedHeaders) {
    if (h.split('*').length > 2) throw s3Error('InvalidRequest', `AllowedHeader "${h}" can not have more than one wildcard.`);
  }
  const maxAge = childText(node, 'MaxAgeSeconds');
  if (maxAge !== undefined && !/^\d{1,9}$/.test(maxAge)) throw s3Error('MalformedXML', 'MaxAgeSeconds must be a whole number.');
  const id = childText(node, 'ID');
  if (id !== undefined && id.length > 255) throw s3Error('InvalidArgument', 'A CORSRule ID may be at most 255 characters.');
  return {
    ...(id !== undefined ? { id } : {}),
    allowedOrigins,
    allowedMethods: allowedMethods as CorsMethod[],
    allowedHeaders,
    exposeHeaders: texts('ExposeHeader'),
    ...(maxAge !== undefined ? { maxAgeSeconds: Number(maxAge) } : {}),
  };
}

/** Parses a CORSConfiguration body (PutBucketCors). */
export function parseCorsXml(body: Buffer | string): CorsRule[] {
  const root = parseXmlTree(body, 'CORSConfiguration');
  assertChildrenIn(root, ['CORSRule']);
  const rules = childrenNamed(root, 'CORSRule').map(parseRule);
  if (rules.length === 0) throw s3Error('MalformedXML', 'A CORSConfiguration needs at least one CORSRule.');
  if (rules.length > MAX_RULES) throw s3Error('InvalidRequest', `A CORS configuration may hold at most ${MAX_RULES} rules.`);
  return rules;
}

/** The body of a CORSConfiguration document (GetBucketCors). */
export function corsXml(rules: readonly CorsRule[]): XmlObject {
  return {
    CORSRule: rules.map((r) => ({
      ID: r.id,
      AllowedHeader: r.allowedHeaders,
      AllowedMethod: r.allowedMethods,
      AllowedOrigin: r.allowedOrigins,
      ExposeHeader: r.exposeHeaders,
      MaxAgeSeconds: r.maxAgeSeconds,
    })),
  };
}

/** Rules as stored (JSON), checked again on the way in: a damaged document means no rules. */
export function rulesFromStored(value: unknown): CorsRule[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
  const ok = value.every(
    (r) =>
      typeof r === 'object' &&
      r !== null &&
      strings(r.allowedOrigins) &&
      strings(r.allowedMethods) &&
      strings(r.allowedHeaders) &&
      strings(r.exposeHeaders) &&
      (r.maxAgeSeconds === undefined || typeof r.maxAgeSeconds === 'number'),
  );
  return ok ? (value as CorsRule[]) : undefined;
}

/** `pattern` with at most one `*` against `value`. */
function wildcardMatch(pattern: string, value: string): boolean {
  const star = pattern.indexOf('*');
  if (star === -1) return pattern === value;
  const head = pattern.slice(0, star);
  const tail = pattern.slice(star + 1);
  return value.length >= head.length + tail.length && value.startsWith(head) && value.endsWith(tail);
}

/** The first rule that allows `origin` to use `method` with `requestHeaders` (lower-cased names). */
export function matchRule(rules: readonly CorsRule[], origin: string, method: string, requestHeaders: readonly string[] = []): CorsRule | undefined {
  return rules.find(
    (rule) =>
      rule.allowedOrigins.some((o) => wildcardMatch(o, origin)) &&
      (rule.allowedMethods as readonly string[]).includes(method) &&
      requestHeaders.every((h) => rule.allowedHeaders.some((p) => wildcardMatch(p.toLowerCase(), h))),
  );
}

const VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';

/**
 * The Access-Control-* headers of a response to `origin` under `rule`, as flat name/value pairs.
 * `requestHeaders` (a preflight's) are echoed in Access-Control-Allow-Headers.
 */
export function corsHeaders(rule: CorsRule, origin: string, requestHeaders?: readonly string[]): string[] {
  const anyOrigin = rule.allowedOrigins.includes('*');
  const out = ['access-control-allow-origin', anyOrigin ? '*' : origin, 'access-control-allow-methods', rule.allowedMethods.join(', ')];
  if (requestHeaders && requestHeaders.length > 0) out.push('access-control-allow-headers', requestHeaders.join(', '));
  if (rule.exposeHeaders.length > 0) out.push('access-control-expose-headers', rule.exposeHeaders.join(', '));
  if (rule.maxAgeSeconds !== undefined) out.push('access-control-max-age', String(rule.maxAgeSeconds));
  if (!anyOrigin) out.push('access-control-allow-credentials', 'true');
  out.push('vary', VARY);
  return out;
}

/** Access-Control-Request-Headers as lower-cased names. */
export function requestedHeaders(value: string | string[] | undefined): string[] {
  const text = Array.isArray(value) ? value.join(',') : value;
  if (!text) return [];
  return text
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
}
