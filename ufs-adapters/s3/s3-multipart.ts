/**
 * Client multipart uploads, mapped one to one onto the store's multipart uploads (the upload
 * id is the store's). Completion is native: no part byte passes through the gateway again.
 * Parts are sent by s3-part-upload.ts; what S3 cannot give back (the metadata given at
 * creation, part checksums) is remembered by s3-upload-memory.ts.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  type ListMultipartUploadsCommandOutput,
  type ListPartsCommandOutput,
} from '@aws-sdk/client-s3';
import { isUfsError, ufsError } from '../errors';
import { MIN_PART_SIZE, type CompletedPart, type MultipartUpload, type ObjectMetadata, type PartInfo, type WriteResult } from '../types';
import { decodeListedKey, quoteEtag, sameEtag, stripQuotes, type S3Context } from './s3-context';
import { throwIfAborted } from '../shared/abort';
import { metadataParams, withRawExpires } from './s3-metadata';
import { removeStaleTempParts } from './s3-part-upload';
import { committedVersion } from './s3-read';
import { assertUploadId, uploadCall } from './s3-upload-calls';
import { partChecksumsOf, type MultipartContext } from './s3-upload-memory';
import { attachCompletionMetadata } from './s3-completion-metadata';

export async function createUpload(ctx: MultipartContext, key: string, metadata: ObjectMetadata, signal?: AbortSignal): Promise<MultipartUpload> {
  const storeKey = ctx.storeKey(key);
  const command = withRawExpires(new CreateMultipartUploadCommand({ Bucket: ctx.bucket, Key: storeKey, ...metadataParams(metadata) }), metadata.expires);
  const out = await ctx.call('create multipart upload', signal, () => ctx.client.send(command, { abortSignal: signal }));
  if (!out.UploadId) throw ufsError('Unavailable', 'create multipart upload: the object store returned no upload id');
  const initiated = new Date();
  ctx.uploads.set(out.UploadId, { key, initiated, metadata: { ...metadata, userMetadata: { ...metadata.userMetadata } } });
  return { uploadId: out.UploadId, key, initiated };
}

/** One page of ListParts; NoSuchUpload for a missing upload (or one of another key). */
function listPartsPage(
  ctx: S3Context,
  storeKey: string,
  uploadId: string,
  marker: string | undefined,
  signal: AbortSignal | undefined,
  maxParts?: number,
): Promise<ListPartsCommandOutput> {
  return uploadCall(ctx, 'list parts', signal, () =>
    ctx.client.send(new ListPartsCommand({ Bucket: ctx.bucket, Key: storeKey, UploadId: uploadId, PartNumberMarker: marker, MaxParts: maxParts }), {
      abortSignal: signal,
    }),
  );
}

export async function listParts(ctx: MultipartContext, key: string, uploadId: string, signal?: AbortSignal): Promise<PartInfo[]> {
  assertUploadId(uploadId);
  const storeKey = ctx.storeKey(key);
  const parts: PartInfo[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await listPartsPage(ctx, storeKey, uploadId, marker, signal);
    for (const part of page.Parts ?? []) {
      if (part.PartNumber === undefined) continue;
      const etag = quoteEtag(part.ETag);
      const checksums = partChecksumsOf(ctx, uploadId, key, part.PartNumber, etag);
      parts.push({
        partNumber: part.PartNumber,
        etag,
        size: Number(part.Size ?? 0),
        lastModified: part.LastModified ?? new Date(0),
        ...(checksums ? { checksums } : {}),
      });
    }
    const next = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    if (next === undefined || next === marker) break;
    marker = next;
  }
  return parts.sort((a, b) => a.partNumber - b.partNumber);
}

/**
 * S3's checks, in S3's order (InvalidPartOrder, InvalidPart, EntityTooSmall), made here on
 * the listed parts too, so every S3-compatible store reports the same errors; the store
 * still checks again at completion.
 */
function validateParts(requested: CompletedPart[], stored: PartInfo[]): number[] {
  if (requested.length === 0) throw ufsError('InvalidPartOrder', 'the part list must not be empty');
  requested.forEach((part, i) => {
    if (i > 0 && part.partNumber <= requested[i - 1].partNumber) {
      throw ufsError('InvalidPartOrder', 'the part list must be in strictly ascending part number order');
    }
  });
  const byNumber = new Map(stored.map((part) => [part.partNumber, part]));
  const sizes = requested.map((part) => {
    const found = byNumber.get(part.partNumber);
    if (!found || !sameEtag(found.etag, String(part.etag))) {
      throw ufsError('InvalidPart', `part ${part.partNumber} was not found or its ETag does not match`);
    }
    return found.size;
  });
  sizes.forEach((size, i) => {
    if (i < sizes.length - 1 && size < MIN_PART_SIZE) {
      throw ufsError('EntityTooSmall', `part ${requested[i].partNumber} is smaller than the minimum part size`);
    }
  });
  return sizes;
}

