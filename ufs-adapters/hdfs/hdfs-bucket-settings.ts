/**
 * Bucket settings (the bucket's ACL, its CORS rules) as small JSON files in the reserved folder,
 * `<root>/.ringcache/settings/<name>.json`, written to a temp file and renamed over the old one,
 * so every node sees the same documents and never half of one. Never listed, never a key.
 */
import { Readable } from 'node:stream';
import { isUfsError, ufsError } from '../errors';
import type { BucketSettingName } from '../types';
import type { HdfsContext } from './hdfs-context';
import { hdfsError } from './hdfs-errors';
import { throwIfAborted } from '../shared/abort';

const settingPath = (ctx: HdfsContext, name: BucketSettingName): string => `${ctx.layout.reservedDir}/settings/${name}.json`;

export async function getBucketSetting(ctx: HdfsContext, name: BucketSettingName, signal?: AbortSignal): Promise<unknown> {
  throwIfAborted(signal);
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of await ctx.client.open(settingPath(ctx, name), undefined, signal)) chunks.push(Buffer.from(chunk as Uint8Array));
  } catch (err) {
    const mapped = hdfsError(err, 'read bucket settings');
    if (isUfsError(mapped, 'NotFound')) return undefined;
    throw mapped;
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (err) {
    throw ufsError('Unavailable', 'read bucket settings: the stored document is not JSON', err);
  }
}

export async function putBucketSetting(ctx: HdfsContext, name: BucketSettingName, value: unknown, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  const target = settingPath(ctx, name);
  try {
    if (value === undefined) {
      await ctx.client.delete(target, false, signal);
      return;
    }
    const temp = `${ctx.layout.tmpDir}/settings-${name}-${process.pid}-${Date.now()}`;
    await ctx.client.create(temp, Readable.from([Buffer.from(JSON.stringify(value), 'utf8')]), { overwrite: true, createparent: true }, signal);
    await ctx.client.mkdirs(`${ctx.layout.reservedDir}/settings`, signal);
    if ((await ctx.renameMode(signal)) === 'rename2') {
      await ctx.client.rename(temp, target, 'OVERWRITE', signal);
    } else {
      // A NameNode without rename options: readers may miss the document for that instant (none is "no settings").
      await ctx.client.delete(target, false, signal);
      await ctx.client.rename(temp, target, undefined, signal);
    }
  } catch (err) {
    throw hdfsError(err, 'write bucket settings');
  }
}
