/**
 * The ACL a write asks for with `x-amz-acl` or `x-amz-grant-*` (PutObject, CopyObject,
 * CreateMultipartUpload, CreateBucket, a POST upload's `acl` field), in its stored form. A write
 * without them stores no ACL: the object is private to its writer and the bucket's grants, as in
 * S3. With ACLs turned off (server.acls: false), only the owner-only canned ACLs (private,
 * bucket-owner-full-control) are accepted, and nothing is stored.
 */
import type { Bucket } from '../../mounts/bucket-registry';
import type { S3Context } from '../context';
import { principal } from '../context';
import { s3Error } from '../errors';
import { OWNER_ONLY_CANNED, aclFromHeaders, encodeAcl, hasAclHeaders, type AccessControlList } from './access-control-list';

type Headers = Record<string, string | string[] | undefined>;

export const aclsNotSupported = () => s3Error('AccessControlListNotSupported');

/** Refuses ACL headers a gateway with ACLs turned off cannot honour; true when an ACL is to be built. */
function aclHeadersApply(headers: Headers, aclsEnabled: boolean): boolean {
  if (!hasAclHeaders(headers)) return false;
  if (aclsEnabled) return true;
  const canned = headers['x-amz-acl'];
  if (typeof canned === 'string' && OWNER_ONLY_CANNED.has(canned.trim())) return false;
  throw aclsNotSupported();
}

/** The owner of `bucket` when its ACL records one (bucket-owner-* canned ACLs grant to it). */
async function bucketOwner(ctx: S3Context, bucket: Bucket): Promise<string | undefined> {
  return (await ctx.services.settings.get(bucket)).acl?.owner;
}

/** The ACL a write of an object into `bucket` asks for, encoded; undefined when none. */
export async function objectAclOfRequest(ctx: S3Context, bucket: Bucket, headers: Headers = ctx.request.headers): Promise<string | undefined> {
  if (!aclHeadersApply(headers, ctx.services.config.server.acls)) return undefined;
  const acl = aclFromHeaders(headers, principal(ctx.auth), await bucketOwner(ctx, bucket), ctx.services.isKnownKey);
  return acl && encodeAcl(acl);
}

/** The ACL a CreateBucket asks for (private when it asks for none): the creator owns the bucket. */
export function bucketAclOfRequest(ctx: S3Context): AccessControlList | undefined {
  const owner = principal(ctx.auth);
  if (!aclHeadersApply(ctx.request.headers, ctx.services.config.server.acls)) return undefined;
  return aclFromHeaders(ctx.request.headers, owner, owner, ctx.services.isKnownKey);
}
