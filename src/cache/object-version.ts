/**
 * Identity of one version of one object, which pages and metadata are keyed by.
 * The fingerprint is ETag + size + mtime: stores without content ETags (POSIX files,
 * HDFS) still change fingerprint when a file changes.
 */
import { createHash } from 'node:crypto';
import type { ObjectInfo } from '../../ufs-adapters/types';
import type { SerializedObjectInfo } from './types';

const fingerprintOf = (info: Pick<ObjectInfo, 'etag' | 'size' | 'lastModified'>): string =>
  `${info.etag}|${info.size}|${info.lastModified.getTime()}`;

/**
 * 32 base64url characters (192 bits) of sha256(mountId, key, fingerprint, pageSize). The page
 * size is part of the identity: page i of an object cut in 256 KiB pages is not page i of the
 * same object cut in 64 KiB pages (a restart with another cache.pageSize, a hand-off between
 * nodes configured differently).
 */
export function objectIdOf(mountId: string, key: string, info: Pick<ObjectInfo, 'etag' | 'size' | 'lastModified'>, pageSize: number): string {
  return createHash('sha256')
    .update(mountId)
    .update('\n')
    .update(key)
    .update('\n')
    .update(fingerprintOf(info))
    .update('\n')
    .update(String(pageSize))
    .digest('base64url')
    .slice(0, 32);
}

/** A short stable id of a mount, the prefix of its metadata keys (so a purge is a range delete). */
export const mountTagOf = (mountId: string): string => createHash('sha256').update(mountId).digest('hex').slice(0, 16);

export const metaKeyOf = (mountTag: string, key: string): string => `${mountTag}:${key}`;

export function serializeInfo(info: ObjectInfo): SerializedObjectInfo {
  const { lastModified, ...rest } = info;
  const out: SerializedObjectInfo = { ...rest, lastModifiedMs: lastModified.getTime() } as SerializedObjectInfo;
  for (const k of Object.keys(out) as (keyof SerializedObjectInfo)[]) if (out[k] === undefined) delete out[k];
  return out;
}

export function deserializeInfo(s: SerializedObjectInfo): ObjectInfo {
  const { lastModifiedMs, ...rest } = s;
  return { ...rest, lastModified: new Date(lastModifiedMs) } as ObjectInfo;
}
