/**
 * Service and bucket operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket,
 * GetBucketLocation, and the answers common tools expect from an unversioned bucket
 * without tags (GetBucketVersioning, tagging). ACLs: handlers/acl.ts.
 */
import { accessLevel } from '../authorize';
import { principal, sendXml, type EndpointOf, type S3Context } from '../context';
import { s3Error } from '../errors';
import { isBucketError } from '../../mounts/bucket-errors';
import { readSmallBody } from '../upload-body';
import { ownerXml, parseRequestXml, xmlDate } from '../xml';
import { assertChildrenIn } from '../request-xml';
import { defaultAcl } from '../acl/access-control-list';
import { readerFor } from '../object-reader';
import { lookedUp } from '../acl/acl-access';
import { bucketAclOfRequest } from '../acl/request-acl';

/** ListBuckets' max-buckets: 1 to 10000 (no limit when absent). */
function maxBuckets(value: string | undefined): number {
  if (value === undefined) return Infinity;
  const n = /^[0-9]{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= 10000)) throw s3Error('InvalidArgument', 'max-buckets must be an integer between 1 and 10000');
  return n;
}

/** The continuation token of ListBuckets: the last bucket name of the previous page, opaque to clients. */
const tokenOf = (name: string): string => Buffer.from(`after:${name}`, 'utf8').toString('base64url');
function afterToken(token: string | undefined): string {
  if (token === undefined) return '';
  const text = Buffer.from(token, 'base64url').toString('utf8');
  if (!text.startsWith('after:')) throw s3Error('InvalidArgument', 'The continuation token provided is incorrect');
  return text.slice('after:'.length);
}

export async function handleListBuckets(ctx: S3Context<EndpointOf<'ListBuckets'>>): Promise<void> {
  const { query } = ctx.endpoint;
  const limit = maxBuckets(query.get('max-buckets'));
  const after = afterToken(query.get('continuation-token'));
  const prefix = query.get('prefix') ?? '';
  const region = query.get('bucket-region');
  const visible = (await ctx.services.buckets.list()).filter(
    (b) =>
      (accessLevel(ctx.credential, b.name) !== 'none' || (ctx.auth.kind === 'anonymous' && b.anonymousRead)) &&
      b.name.startsWith(prefix) &&
      b.name > after &&
      (region === undefined || region === ctx.services.config.server.region),
  );
  const page = visible.slice(0, limit);
  await sendXml(ctx, 'ListAllMyBucketsResult', {
    Owner: ownerXml(principal(ctx.auth)),
    Buckets: { Bucket: page.map((b) => ({ Name: b.name, CreationDate: xmlDate(b.createdAt), BucketRegion: ctx.services.config.server.region })) },
    ContinuationToken: visible.length > page.length ? tokenOf(page[page.length - 1].name) : undefined,
    Prefix: query.has('prefix') ? prefix : undefined,
  });
}

export async function handleCreateBucket(ctx: S3Context<EndpointOf<'CreateBucket'>>): Promise<void> {
  const body = await readSmallBody(ctx.request, ctx.auth, ctx.services, 'CreateBucket', 64 * 1024);
  if (body.toString('latin1').trim() !== '') {
    const doc = parseRequestXml(body, 'CreateBucketConfiguration');
    assertChildrenIn(doc, ['LocationConstraint', 'Location', 'Bucket']);
  }
  const acl = bucketAclOfRequest(ctx);
  try {
    await ctx.services.buckets.create(ctx.endpoint.bucket);
  } catch (err) {
    // us-east-1 answers 200 to creating a bucket you already own (and leaves it as it was); other
    // regions answer 409 BucketAlreadyOwnedByYou.
    if (!(isBucketError(err, 'BucketAlreadyOwnedByYou') && ctx.services.config.server.region === 'us-east-1')) throw err;
    // Only a bucket that is there: a file of that name in the data folder is not one (409 stays).
    await ctx.services.buckets.get(ctx.endpoint.bucket).catch(() => {
      throw err;
    });
    await ctx.reply.header('location', `/${ctx.endpoint.bucket}`).send();
    return;
  }
  // The creator owns the new bucket: its ACL records that (and what x-amz-acl / x-amz-grant-* asked).
  const created = await ctx.services.buckets.get(ctx.endpoint.bucket);
  if (acl) await ctx.services.settings.putAcl(created, acl, ctx.signal);
  else await ctx.services.settings.putAcl(created, defaultAcl(principal(ctx.auth)), ctx.signal).catch((err: unknown) => ctx.request.log.warn({ err, op: 'CreateBucket' }, 'could not record the new bucket\'s owner'));
  ctx.reply.header('location', `/${ctx.endpoint.bucket}`);
  await ctx.reply.send();
}

export async function handleDeleteBucket(ctx: S3Context<EndpointOf<'DeleteBucket'>>): Promise<void> {
  await ctx.services.buckets.delete(ctx.endpoint.bucket);
  await ctx.reply.code(204).send();
}

export async function handleHeadBucket(ctx: S3Context<EndpointOf<'HeadBucket'>>): Promise<void> {
  ctx.reply.header('x-amz-bucket-region', ctx.services.config.server.region);
  await ctx.reply.send();
}

export async function handleGetBucketLocation(ctx: S3Context<EndpointOf<'GetBucketLocation'>>): Promise<void> {
  const region = ctx.services.config.server.region;
  // us-east-1 is reported as an empty LocationConstraint, as S3 does.
  await sendXml(ctx, 'LocationConstraint', region === 'us-east-1' ? {} : { '#text': region });
}

export async function handleGetBucketVersioning(ctx: S3Context<EndpointOf<'GetBucketVersioning'>>): Promise<void> {
  await sendXml(ctx, 'VersioningConfiguration', {});
}

export async function handleGetBucketTagging(ctx: S3Context<EndpointOf<'GetBucketTagging'>>): Promise<void> {
  throw s3Error('NoSuchTagSet');
}

export async function handleGetObjectTagging(ctx: S3Context<EndpointOf<'GetObjectTagging'>>): Promise<void> {
  await lookedUp(ctx.access, () => readerFor(ctx.bucket, ctx.placement).stat(ctx.endpoint.key, ctx.signal));
  await sendXml(ctx, 'Tagging', { TagSet: {} });
}
