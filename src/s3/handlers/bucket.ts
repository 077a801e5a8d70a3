/**
 * Service and bucket operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket,
 * GetBucketLocation, and the answers common tools expect from an unversioned bucket
 * without ACLs or tags (GetBucketVersioning, GetBucketAcl, GetObjectAcl, tagging).
 */
import { accessLevel } from '../authorize';
import { principal, sendXml, type EndpointOf, type S3Context } from '../context';
import { s3Error } from '../errors';
import { readSmallBody } from '../upload-body';
import { ownerXml, parseRequestXml, xmlDate } from '../xml';
import { assertChildrenIn } from '../request-xml';
import { readerFor } from '../object-reader';

export async function handleListBuckets(ctx: S3Context<EndpointOf<'ListBuckets'>>): Promise<void> {
  const buckets = (await ctx.services.buckets.list()).filter(
    (b) => accessLevel(ctx.credential, b.name) !== 'none' || (ctx.auth.kind === 'anonymous' && b.anonymousRead),
  );
  await sendXml(ctx, 'ListAllMyBucketsResult', {
    Owner: ownerXml(principal(ctx.auth)),
    Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: xmlDate(b.createdAt) })) },
  });
}

export async function handleCreateBucket(ctx: S3Context<EndpointOf<'CreateBucket'>>): Promise<void> {
  const body = await readSmallBody(ctx.request, ctx.auth, ctx.services, 'CreateBucket', 64 * 1024);
  if (body.toString('latin1').trim() !== '') {
    const doc = parseRequestXml(body, 'CreateBucketConfiguration');
    assertChildrenIn(doc, ['LocationConstraint', 'Location', 'Bucket']);
  }
  await ctx.services.buckets.create(ctx.endpoint.bucket);
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

export async function handleGetAcl(ctx: S3Context<EndpointOf<'GetBucketAcl' | 'GetObjectAcl'>>): Promise<void> {
  if (ctx.endpoint.op === 'GetObjectAcl') await readerFor(ctx.bucket, ctx.placement).stat(ctx.endpoint.key, ctx.signal);
  const owner = ownerXml(principal(ctx.auth));
  await sendXml(ctx, 'AccessControlPolicy', {
    Owner: owner,
    AccessControlList: {
      Grant: {
        Grantee: { '@_xmlns:xsi': 'http://www.w3.org/2001/XMLSchema-instance', '@_xsi:type': 'CanonicalUser', ...owner },
        Permission: 'FULL_CONTROL',
      },
    },
  });
}

export async function handleGetBucketTagging(ctx: S3Context<EndpointOf<'GetBucketTagging'>>): Promise<void> {
  throw s3Error('NoSuchTagSet');
}

export async function handleGetObjectTagging(ctx: S3Context<EndpointOf<'GetObjectTagging'>>): Promise<void> {
  await readerFor(ctx.bucket, ctx.placement).stat(ctx.endpoint.key, ctx.signal);
  await sendXml(ctx, 'Tagging', { TagSet: {} });
}
