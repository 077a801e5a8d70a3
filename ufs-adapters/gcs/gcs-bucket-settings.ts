/**
 * Bucket settings (the bucket's ACL, its CORS rules) as small JSON objects in the adapter's own
 * folder below the mount prefix, `<prefix>.ringcache-settings/<name>.json` (hidden from listings,
 * never a key), so every node reads the same ones.
 */
import { ufsError } from '../errors';
import type { BucketSettingName } from '../types';
import type { GcsContext } from './gcs-context';
import { httpStatusOf, mapGcsError } from './gcs-errors';
import { throwIfAborted } from '../shared/abort';
import { downloadHandle } from './gcs-read';

export async function getBucketSetting(ctx: GcsContext, name: BucketSettingName, signal?: AbortSignal): Promise<unknown> {
  throwIfAborted(signal);
  let data: Buffer;
  try {
    [data] = await downloadHandle(ctx, ctx.names.setting(name)).download({ validation: false });
  } catch (err) {
    if (httpStatusOf(err) === 404) return undefined;
    throw mapGcsError(err, 'read bucket settings');
  }
  try {
    return JSON.parse(data.toString('utf8')) as unknown;
  } catch (err) {
    throw ufsError('Unavailable', 'read bucket settings: the stored document is not JSON', err);
  }
}

export async function putBucketSetting(ctx: GcsContext, name: BucketSettingName, value: unknown, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  const file = ctx.bucket.file(ctx.names.setting(name));
  try {
    if (value === undefined) await file.delete({ ignoreNotFound: true });
    else await file.save(Buffer.from(JSON.stringify(value), 'utf8'), { resumable: false, validation: false, metadata: { contentType: 'application/json' } });
  } catch (err) {
    throw mapGcsError(err, 'write bucket settings');
  }
}
