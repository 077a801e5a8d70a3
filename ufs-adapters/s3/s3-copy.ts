/**
 * copy: server-side CopyObject (no byte passes through the gateway), or, for sources above
 * S3's 5 GiB CopyObject limit, a multipart upload assembled with UploadPartCopy.
 * The source is pinned with x-amz-copy-source-if-match to the version whose size we report,
 * sent also under its legacy name x-amz-copy-if-match: Ceph RGW 16 (Pacific) honours only
 * that one and silently copies whatever version is current otherwise.
 */
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { isUfsError, ufsError, type UfsError } from '../errors';
import { MAX_PART_NUMBER, type CopyRequest, type ObjectMetadata, type WriteResult } from '../types';
import { quoteEtag, sameEtag, type S3Context } from './s3-context';
import { throwIfAborted } from '../shared/abort';
import { metadataFromHead, metadataParams, partSizesFromHead, withHeader, withRawExpires } from './s3-metadata';
import { copyDestinationMetadata } from '../object-metadata';
import { committedVersion, headObject, knownEtag } from './s3-read';
import { abortUploadQuietly } from './s3-write';

/** x-amz-copy-source: bucket/key, percent-encoded except "/" (what S3, MinIO and Ceph decode). */
const copySourceOf = (bucket: string, storeKey: string): string =>
  `${bucket}/${storeKey.split('/').map(encodeURIComponent).join('/')}`;

/** CopySourceIfMatch for `etag`, sent under both names (see the header comment). */
function pinnedToSource<C>(command: C, etag: string | undefined): C {
  return withHeader(command, 'x-amz-copy-if-match', etag);
}

/** A source replaced between our HEAD and the copy is looked up again, a few times. */
const MAX_SOURCE_RACES = 3;

export async function copyObject(ctx: S3Context, request: CopyRequest): Promise<WriteResult> {
  const sourceKey = ctx.storeKey(request.sourceKey);
  const destinationKey = ctx.storeKey(request.destinationKey);
  const { signal } = request;
  for (let round = 1; ; round++) {
    throwIfAborted(signal, 'copy object');
    const source = await headObject(ctx, sourceKey, signal);
    try {
      return await copyVersion(ctx, sourceKey, destinationKey, source, request.metadata, signal);
    } catch (err) {
      // 412 on the copy source: the source changed since the HEAD; take the new version.
      if (isUfsError(err, 'PreconditionFailed') && round < MAX_SOURCE_RACES) continue;
      throw err;
    }
  }
}

/** Copies the version `source` (a HEAD of `sourceKey`) with CopyObject, or UploadPartCopy above the threshold. */
export function copyVersion(
  ctx: S3Context,
  sourceKey: string,
  destinationKey: string,
  source: HeadObjectCommandOutput,
  metadata: ObjectMetadata | undefined,
  signal: AbortSignal | undefined,
  partSizes: readonly number[] | undefined = sourcePartSizes(source),
): Promise<WriteResult> {
  return Number(source.ContentLength ?? 0) > ctx.config.multipartCopyThreshold
    ? multipartCopy(ctx, sourceKey, destinationKey, source, metadata, signal, partSizes)
    : singleCopy(ctx, sourceKey, destinationKey, source, metadata, signal, partSizes);
}

/**
 * Copying a key onto itself without new metadata is refused by S3; REPLACE with the
 * source's own metadata is what the caller means (a "touch"). REPLACE keeps the source's
 * checksums (and part checksums) unless it names its own, as every adapter does.
 */
function targetMetadata(
  sourceKey: string,
  destinationKey: string,
  source: HeadObjectCommandOutput,
  metadata: ObjectMetadata | undefined,
): ObjectMetadata | undefined {
  if (metadata) return copyDestinationMetadata({ sourceKey, destinationKey, metadata }, metadataFromHead(source));
  return sourceKey === destinationKey ? metadataFromHead(source) : undefined;
}

/** The source's part sizes (kept by the adapter in its metadata) go with REPLACE too: the bytes are the same. */
const sourcePartSizes = (source: HeadObjectCommandOutput): number[] | undefined => partSizesFromHead(source, Number(source.ContentLength ?? 0));

