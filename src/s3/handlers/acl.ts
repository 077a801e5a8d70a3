/**
 * GetBucketAcl, PutBucketAcl, GetObjectAcl, PutObjectAcl. A bucket's ACL lives in its settings
 * (bucket-settings.ts), an object's with its metadata (written back with a metadata-only copy
 * of the object onto itself: a sidecar rewrite on local stores, a server-side copy on object
 * stores). A PUT takes a canned ACL or x-amz-grant-* headers, or an AccessControlPolicy body,
 * not both. Without a stored ACL the answer is the owner's FULL_CONTROL.
 */
import type { ObjectInfo, ObjectMetadata } from '../../../ufs-adapters/types';
import { hasAclHeaders, aclFromHeaders, defaultAcl, encodeAcl, OWNER_ONLY_CANNED, type AccessControlList } from '../acl/access-control-list';
import { lookedUp, objectAclOf } from '../acl/acl-access';
import { aclXml, parseAclXml } from '../acl/acl-xml';
import { aclsNotSupported } from '../acl/request-acl';
import { principal, sendXml, type EndpointOf, type S3Context } from '../context';
import { s3Error } from '../errors';
import { readerFor } from '../object-reader';
import { writing } from '../object-writes';
import { readSmallBody } from '../upload-body';

const MAX_ACL_BODY = 64 * 1024;

async function sendAcl(ctx: S3Context, acl: AccessControlList): Promise<void> {
  await sendXml(ctx, 'AccessControlPolicy', aclXml(acl));
}

export async function handleGetBucketAcl(ctx: S3Context<EndpointOf<'GetBucketAcl'>>): Promise<void> {
  const stored = (await ctx.services.settings.get(ctx.bucket)).acl;
  const owner = stored?.owner ?? principal(ctx.auth);
  await sendAcl(ctx, ctx.services.config.server.acls && stored ? stored : defaultAcl(owner));
}

export async function handleGetObjectAcl(ctx: S3Context<EndpointOf<'GetObjectAcl'>>): Promise<void> {
  const info = await lookedUp(ctx.access, () => readerFor(ctx.bucket, ctx.placement).stat(ctx.endpoint.key, ctx.signal));
  const stored = objectAclOf(info);
  const owner = stored?.owner ?? principal(ctx.auth);
  await sendAcl(ctx, ctx.services.config.server.acls && stored ? stored : defaultAcl(owner));
}

const isBlank = (body: Buffer | string): boolean => (typeof body === 'string' ? body : body.toString('latin1')).trim() === '';

/**
 * The ACL a PutBucketAcl / PutObjectAcl asks for, owned by `owner`. With ACLs off, only an ACL
 * that grants nothing beyond the owner is accepted (returned as undefined: nothing to store).
 */
async function requestedAcl(ctx: S3Context, owner: string): Promise<AccessControlList | undefined> {
  const { request, services } = ctx;
  const body = await readSmallBody(request, ctx.auth, services, ctx.endpoint.op, MAX_ACL_BODY);
  const headers = hasAclHeaders(request.headers);
  if (headers && !isBlank(body)) throw s3Error('UnexpectedContent', 'This request does not support content when ACL headers are given');
  if (!headers && isBlank(body)) throw s3Error('MissingSecurityHeader', 'Your request was missing a required header: x-amz-acl, an x-amz-grant-* header, or an AccessControlPolicy body');
  const acl = headers ? aclFromHeaders(request.headers, owner, owner, services.isKnownKey) : parseAclXml(body, owner, services.isKnownKey);
  if (services.config.server.acls) return acl;
  const canned = request.headers['x-amz-acl'];
  const ownerOnly = headers ? typeof canned === 'string' && OWNER_ONLY_CANNED.has(canned.trim()) : acl?.grants.every((g) => g.grantee.kind === 'user' && g.grantee.id === owner);
  if (!ownerOnly) throw aclsNotSupported();
  return undefined;
}

export async function handlePutBucketAcl(ctx: S3Context<EndpointOf<'PutBucketAcl'>>): Promise<void> {
  const stored = (await ctx.services.settings.get(ctx.bucket)).acl;
  const acl = await requestedAcl(ctx, stored?.owner ?? principal(ctx.auth));
  if (acl) await ctx.services.settings.putAcl(ctx.bucket, acl, ctx.signal);
  await ctx.reply.send();
}

/** The client metadata of an object (what a copy onto itself must keep). */
function metadataOf(info: ObjectInfo): ObjectMetadata {
  const { key: _key, size: _size, etag: _etag, lastModified: _lm, partSizes: _ps, ...metadata } = info;
  return metadata;
}

export async function handlePutObjectAcl(ctx: S3Context<EndpointOf<'PutObjectAcl'>>): Promise<void> {
  const { endpoint, bucket, signal } = ctx;
  const info = await lookedUp(ctx.access, () => bucket.store.stat(endpoint.key, signal));
  const acl = await requestedAcl(ctx, objectAclOf(info)?.owner ?? principal(ctx.auth));
  if (acl) {
    const metadata = { ...metadataOf(info), acl: encodeAcl(acl) };
    await writing(bucket, endpoint.key, (store) => store.copy({ sourceKey: endpoint.key, destinationKey: endpoint.key, metadata, signal }));
  }
  await ctx.reply.send();
}
