/**
 * Grants: an access key may read or write the buckets its `grants` name ("*" for all);
 * "write" includes "read". Anonymous requests may only read buckets mounted with
 * anonymousRead.
 */
import type { Credential } from '../config/schema';
import type { AuthResult } from './auth';
import { ANONYMOUS_OPERATIONS, type RequiredAccess, type S3Operation } from './endpoint';
import { s3Error } from './errors';

/**
 * The access `credential` has to `bucket`. Grants are looked up as own properties only: a bucket
 * named "constructor" or "__proto__" must not resolve through Object.prototype.
 */
export function accessLevel(credential: Credential | undefined, bucket: string): 'none' | 'read' | 'write' {
  if (!credential) return 'none';
  const { grants } = credential;
  if (Object.hasOwn(grants, bucket)) return grants[bucket];
  if (Object.hasOwn(grants, '*')) return grants['*'];
  return 'none';
}

export function authorize(
  auth: AuthResult,
  credential: Credential | undefined,
  required: RequiredAccess,
  bucket: { name: string; anonymousRead: boolean } | undefined,
  op?: S3Operation,
): void {
  if (required === 'none') return;
  if (auth.kind === 'anonymous') {
    if (required === 'read' && bucket?.anonymousRead && op !== undefined && ANONYMOUS_OPERATIONS.has(op)) return;
    throw s3Error('AccessDenied');
  }
  if (required === 'authenticated' || !bucket) return;
  const level = accessLevel(credential, bucket.name);
  if (level === 'write' || (level === 'read' && required === 'read')) return;
  throw s3Error('AccessDenied');
}
