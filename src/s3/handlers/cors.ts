/**
 * GetBucketCors, PutBucketCors, DeleteBucketCors, and the OPTIONS preflight of a bucket or an
 * object, answered from the bucket's rules (cors/cors-rules.ts) as S3 answers it: 200 with the
 * Access-Control-* headers of the first matching rule; 403 AccessForbidden when no rule matches
 * or the bucket has none; 400 BadRequest without Origin or Access-Control-Request-Method.
 */
import { corsHeaders, corsXml, matchRule, parseCorsXml, requestedHeaders } from '../cors/cors-rules';
import { header, sendXml, type EndpointOf, type S3Context } from '../context';
import { s3Error } from '../errors';
import { readSmallBody } from '../upload-body';

const MAX_CORS_BODY = 64 * 1024;

export async function handleGetBucketCors(ctx: S3Context<EndpointOf<'GetBucketCors'>>): Promise<void> {
  const rules = (await ctx.services.settings.get(ctx.bucket)).cors;
  if (!rules) throw s3Error('NoSuchCORSConfiguration');
  await sendXml(ctx, 'CORSConfiguration', corsXml(rules));
}

export async function handlePutBucketCors(ctx: S3Context<EndpointOf<'PutBucketCors'>>): Promise<void> {
  const body = await readSmallBody(ctx.request, ctx.auth, ctx.services, 'PutBucketCors', MAX_CORS_BODY);
  await ctx.services.settings.putCors(ctx.bucket, parseCorsXml(body), ctx.signal);
  await ctx.reply.send();
}

export async function handleDeleteBucketCors(ctx: S3Context<EndpointOf<'DeleteBucketCors'>>): Promise<void> {
  await ctx.services.settings.putCors(ctx.bucket, undefined, ctx.signal);
  await ctx.reply.code(204).send();
}

export async function handleOptionsObject(ctx: S3Context<EndpointOf<'OptionsObject'>>): Promise<void> {
  const origin = header(ctx.request, 'origin');
  const method = header(ctx.request, 'access-control-request-method');
  if (origin === undefined) throw s3Error('BadRequest', 'Insufficient information. Origin request header needed.');
  if (method === undefined) throw s3Error('BadRequest', 'Invalid Access-Control-Request-Method: null');
  const rules = (await ctx.services.settings.get(ctx.bucket)).cors;
  if (!rules) throw s3Error('AccessForbidden', 'CORSResponse: CORS is not enabled for this bucket.');
  const requested = requestedHeaders(ctx.request.headers['access-control-request-headers']);
  const rule = matchRule(rules, origin, method.trim(), requested);
  if (!rule) throw s3Error('AccessForbidden');
  const pairs = corsHeaders(rule, origin, requested);
  for (let i = 0; i < pairs.length; i += 2) ctx.reply.header(pairs[i], pairs[i + 1]);
  await ctx.reply.send();
}
