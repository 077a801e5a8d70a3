/**
 * Bucket settings (the bucket's ACL, its CORS rules) as small JSON objects in the store, under a
 * folder of the mount's prefix that is the adapter's own:
 *   <prefix>.ringcache-settings/<name>.json
 * Every node that mounts the bucket reads the same objects. The folder is hidden from listings
 * and no key may lie in it (InvalidKey).
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { isUfsError, ufsError } from '../errors';
import type { BucketSettingName } from '../types';
import { SETTINGS_FOLDER, type S3Context } from './s3-context';

const storeKeyOf = (ctx: S3Context, name: BucketSettingName): string => `${ctx.config.keyPrefix}${SETTINGS_FOLDER}${name}.json`;

export async function getBucketSetting(ctx: S3Context, name: BucketSettingName, signal?: AbortSignal): Promise<unknown> {
  let text: string;
  try {
    text = await ctx.call('read bucket settings', signal, async () => {
      const out = await ctx.client.send(new GetObjectCommand({ Bucket: ctx.bucket, Key: storeKeyOf(ctx, name) }), { abortSignal: signal });
      return (await out.Body?.transformToString('utf8')) ?? '';
    });
  } catch (err) {
    if (isUfsError(err, 'NotFound')) return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw ufsError('Unavailable', 'read bucket settings: the stored document is not JSON', err);
  }
}

export async function putBucketSetting(ctx: S3Context, name: BucketSettingName, value: unknown, signal?: AbortSignal): Promise<void> {
  const Key = storeKeyOf(ctx, name);
  if (value === undefined) {
    await ctx.call('delete bucket settings', signal, () => ctx.client.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key }), { abortSignal: signal }));
    return;
  }
  const Body = Buffer.from(JSON.stringify(value), 'utf8');
  await ctx.call('write bucket settings', signal, () =>
    ctx.client.send(new PutObjectCommand({ Bucket: ctx.bucket, Key, Body, ContentLength: Body.length, ContentType: 'application/json' }), { abortSignal: signal }),
  );
}
