/**
 * How a request reads objects, decided by where it is served (its placement) and whether the
 * bucket has a cache on this node:
 *   - the key's owner, with a cache: stats through the metadata cache, bytes through the pages;
 *   - standing in for owners that are away, with a cache: stats ask the store (this node's
 *     metadata may be old: the owner may have changed the object unseen), bytes go through the
 *     page reader, one flight per page, without keeping anything;
 *   - no cache: the store itself.
 * Either way one stat resolves the version and the bytes read are of that version (or the read
 * fails with PreconditionFailed).
 */
import { pipeline } from 'node:stream';
import type { ByteRange, ObjectInfo } from '../../ufs-adapters/types';
import { isUfsError } from '../../ufs-adapters/errors';
import type { Placement } from '../cluster/request-router';
import type { Bucket } from '../mounts/bucket-registry';
import { s3Error } from './errors';
import type { RangeBody } from '../cache/page-reader';
import { SMALL_BODY_BYTES, exactLength, readExactly } from './exact-length';

interface ObjectReader {
  /** The object's info. `firstByte`: where a GET will start reading (lets a miss fetch that page with the metadata). */
  stat(key: string, signal: AbortSignal | undefined, firstByte?: number): Promise<ObjectInfo>;
  /** The bytes of `range` of the version `info` describes; errors before the first byte surface here. */
  open(key: string, info: ObjectInfo, range: ByteRange, signal: AbortSignal | undefined): Promise<RangeBody>;
}

export function readerFor(bucket: Bucket, placement: Placement): ObjectReader {
  const { cache, store } = bucket;
  if (cache && placement.kind === 'owner') {
    return {
      stat: (key, signal, firstByte) => cache.stat(key, { signal, firstByte }),
      open: (key, info, range) => cache.read(key, info, range),
    };
  }
  if (cache) {
    return {
      stat: (key, signal) => store.stat(key, signal),
      open: (key, info, range) => cache.read(key, info, range, false),
    };
  }
  return {
    stat: (key, signal) => store.stat(key, signal),
    open: async (key, info, range, signal): Promise<RangeBody> => {
      const length = range.end - range.start + 1;
      const stream = await store.read(key, range, { signal, ifMatch: info.etag });
      if (length <= SMALL_BODY_BYTES) return readExactly(stream, length);
      // pipeline (not pipe) so a store error mid-body destroys the response instead of hanging it.
      return pipeline(stream, exactLength(length), () => undefined);
    },
  };
}

/** A key the store cannot represent cannot exist in it: reads answer NoSuchKey, as S3 would. */
export async function statForRead(reader: ObjectReader, key: string, signal?: AbortSignal, firstByte?: number): Promise<ObjectInfo> {
  try {
    return await reader.stat(key, signal, firstByte);
  } catch (err) {
    if (isUfsError(err, 'InvalidKey')) throw s3Error('NoSuchKey', undefined, err);
    throw err;
  }
}
