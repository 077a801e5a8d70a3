/**
 * Client multipart uploads, mapped one to one onto the store's multipart uploads (the upload
 * id is the store's). Completion is native: no part byte passes through the gateway again.
 *
 * UploadPart needs a Content-Length and the gateway hands parts over as streams of unknown
 * length (up to 5 GiB), so each part is first spooled to a temp file (MD5 on the way), then
 * uploaded from that file with Content-Length and Content-MD5. The SDK does not retry
 * stream bodies, so these uploads are retried here, each attempt with a fresh file stream.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
  type ListMultipartUploadsCommandOutput,
  type ListPartsCommandOutput,
  type UploadPartCommandOutput,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { LRUCache } from 'lru-cache';
import { isUfsError, ufsError } from '../errors';
import {
  MAX_PART_NUMBER,
  MIN_PART_SIZE,
  type ChecksumMap,
  type CompletedPart,
  type MultipartUpload,
  type ObjectMetadata,
  type PartInfo,
  type UploadPartRequest,
  type WriteResult,
} from '../types';
import { decodeListedKey, quoteEtag, sameEtag, stripQuotes, throwIfAborted, type S3Context } from './s3-context';
import { describeSdkError, isAbortLike } from './s3-errors';
import { metadataParams, withRawExpires } from './s3-metadata';
import { committedVersion, knownEtag } from './s3-read';

export const TEMP_PART_PREFIX = 'part-';

interface KnownUpload {
  key: string;
  initiated: Date;
  metadata: ObjectMetadata;
  /**
   * The checksums `beforeCommit` gave for each part, with the ETag of the part they describe
   * (a part uploaded again by another gateway replaces it in the store, not here).
   */
  parts?: Map<number, { etag: string; checksums: ChecksumMap }>;
}

/**
 * Metadata given at CreateMultipartUpload, and the parts' checksums, by upload id. S3 keeps both
 * with the upload but has no API to read the metadata back, and S3-compatible stores such as Ceph
 * RGW before 19 ignore checksum headers, so they are remembered here (bounded; lost on restart,
 * see README).
 */
export const createUploadMemory = () => new LRUCache<string, KnownUpload>({ max: 10_000, ttl: 7 * 24 * 3600_000 });
export type UploadMemory = ReturnType<typeof createUploadMemory>;

export interface MultipartContext extends S3Context {
  readonly uploads: UploadMemory;
}

function assertPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw ufsError('InvalidPart', `part numbers must be integers from 1 to ${MAX_PART_NUMBER}`);
  }
}

/** Empty or missing upload ids never reach the store (an empty one would address the object). */
function assertUploadId(uploadId: string): void {
  if (typeof uploadId !== 'string' || uploadId === '') throw ufsError('NoSuchUpload', 'the multipart upload does not exist');
}

/**
 * Runs an SDK call scoped to one upload (UploadPart, ListParts, Complete, Abort). A 404 from
 * such a call means the upload is gone, whatever code the store gives it: Ceph RGW answers
 * NoSuchKey for an aborted or unknown upload, S3 NoSuchUpload.
 */
async function uploadCall<T>(ctx: S3Context, action: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await ctx.call(action, signal, fn);
  } catch (err) {
    if (isUfsError(err, 'NotFound')) throw ufsError('NoSuchUpload', `${action}: the multipart upload does not exist`, err.cause);
    throw err;
  }
}

export async function createUpload(ctx: MultipartContext, key: string, metadata: ObjectMetadata, signal?: AbortSignal): Promise<MultipartUpload> {
  const storeKey = ctx.storeKey(key);
  const command = withRawExpires(new CreateMultipartUploadCommand({ Bucket: ctx.bucket, Key: storeKey, ...metadataParams(metadata) }), metadata.expires);
  const out = await ctx.call('create multipart upload', signal, () => ctx.client.send(command, { abortSignal: signal }));
  if (!out.UploadId) throw ufsError('Unavailable', 'create multipart upload: the object store returned no upload id');
  const initiated = new Date();
  ctx.uploads.set(out.UploadId, { key, initiated, metadata: { ...metadata, userMetadata: { ...metadata.userMetadata } } });
  return { uploadId: out.UploadId, key, initiated };
}

interface SpooledPart {
  path: string;
  size: number;
  md5: Buffer;
}

/**
 * Streams `body` into a new temp file. Body errors are rethrown unchanged (the S3 layer
 * raises BadDigest inside it), aborts become Aborted, file errors Unavailable.
 */
async function spoolBody(ctx: S3Context, body: Readable, signal: AbortSignal | undefined): Promise<SpooledPart> {
  try {
    await mkdir(ctx.config.tmpDir, { recursive: true });
  } catch (err) {
    throw ufsError('Unavailable', 'upload part: cannot create the temp directory', err);
  }
  const file = path.join(ctx.config.tmpDir, `${TEMP_PART_PREFIX}${randomBytes(12).toString('hex')}`);
  const hash = createHash('md5');
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  const sink = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  // Whichever side fails first is the cause: pipeline then destroys the other side with the
  // same error, so the error object alone cannot tell a body error from a disk error.
  let firstFailure: 'body' | 'sink' | undefined;
  const onBodyError = () => (firstFailure ??= 'body');
  body.once('error', onBodyError);
  sink.once('error', () => (firstFailure ??= 'sink'));
  try {
    await pipeline(body, counter, sink, { signal });
    return { path: file, size, md5: hash.digest() };
  } catch (err) {
    await rm(file, { force: true }).catch(() => undefined);
    if (signal?.aborted) throw ufsError('Aborted', 'upload part: aborted', signal.reason ?? err);
    if (firstFailure === 'sink') throw ufsError('Unavailable', 'upload part: cannot write the temp file', err);
    if (isUfsError(err)) throw err;
    const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
    if (isAbortLike(err) || code === 'ERR_STREAM_PREMATURE_CLOSE') throw ufsError('Aborted', 'upload part: the body ended early', err);
    throw err;
  } finally {
    body.removeListener('error', onBodyError);
  }
}