async function singleCopy(
  ctx: S3Context,
  sourceKey: string,
  destinationKey: string,
  source: HeadObjectCommandOutput,
  requested: ObjectMetadata | undefined,
  signal: AbortSignal | undefined,
  partSizes: readonly number[] | undefined,
): Promise<WriteResult> {
  const metadata = targetMetadata(sourceKey, destinationKey, source, requested);
  const copy = new CopyObjectCommand({
    Bucket: ctx.bucket,
    Key: destinationKey,
    CopySource: copySourceOf(ctx.bucket, sourceKey),
    CopySourceIfMatch: source.ETag,
    MetadataDirective: metadata ? 'REPLACE' : 'COPY',
    ...(metadata ? metadataParams(metadata, partSizes) : {}),
  });
  const command = pinnedToSource(withRawExpires(copy, metadata?.expires), source.ETag);
  const out = await ctx.call('copy object', signal, () => ctx.client.send(command, { abortSignal: signal }));
  const answered = out.CopyObjectResult?.ETag;
  const size = Number(source.ContentLength ?? 0);
  if (knownEtag(answered) && out.CopyObjectResult?.LastModified) {
    return { etag: quoteEtag(answered), size, lastModified: out.CopyObjectResult.LastModified };
  }
  return { size, ...(await committedVersion(ctx, destinationKey, answered, signal)) };
}

async function multipartCopy(
  ctx: S3Context,
  sourceKey: string,
  destinationKey: string,
  source: HeadObjectCommandOutput,
  requested: ObjectMetadata | undefined,
  signal: AbortSignal | undefined,
  partSizes: readonly number[] | undefined,
): Promise<WriteResult> {
  const size = Number(source.ContentLength ?? 0);
  // COPY keeps the source's metadata: a new upload only gets what we pass, so pass it.
  const metadata = targetMetadata(sourceKey, destinationKey, source, requested) ?? metadataFromHead(source);
  const partSize = Math.max(ctx.config.multipartCopyPartSize, Math.ceil(size / MAX_PART_NUMBER));
  const partCount = Math.max(1, Math.ceil(size / partSize));
  const created = await ctx.call('copy object', signal, () =>
    ctx.client.send(
      withRawExpires(new CreateMultipartUploadCommand({ Bucket: ctx.bucket, Key: destinationKey, ...metadataParams(metadata, partSizes) }), metadata.expires),
      { abortSignal: signal },
    ),
  );
  const uploadId = created.UploadId;
  if (!uploadId) throw ufsError('Unavailable', 'copy object: the object store returned no upload id');

  const internal = new AbortController();
  const opSignal = signal ? AbortSignal.any([signal, internal.signal]) : internal.signal;
  const parts: CompletedPart[] = [];
  let failure: UfsError | undefined;
  let nextPart = 1;
  const worker = async (): Promise<void> => {
    while (!failure && nextPart <= partCount) {
      const n = nextPart++;
      const start = (n - 1) * partSize;
      const end = Math.min(size, start + partSize) - 1;
      try {
        const command = new UploadPartCopyCommand({
          Bucket: ctx.bucket,
          Key: destinationKey,
          UploadId: uploadId,
          PartNumber: n,
          CopySource: copySourceOf(ctx.bucket, sourceKey),
          CopySourceIfMatch: source.ETag,
          CopySourceRange: `bytes=${start}-${end}`,
        });
        const out = await ctx.call(`copy part ${n}`, opSignal, () => ctx.client.send(pinnedToSource(command, source.ETag), { abortSignal: opSignal }));
        parts[n - 1] = { PartNumber: n, ETag: out.CopyPartResult?.ETag };
      } catch (err) {
        failure ??= err as UfsError;
        internal.abort();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(ctx.config.queueSize, partCount) }, worker));
    if (failure) throw failure;
    // Stores that ignore the pin on UploadPartCopy (Ceph RGW 16 honours neither header there)
    // would copy ranges of another version: the source must still be the version pinned.
    const after = await headObject(ctx, sourceKey, signal);
    if (!sameEtag(after.ETag, source.ETag)) throw ufsError('PreconditionFailed', 'copy object: the source changed during the copy');
    const out = await ctx.call('copy object', signal, () =>
      ctx.client.send(
        new CompleteMultipartUploadCommand({ Bucket: ctx.bucket, Key: destinationKey, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
        { abortSignal: signal },
      ),
    );
    return { size, ...(await committedVersion(ctx, destinationKey, out.ETag, signal)) };
  } catch (err) {
    await abortUploadQuietly(ctx, destinationKey, uploadId);
    throw err;
  }
}