export async function completeUpload(
  ctx: MultipartContext,
  key: string,
  uploadId: string,
  parts: CompletedPart[],
  signal?: AbortSignal,
  late?: Partial<ObjectMetadata>,
): Promise<WriteResult> {
  assertUploadId(uploadId);
  const storeKey = ctx.storeKey(key);
  throwIfAborted(signal, 'complete multipart upload');
  const partSizes = validateParts(parts, await listParts(ctx, key, uploadId, signal));
  const size = partSizes.reduce((sum, n) => sum + n, 0);
  const out = await uploadCall(ctx, 'complete multipart upload', signal, () =>
    ctx.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: ctx.bucket,
        Key: storeKey,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.map((part) => ({ PartNumber: part.partNumber, ETag: quoteEtag(stripQuotes(String(part.etag))) })) },
      }),
      { abortSignal: signal },
    ),
  );
  ctx.uploads.delete(uploadId);
  const completed = { size, ...(await committedVersion(ctx, storeKey, out.ETag, signal)) };
  return attachCompletionMetadata(ctx, storeKey, completed, late, partSizes, signal);
}

export async function abortUpload(ctx: MultipartContext, key: string, uploadId: string, signal?: AbortSignal): Promise<void> {
  assertUploadId(uploadId);
  const storeKey = ctx.storeKey(key);
  await uploadCall(ctx, 'abort multipart upload', signal, () =>
    ctx.client.send(new AbortMultipartUploadCommand({ Bucket: ctx.bucket, Key: storeKey, UploadId: uploadId }), { abortSignal: signal }),
  );
  ctx.uploads.delete(uploadId);
}

/** Uploads in progress under the mount prefix + `prefix`, page by page, in S3's order (key, then initiation). */
export async function* listUploads(ctx: S3Context, prefix: string, signal?: AbortSignal, storePrefixOverride?: string): AsyncGenerator<MultipartUpload> {
  const storePrefix = storePrefixOverride ?? ctx.config.keyPrefix + prefix;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page: ListMultipartUploadsCommandOutput = await ctx.call('list multipart uploads', signal, () =>
      ctx.client.send(
        new ListMultipartUploadsCommand({
          Bucket: ctx.bucket,
          Prefix: storePrefix || undefined,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
          MaxUploads: 1000,
          EncodingType: 'url',
        }),
        { abortSignal: signal },
      ),
    );
    for (const upload of page.Uploads ?? []) {
      if (upload.Key === undefined || !upload.UploadId) continue;
      const key = ctx.gatewayKey(decodeListedKey(upload.Key, page.EncodingType));
      if (key === undefined || key === '') continue;
      yield { uploadId: upload.UploadId, key, initiated: upload.Initiated ?? new Date(0) };
    }
    if (!page.IsTruncated) break;
    const nextKey = page.NextKeyMarker !== undefined ? decodeListedKey(page.NextKeyMarker, page.EncodingType) : undefined;
    const nextId = page.NextUploadIdMarker;
    if (nextKey === undefined || (nextKey === keyMarker && nextId === uploadIdMarker)) break;
    keyMarker = nextKey;
    uploadIdMarker = nextId;
  }
}

/**
 * Checks that the upload exists (ListParts, one part) and returns the metadata given at
 * creation when this process remembers it. Otherwise (another gateway instance created it,
 * or this one restarted) S3 offers no way to read it back: the metadata is empty, but the
 * store still applies what was given at creation when the upload completes.
 */
export async function getUpload(
  ctx: MultipartContext,
  key: string,
  uploadId: string,
  signal?: AbortSignal,
): Promise<MultipartUpload & { metadata: ObjectMetadata }> {
  assertUploadId(uploadId);
  const storeKey = ctx.storeKey(key);
  await listPartsPage(ctx, storeKey, uploadId, undefined, signal, 1);
  const known = ctx.uploads.get(uploadId);
  if (known && known.key === key) {
    return { uploadId, key, initiated: known.initiated, metadata: { ...known.metadata, userMetadata: { ...known.metadata.userMetadata } } };
  }
  let initiated = new Date(0);
  // The uploads of exactly this key come first among those with this prefix.
  for await (const upload of listUploads(ctx, '', signal, storeKey)) {
    if (upload.key !== key) break;
    if (upload.uploadId === uploadId) {
      initiated = upload.initiated;
      break;
    }
  }
  return { uploadId, key, initiated, metadata: { userMetadata: {} } };
}

/**
 * Removes temp part files older than `olderThanMs` (left by a crash) and aborts uploads under
 * the mount prefix initiated more than `olderThanMs` ago. Returns how many were removed.
 */
export async function cleanupAbandoned(ctx: MultipartContext, olderThanMs: number, signal?: AbortSignal): Promise<number> {
  const cutoff = Date.now() - olderThanMs;
  let removed = await removeStaleTempParts(ctx, cutoff);
  const stale: MultipartUpload[] = [];
  for await (const upload of listUploads(ctx, '', signal)) {
    if (upload.initiated.getTime() < cutoff) stale.push(upload);
  }
  for (const upload of stale) {
    try {
      await abortUpload(ctx, upload.key, upload.uploadId, signal);
      removed++;
    } catch (err) {
      if (!isUfsError(err, 'NoSuchUpload')) throw err;
    }
  }
  return removed;
}