/**
 * Sends one UploadPart from `file`, retrying like the SDK's standard mode (exponential
 * backoff with full jitter, longer for throttling) with a fresh file stream per attempt:
 * the SDK itself never retries a request whose body is a stream.
 */
async function sendPartFromFile(
  ctx: S3Context,
  action: string,
  file: string,
  signal: AbortSignal | undefined,
  command: (body: ReadStream) => UploadPartCommand,
): Promise<UploadPartCommandOutput> {
  for (let attempt = 1; ; attempt++) {
    const stream = createReadStream(file);
    try {
      return await uploadCall(ctx, action, signal, () => ctx.client.send(command(stream), { abortSignal: signal }));
    } catch (err) {
      if (attempt >= ctx.config.maxAttempts || !isRetryable(err)) throw err;
      const base = isUfsError(err, 'Throttled') ? 500 : 100;
      try {
        await sleep(Math.floor(Math.random() * Math.min(20_000, base * 2 ** attempt)), undefined, { signal });
      } catch (abort) {
        throw ufsError('Aborted', `${action}: aborted`, abort);
      }
    } finally {
      stream.destroy();
    }
  }
}

/** Throttling, 5xx, 408 and network errors are worth another attempt; other 4xx are not. */
function isRetryable(err: unknown): boolean {
  if (isUfsError(err, 'Throttled')) return true;
  if (!isUfsError(err, 'Unavailable')) return false;
  const { status, code } = describeSdkError(err.cause);
  if (code === 'NoSuchBucket') return false;
  return status === undefined || status >= 500 || status === 408;
}

export async function uploadPart(ctx: MultipartContext, request: UploadPartRequest): Promise<PartInfo> {
  assertPartNumber(request.partNumber);
  assertUploadId(request.uploadId);
  const storeKey = ctx.storeKey(request.key);
  const { signal } = request;
  throwIfAborted(signal, 'upload part');
  const spooled = await spoolBody(ctx, request.body, signal);
  try {
    const late = await request.beforeCommit?.();
    const checksums = late?.checksums && Object.keys(late.checksums).length > 0 ? { ...late.checksums } : undefined;
    throwIfAborted(signal, 'upload part');
    const out = await sendPartFromFile(ctx, `upload part ${request.partNumber}`, spooled.path, signal, (body) =>
      new UploadPartCommand({
        Bucket: ctx.bucket,
        Key: storeKey,
        UploadId: request.uploadId,
        PartNumber: request.partNumber,
        Body: body,
        ContentLength: spooled.size,
        ContentMD5: spooled.md5.toString('base64'),
      }),
    );
    const etag = quoteEtag(knownEtag(out.ETag) ? out.ETag : spooled.md5.toString('hex'));
    if (checksums) rememberPartChecksums(ctx, request.uploadId, request.key, request.partNumber, etag, checksums);
    return { partNumber: request.partNumber, etag, size: spooled.size, lastModified: new Date(), ...(checksums ? { checksums } : {}) };
  } finally {
    await rm(spooled.path, { force: true }).catch(() => undefined);
  }
}

function rememberPartChecksums(ctx: MultipartContext, uploadId: string, key: string, partNumber: number, etag: string, checksums: ChecksumMap): void {
  const known = ctx.uploads.get(uploadId);
  if (!known || known.key !== key) return; // created by another gateway or before a restart: nowhere to keep them
  (known.parts ??= new Map()).set(partNumber, { etag, checksums });
}

/** The checksums remembered for a listed part, if they describe the part the store has. */
function partChecksumsOf(ctx: MultipartContext, uploadId: string, key: string, partNumber: number, etag: string): ChecksumMap | undefined {
  const known = ctx.uploads.get(uploadId);
  const part = known && known.key === key ? known.parts?.get(partNumber) : undefined;
  return part && sameEtag(part.etag, etag) ? { ...part.checksums } : undefined;
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
function validateParts(requested: CompletedPart[], stored: PartInfo[]): number {
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
  return sizes.reduce((sum, size) => sum + size, 0);
}

export async function completeUpload(
  ctx: MultipartContext,
  key: string,
  uploadId: string,
  parts: CompletedPart[],
  signal?: AbortSignal,
): Promise<WriteResult> {
  assertUploadId(uploadId);
  const storeKey = ctx.storeKey(key);
  throwIfAborted(signal, 'complete multipart upload');
  const size = validateParts(parts, await listParts(ctx, key, uploadId, signal));
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
  return { size, ...(await committedVersion(ctx, storeKey, out.ETag, signal)) };
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
  let removed = 0;
  let names: string[] = [];
  try {
    names = await readdir(ctx.config.tmpDir);
  } catch {
    names = [];
  }
  for (const name of names) {
    if (!name.startsWith(TEMP_PART_PREFIX)) continue;
    const file = path.join(ctx.config.tmpDir, name);
    try {
      if ((await stat(file)).mtimeMs < cutoff) {
        await rm(file, { force: true });
        removed++;
      }
    } catch {
      // raced with its owner: fine
    }
  }
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
