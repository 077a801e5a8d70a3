/**
 * x-amz-copy-source: "bucket/key" or "/bucket/key", URL-encoded, optionally "?versionId=null".
 * Resolves the source bucket, checks the caller may read it, and evaluates the
 * x-amz-copy-source-if-* conditions.
 *
 * In a cluster the copy runs on the destination's owner, which is often not the source's:
 * writes to the source invalidate only its owner's cache, so a node that does not own the
 * source stats and reads it past its cache (the store itself), never an old version.
 */
import { Readable } from 'node:stream';
import type { ByteRange, ObjectInfo } from '../../../ufs-adapters/types';
import type { Cluster } from '../../cluster/cluster';
import { authorize } from '../authorize';
import { GRANTED, lookedUp, requesterOf, type Access } from '../acl/acl-access';
import { checkCopySourceConditions } from '../conditions';
import { header, type S3Context } from '../context';
import { s3Error } from '../errors';
import type { Bucket } from '../../mounts/bucket-registry';
import { readerFor } from '../object-reader';

interface CopySource {
  bucket: Bucket;
  key: string;
  /** The source as stat'ed (the copy-source conditions held for it). */
  info: ObjectInfo;
  /** The bytes of `range` (default: all) of that version, as a stream. */
  openStream(range: ByteRange | undefined, signal: AbortSignal): Promise<Readable>;
}

/** Whether another node owns `bucket/key` (so this node's cached view of it may be old). */
function ownedElsewhere(cluster: Cluster | undefined, bucket: string, key: string): boolean {
  if (!cluster) return false;
  const owner = cluster.node.owners(bucket, key, 1)[0];
  return owner?.id !== cluster.node.self.id;
}

function parseCopySource(value: string): { bucket: string; key: string } {
  const [path, query] = value.split('?', 2);
  if (query !== undefined) {
    const versionId = new URLSearchParams(query).get('versionId');
    if (versionId !== null && versionId !== 'null') throw s3Error('NoSuchVersion');
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(path.startsWith('/') ? path.slice(1) : path);
  } catch (err) {
    throw s3Error('InvalidArgument', 'Invalid copy source encoding', err);
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) throw s3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey');
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}

export async function resolveCopySource(ctx: S3Context): Promise<CopySource> {
  const raw = header(ctx.request, 'x-amz-copy-source');
  if (raw === undefined) throw s3Error('InvalidArgument', 'Copy Source must be specified');
  const { bucket: bucketName, key } = parseCopySource(raw);
  const bucket = await ctx.services.buckets.get(bucketName);
  // The grants on the source bucket, or else (with ACLs on) READ in the source object's ACL.
  let access: Access = GRANTED;
  try {
    authorize(ctx.auth, ctx.credential, 'read', bucket, 'GetObject');
  } catch (err) {
    if (!ctx.services.config.server.acls) throw err;
    access = { kind: 'object-acl', permission: 'READ', requester: requesterOf(ctx.auth), canList: false };
  }
  // A source this node does not own is read past its cache: its owner sees the writes, not us.
  const reader = readerFor(bucket, ownedElsewhere(ctx.services.cluster, bucket.name, key) ? { kind: 'uncached', ownersAhead: [] } : { kind: 'owner' });
  const info = await lookedUp(access, () => reader.stat(key, ctx.signal));
  checkCopySourceConditions(
    {
      ifMatch: header(ctx.request, 'x-amz-copy-source-if-match'),
      ifNoneMatch: header(ctx.request, 'x-amz-copy-source-if-none-match'),
      ifModifiedSince: header(ctx.request, 'x-amz-copy-source-if-modified-since'),
      ifUnmodifiedSince: header(ctx.request, 'x-amz-copy-source-if-unmodified-since'),
    },
    info,
  );
  const openStream = async (range: ByteRange | undefined, signal: AbortSignal): Promise<Readable> => {
    if (info.size === 0) return Readable.from([]);
    const body = await reader.open(key, info, range ?? { start: 0, end: info.size - 1 }, signal);
    return Buffer.isBuffer(body) ? Readable.from([body]) : body;
  };
  return { bucket, key, info, openStream };
}
