/**
 * write: streams a body of unknown length into S3 with bounded memory.
 *
 * The body is cut into part-sized buffers: one buffer filling while at most `queueSize`
 * parts upload, so a write holds at most (queueSize + 1) x partSize bytes. A body that ends
 * within the first part is one PutObject; anything longer is a multipart upload. Either way
 * the object appears atomically (PutObject / CompleteMultipartUpload), and `beforeCommit`
 * runs after the body ended and before that commit. On any error or abort the multipart
 * upload is aborted, so nothing becomes visible and no parts are left behind.
 *
 * lib-storage's `Upload` is not used because it has no hook between the last part and
 * CompleteMultipartUpload, which `beforeCommit` needs.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { isUfsError, ufsError, type UfsError } from '../errors';
import { MAX_PART_NUMBER, type ObjectMetadata, type WriteRequest, type WriteResult } from '../types';
import { quoteEtag, type S3Context } from './s3-context';
import { throwIfAborted } from '../shared/abort';
import { isAbortLike } from './s3-errors';
import { mergeMetadata, metadataParams, withRawExpires } from './s3-metadata';
import { committedVersion } from './s3-read';

interface BodyPart {
  data: Buffer;
  /** True for the final piece, yielded only once the body has ended successfully. */
  last: boolean;
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk);
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError('the body must yield bytes');
}

/**
 * Cuts `body` into `partSize` buffers. A full buffer is yielded only when the next byte has
 * arrived (so the caller knows whether more follows); the remainder is yielded with
 * `last: true` after the body ended. Small bodies never allocate a whole part.
 */
async function* splitIntoParts(body: AsyncIterable<unknown>, partSize: number): AsyncGenerator<BodyPart> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const raw of body) {
    let chunk = toBuffer(raw);
    while (chunk.length > 0) {
      if (pendingBytes === partSize) {
        const data = Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        yield { data, last: false };
      }
      const take = Math.min(partSize - pendingBytes, chunk.length);
      pending.push(take === chunk.length ? chunk : chunk.subarray(0, take));
      pendingBytes += take;
      chunk = chunk.subarray(take);
    }
  }
  yield { data: Buffer.concat(pending, pendingBytes), last: true };
}

const abortError = (): Error => Object.assign(new Error('the write was aborted'), { name: 'AbortError' });

export async function abortUploadQuietly(ctx: S3Context, storeKey: string, uploadId: string): Promise<void> {
  await ctx.client
    .send(new AbortMultipartUploadCommand({ Bucket: ctx.bucket, Key: storeKey, UploadId: uploadId }))
    .catch(() => undefined); // best effort: a lifecycle rule or the multipart sweeper removes leftovers
}

async function putSingle(ctx: S3Context, storeKey: string, data: Buffer, metadata: ObjectMetadata, signal?: AbortSignal): Promise<WriteResult> {
  const command = withRawExpires(
    new PutObjectCommand({ Bucket: ctx.bucket, Key: storeKey, Body: data, ContentLength: data.length, ...metadataParams(metadata) }),
    metadata.expires,
  );
  const out = await ctx.call('write object', signal, () => ctx.client.send(command, { abortSignal: signal }));
  return { size: data.length, ...(await committedVersion(ctx, storeKey, out.ETag, signal)) };
}

/**
 * What the caller sees: a failed part (the first one) wins; then an abort; UFS errors pass;
 * errors raised by the body stream itself or by `beforeCommit` are rethrown unchanged.
 */
function classify(err: unknown, partFailure: UfsError | undefined, signal: AbortSignal | undefined): unknown {
  if (partFailure) return partFailure;
  if (signal?.aborted) return isUfsError(err, 'Aborted') ? err : ufsError('Aborted', 'write object: aborted', signal.reason ?? err);
  if (isUfsError(err)) return err;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (isAbortLike(err) || code === 'ERR_STREAM_PREMATURE_CLOSE') return ufsError('Aborted', 'write object: the body ended early', err);
  return err;
}

