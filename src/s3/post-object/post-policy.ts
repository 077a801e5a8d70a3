/**
 * The POST policy of a browser form upload: a base64 JSON document with an `expiration` and
 * `conditions`, each an exact match (`{"acl": "public-read"}` or `["eq", "$acl", "public-read"]`),
 * a prefix (`["starts-with", "$key", "user/eric/"]`, "" for anything) or the size of the file
 * (`["content-length-range", min, max]`). Every form field but the exempt ones (the signature,
 * the policy itself, the file, x-ignore-*) must be covered by a condition. Field names compare
 * case-insensitively; the key is checked after ${filename} is expanded.
 *
 * Errors as S3 gives them: an unreadable policy 400 InvalidPolicyDocument; an expired one, a
 * failed condition or an uncovered field 403 AccessDenied ("Invalid according to Policy: ...").
 */
import { s3Error } from '../errors';

type Condition =
  | { kind: 'eq'; field: string; value: string; text: string }
  | { kind: 'starts-with'; field: string; value: string; text: string }
  | { kind: 'content-length-range'; min: number; max: number };

interface PostPolicy {
  expiration: Date;
  conditions: Condition[];
}

const invalid = (why: string) => s3Error('InvalidPolicyDocument', `Invalid Policy: ${why}`);
const denied = (why: string) => s3Error('AccessDenied', `Invalid according to Policy: ${why}`);

const fieldName = (value: unknown): string => {
  if (typeof value !== 'string' || !value.startsWith('$') || value.length < 2) throw invalid(`Invalid condition field name ${JSON.stringify(value)}.`);
  return value.slice(1).toLowerCase();
};

/** A condition as S3 quotes it in its error message: ["starts-with", "$key", "user/"]. */
const quoted = (items: unknown[]): string => `[${items.map((i) => JSON.stringify(i)).join(', ')}]`;

function parseCondition(raw: unknown): Condition {
  const text = Array.isArray(raw) ? quoted(raw) : JSON.stringify(raw);
  if (Array.isArray(raw)) {
    const [op, a, b] = raw as unknown[];
    const name = typeof op === 'string' ? op.toLowerCase() : op;
    if (name === 'content-length-range') {
      const min = Number(a);
      const max = Number(b);
      if (raw.length !== 3 || !Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 0 || max < min) throw invalid(`Invalid content-length-range condition ${text}.`);
      return { kind: 'content-length-range', min, max };
    }
    if ((name === 'eq' || name === 'starts-with') && raw.length === 3 && typeof b === 'string') return { kind: name, field: fieldName(a), value: b, text };
    throw invalid(`Invalid condition ${text}.`);
  }
  if (raw !== null && typeof raw === 'object') {
    const entries = Object.entries(raw);
    if (entries.length !== 1 || typeof entries[0][1] !== 'string') throw invalid(`Invalid simple condition ${text}.`);
    return { kind: 'eq', field: entries[0][0].toLowerCase(), value: entries[0][1], text: quoted(['eq', `$${entries[0][0]}`, entries[0][1]]) };
  }
  throw invalid(`Invalid condition ${text}.`);
}

/** Decodes and parses the base64 `policy` form field. */
export function parsePolicy(base64: string): PostPolicy {
  if (!/^[A-Za-z0-9+/=\s]+$/.test(base64)) throw invalid('Invalid Policy: Invalid Base64 encoding.');
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(base64, 'base64').toString('utf8'));
  } catch {
    throw invalid('Invalid JSON.');
  }
  const { expiration, conditions } = (doc ?? {}) as { expiration?: unknown; conditions?: unknown };
  if (typeof expiration !== 'string') throw invalid('Policy missing expiration.');
  const expires = new Date(expiration);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(expiration) || Number.isNaN(expires.getTime())) throw invalid(`Invalid expiration ${JSON.stringify(expiration)}.`);
  if (!Array.isArray(conditions)) throw invalid('Policy missing conditions.');
  return { expiration: expires, conditions: conditions.map(parseCondition) };
}

/** Fields no condition needs to cover. */
const EXEMPT = new Set(['policy', 'x-amz-signature', 'signature', 'awsaccesskeyid', 'file']);

/**
 * Checks the form against the policy. `fields` are the form fields before the file (names
 * lower-cased), `key` the object key after ${filename} expansion, `bucket` the bucket's name.
 * Returns the content-length-range to enforce on the file (undefined: none).
 */
export function checkPolicy(policy: PostPolicy, fields: ReadonlyMap<string, string>, key: string, bucket: string, now: Date): { min: number; max: number } | undefined {
  if (now.getTime() > policy.expiration.getTime()) throw denied('Policy expired.');
  const valueOf = (field: string): string | undefined => (field === 'key' ? key : field === 'bucket' ? (fields.get('bucket') ?? bucket) : fields.get(field));
  const covered = new Set<string>();
  let range: { min: number; max: number } | undefined;
  for (const condition of policy.conditions) {
    if (condition.kind === 'content-length-range') {
      range = { min: condition.min, max: condition.max };
      continue;
    }
    covered.add(condition.field);
    const value = valueOf(condition.field) ?? '';
    const ok = condition.kind === 'eq' ? value === condition.value : value.startsWith(condition.value);
    if (!ok) throw denied(`Policy Condition failed: ${condition.text}`);
  }
  if (fields.has('bucket') && fields.get('bucket') !== bucket) throw denied('Policy Condition failed: the bucket field does not name this bucket');
  const extra = [...fields.keys()].filter((name) => !EXEMPT.has(name) && !name.startsWith('x-ignore-') && !covered.has(name));
  if (extra.length > 0) throw denied(`Extra input fields: ${extra.join(', ')}`);
  return range;
}
