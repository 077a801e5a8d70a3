/**
 * copy: server-side CopyObject (no byte passes through the gateway), or, for sources above
 * S3's 5 GiB CopyObject limit, a multipart upload assembled with UploadPartCopy.
 * The source is pinned with x-amz-copy-source-if-match to the version whose size we report.
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
import { quoteEtag, throwIfAborted, type S3Context } from './s3-context';
import { metadataFromHead, metadataParams, withRawExpires } from './s3-metadata';
import { headObject, lastModifiedOf } from './s3-read';
import { abortUploadQuietly } from './s3-write';

/** x-amz-copy-source: bucket/key, percent-encoded except "/" (what S3, MinIO and Ceph decode). */
export const copySourceOf = (bucket: string, storeKey: string): string =>
  `${bucket}/${storeKey.split('/').map(encodeURIComponent).join('/')}`;

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
      return Number(source.ContentLength ?? 0) > ctx.config.multipartCopyThreshold
        ? await multipartCopy(ctx, sourceKey, destinationKey, source, request.metadata, signal)
        : await singleCopy(ctx, sourceKey, destinationKey, source, request.metadata, signal);
    } catch (err) {
      // 412 on the copy source: the source changed since the HEAD; take the new version.
      if (isUfsError(err, 'PreconditionFailed') && round < MAX_SOURCE_RACES) continue;
      throw err;
    }
  }
}

/**
 * Copying a key onto itself without new metadata is refused by S3; REPLACE with the
 * source's own metadata is what the caller means (a "touch").
 */
function targetMetadata(
  sourceKey: string,
  destinationKey: string,
  source: HeadObjectCommandOutput,
  metadata: ObjectMetadata | undefined,
): ObjectMetadata | undefined {
  if (metadata) return metadata;
  return sourceKey === destinationKey ? metadataFromHead(source) : undefined;
}

async function singleCopy(
  ctx: S3Context,
  sourceKey: string,
  destinationKey: string,
  source: HeadObjectCommandOutput,
  requested: ObjectMetadata | undefined,
  signal: AbortSignal | undefined,
): Promise<WriteResult> {
  const metadata = targetMetadata(sourceKey, destinationKey, source, requested);
  const command = withRawExpires(
    new CopyObjectCommand({
      Bucket: ctx.bucket,
      Key: destinationKey,
      CopySource: copySourceOf(ctx.bucket, sourceKey),
      CopySourceIfMatch: source.ETag,
      MetadataDirective: metadata ? 'REPLACE' : 'COPY',
      ...(metadata ? metadataParams(metadata) : {}),
    }),
    metadata?.expires,
  );
  const out = await ctx.call('copy object', signal, () => ctx.client.send(command, { abortSignal: signal }));
  const etag = quoteEtag(out.CopyObjectResult?.ETag);
  return {
    etag,
    size: Number(source.ContentLength ?? 0),
    lastModified: out.CopyObjectResult?.LastModified ?? (await lastModifiedOf(ctx, destinationKey, etag)),
  };
}

async function multipartCopy(
  ctx: S3Context,
  sourceKey: string,
  destinationKey: string,
  source: HeadObjectCommandOutput,
  requested: ObjectMetadata | undefined,
  signal: AbortSignal | undefined,
): Promise<WriteResult> {
  const size = Number(source.ContentLength ?? 0);
  // COPY keeps the source's metadata: a new upload only gets what we pass, so pass it.
  const metadata = requested ?? metadataFromHead(source);
  const partSize = Math.max(ctx.config.multipartCopyPartSize, Math.ceil(size / MAX_PART_NUMBER));
  const partCount = Math.max(1, Math.ceil(size / partSize));
  const created = await ctx.call('copy object', signal, () =>
    ctx.client.send(
      withRawExpires(new CreateMultipartUploadCommand({ Bucket: ctx.bucket, Key: destinationKey, ...metadataParams(metadata) }), metadata.expires),
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
        const out = await ctx.call(`copy part ${n}`, opSignal, () =>
          ctx.client.send(
            new UploadPartCopyCommand({
              Bucket: ctx.bucket,
              Key: destinationKey,
              UploadId: uploadId,
              PartNumber: n,
              CopySource: copySourceOf(ctx.bucket, sourceKey),
              CopySourceIfMatch: source.ETag,
              CopySourceRange: `bytes=${start}-${end}`,
            }),
            { abortSignal: opSignal },
          ),
        );
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
    const out = await ctx.call('copy object', signal, () =>
      ctx.client.send(
        new CompleteMultipartUploadCommand({ Bucket: ctx.bucket, Key: destinationKey, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
        { abortSignal: signal },
      ),
    );
    const etag = quoteEtag(out.ETag);
    return { etag, size, lastModified: await lastModifiedOf(ctx, destinationKey, etag) };
  } catch (err) {
    await abortUploadQuietly(ctx, destinationKey, uploadId);
    throw err;
  }
}