export async function writeObject(ctx: S3Context, request: WriteRequest): Promise<WriteResult> {
  const storeKey = ctx.storeKey(request.key);
  const { body, signal } = request;
  const { partSize, queueSize } = ctx.config;
  throwIfAborted(signal, 'write object');

  // `internal` stops in-flight parts when one fails; the caller's signal stops everything.
  const internal = new AbortController();
  const opSignal = signal ? AbortSignal.any([signal, internal.signal]) : internal.signal;
  const stopBody = () => destroyBody(body);
  opSignal.addEventListener('abort', stopBody, { once: true });

  let uploadId: string | undefined;
  let partFailure: UfsError | undefined;
  let stopping = false;
  const inflight = new Set<Promise<void>>();
  const completed: CompletedPart[] = [];
  let partNumber = 0;
  let size = 0;

  const uploadPart = (data: Buffer, n: number, id: string): void => {
    const command = new UploadPartCommand({ Bucket: ctx.bucket, Key: storeKey, UploadId: id, PartNumber: n, Body: data, ContentLength: data.length });
    const task: Promise<void> = ctx
      .call(`upload part ${n}`, opSignal, () => ctx.client.send(command, { abortSignal: opSignal }))
      .then(
        (out) => {
          completed[n - 1] = { PartNumber: n, ETag: out.ETag };
        },
        (err: UfsError) => {
          if (stopping) return; // cancelled by us: not the cause
          partFailure ??= err;
          internal.abort();
        },
      )
      .finally(() => inflight.delete(task));
    inflight.add(task);
  };

  try {
    for await (const { data, last } of splitIntoParts(body, partSize)) {
      if (partFailure) throw partFailure;
      size += data.length;
      if (last && uploadId === undefined) {
        const late = await request.beforeCommit?.();
        throwIfAborted(signal, 'write object');
        return await putSingle(ctx, storeKey, data, mergeMetadata(request.metadata, late), signal);
      }
      if (uploadId === undefined) {
        const metadata = request.metadata;
        const command = withRawExpires(
          new CreateMultipartUploadCommand({ Bucket: ctx.bucket, Key: storeKey, ...metadataParams(metadata) }),
          metadata.expires,
        );
        const created = await ctx.call('start multipart write', opSignal, () => ctx.client.send(command, { abortSignal: opSignal }));
        if (!created.UploadId) throw ufsError('Unavailable', 'start multipart write: the object store returned no upload id');
        uploadId = created.UploadId;
      }
      if (++partNumber > MAX_PART_NUMBER) {
        throw ufsError('InvalidPart', `write object: the body needs more than ${MAX_PART_NUMBER} parts; raise partSize`);
      }
      while (inflight.size >= queueSize) await Promise.race(inflight);
      if (partFailure) throw partFailure;
      uploadPart(data, partNumber, uploadId);
    }
    if (uploadId === undefined) throw ufsError('Unavailable', 'write object: the body produced no final part'); // unreachable

    // The body has ended; the parts may still be uploading. Checksums supplied here are not
    // stored (README: checksums), but a throw still vetoes the commit.
    await request.beforeCommit?.();
    await Promise.all(inflight);
    if (partFailure) throw partFailure;
    throwIfAborted(signal, 'write object');
    const id = uploadId;
    const out = await ctx.call('complete multipart write', signal, () =>
      ctx.client.send(
        new CompleteMultipartUploadCommand({ Bucket: ctx.bucket, Key: storeKey, UploadId: id, MultipartUpload: { Parts: completed } }),
        { abortSignal: signal },
      ),
    );
    uploadId = undefined; // committed: nothing to abort any more
    return { size, ...(await committedVersion(ctx, storeKey, out.ETag, signal)) };
  } catch (err) {
    stopping = true;
    internal.abort();
    await Promise.allSettled([...inflight]);
    if (uploadId !== undefined) await abortUploadQuietly(ctx, storeKey, uploadId);
    throw classify(err, partFailure, signal);
  } finally {
    opSignal.removeEventListener('abort', stopBody);
  }
}

/** Stops reading a body we will not finish (it errors the pending iteration). */
function destroyBody(body: Readable): void {
  if (!body.destroyed) body.destroy(abortError());
}
