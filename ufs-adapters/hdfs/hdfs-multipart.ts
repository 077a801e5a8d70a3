/**
 * Multipart uploads, one folder each (hdfs-upload-folder.ts): create, upload a part, list parts
 * and uploads, abort, clean up abandoned ones; completion is hdfs-multipart-complete.ts.
 * A part is written to `part-<n>.tmp-<uuid>` (CREATE with createparent=false, so an aborted
 * upload is not recreated) and renamed over `part-<n>`.
 */
import { randomBytes } from 'node:crypto';
import { ufsError } from '../errors';
import type { ChecksumMap, MultipartUpload, ObjectMetadata, PartInfo, UploadPartRequest } from '../types';
import { mapAhead } from '../shared/ordered-prefetch';
import { compareUtf8 } from '../utf8-order';
import { newUploadId } from '../upload-id';
import type { HdfsContext } from './hdfs-context';
import { WebHdfsError, hdfsError } from './hdfs-errors';
import { throwIfAborted } from '../shared/abort';
import { assertValidHdfsKey, isFolderKey } from './hdfs-layout';
import { directoryEntries } from './hdfs-list';
import { PART_XATTR, UPLOAD_XATTR, encodeRecord } from './hdfs-metadata';
import { quotedEtag } from '../object-metadata';
import { parseMetadata } from '../shared/stored-metadata';
import { isMissing } from './hdfs-object';
import { deleteQuietly, uploadBody } from './hdfs-upload';
import { NO_SUCH_UPLOAD, fromArray, loadUpload, partFiles, partPathOf, readPart, storedUploads, uploadDirOf, type PartRecord } from './hdfs-upload-folder';
import { assertPartNumber } from '../shared/multipart-parts';

export async function createUpload(ctx: HdfsContext, key: string, metadata: ObjectMetadata, signal?: AbortSignal): Promise<MultipartUpload> {
  assertValidHdfsKey(ctx.layout, key);
  if (isFolderKey(key)) throw ufsError('InvalidKey', "a folder key (ending in '/') must have an empty body");
  const uploadId = newUploadId();
  const dir = uploadDirOf(ctx, uploadId);
  const initiated = new Date();
  const record = encodeRecord({ v: 1, key, initiated: initiated.toISOString(), metadata: parseMetadata(metadata) });
  try {
    await ctx.client.mkdirs(dir, signal);
    await ctx.client.setXAttr(dir, UPLOAD_XATTR, record, 'CREATE', signal);
  } catch (err) {
    await deleteQuietly(ctx, dir);
    throw hdfsError(err, 'create multipart upload', { FileNotFoundException: 'Unavailable' });
  }
  return { uploadId, key, initiated };
}

/** Replaces `dest` by `src` (same folder): rename2 OVERWRITE, or DELETE + RENAME. */
async function replaceFile(ctx: HdfsContext, src: string, dest: string, signal?: AbortSignal): Promise<void> {
  if ((await ctx.renameMode(signal)) === 'rename2') {
    await ctx.client.rename(src, dest, 'OVERWRITE', signal);
    return;
  }
  await ctx.client.delete(dest, false, signal);
  if (!(await ctx.client.rename(src, dest, undefined, signal))) throw new WebHdfsError('RENAME', 200, 'FileNotFoundException', undefined, 'rename returned false');
}

export async function uploadPart(ctx: HdfsContext, request: UploadPartRequest): Promise<PartInfo> {
  assertPartNumber(request.partNumber);
  const { dir } = await loadUpload(ctx, request.key, request.uploadId, request.signal);
  const n = request.partNumber;
  const tempPath = `${partPathOf(dir, n)}.tmp-${randomBytes(8).toString('hex')}`;
  const received = await uploadBody(ctx, tempPath, request.body, request.signal, { createParent: false, overrides: NO_SUCH_UPLOAD });
  let late: { checksums?: ChecksumMap } | void;
  try {
    late = await request.beforeCommit?.();
    throwIfAborted(request.signal);
  } catch (err) {
    await deleteQuietly(ctx, tempPath);
    throw err;
  }
  try {
    const status = await ctx.client.getFileStatus(tempPath, request.signal);
    if (status.length !== received.size) throw ufsError('Unavailable', `HDFS stored ${status.length} of the ${received.size} bytes sent`);
    const record: PartRecord = { v: 1, etag: quotedEtag(received.md5.toString('hex')), size: status.length, mtime: status.modificationTime };
    if (late?.checksums && Object.keys(late.checksums).length > 0) record.checksums = { ...late.checksums };
    await ctx.client.setXAttr(tempPath, PART_XATTR, encodeRecord(record), 'CREATE', request.signal);
    await ctx.locks.run(`upload:${request.uploadId}:${n}`, () => replaceFile(ctx, tempPath, partPathOf(dir, n), request.signal));
    return { partNumber: n, etag: record.etag, size: record.size, lastModified: new Date(record.mtime), ...(record.checksums ? { checksums: record.checksums } : {}) };
  } catch (err) {
    await deleteQuietly(ctx, tempPath);
    throw hdfsError(err, 'store multipart part', NO_SUCH_UPLOAD);
  }
}

export async function listParts(ctx: HdfsContext, key: string, uploadId: string, signal?: AbortSignal): Promise<PartInfo[]> {
  const { dir } = await loadUpload(ctx, key, uploadId, signal);
  const files = [...(await partFiles(ctx, dir, signal)).entries()].sort((a, b) => a[0] - b[0]);
  const parts: PartInfo[] = [];
  for await (const part of mapAhead(fromArray(files), ctx.lookahead, ([n, status]) => readPart(ctx, dir, n, status, signal))) {
    if (part) parts.push({ partNumber: part.partNumber, etag: part.etag, size: part.size, lastModified: part.lastModified, ...(part.checksums ? { checksums: part.checksums } : {}) });
  }
  return parts;
}

export async function abortUpload(ctx: HdfsContext, key: string, uploadId: string, signal?: AbortSignal): Promise<void> {
  const { dir } = await loadUpload(ctx, key, uploadId, signal);
  try {
    await ctx.client.delete(dir, true, signal);
  } catch (err) {
    if (!isMissing(err)) throw hdfsError(err, 'abort multipart upload');
  }
}

/** In-progress uploads under `prefix`, ordered by key (UTF-8) then initiation time. Reads all records. */
export async function* listUploads(ctx: HdfsContext, prefix: string, signal?: AbortSignal): AsyncGenerator<MultipartUpload> {
  const found = (await storedUploads(ctx, signal))
    .filter((u) => u.dir !== '' && u.key.startsWith(prefix))
    .map(({ uploadId, key, initiated }) => ({ uploadId, key, initiated }));
  found.sort((a, b) => compareUtf8(a.key, b.key) || a.initiated.getTime() - b.initiated.getTime() || compareUtf8(a.uploadId, b.uploadId));
  yield* found;
}

/** Removes uploads initiated before the cutoff and temp files not modified since; returns the count. */
export async function cleanupAbandoned(ctx: HdfsContext, olderThanMs: number, signal?: AbortSignal): Promise<number> {
  const cutoff = Date.now() - olderThanMs;
  let removed = 0;
  for (const upload of await storedUploads(ctx, signal)) {
    const started = upload.dir !== '' ? upload.initiated.getTime() : upload.status.modificationTime;
    if (started < cutoff) {
      await ctx.client.delete(`${ctx.layout.uploadsDir}/${upload.uploadId}`, true, signal).catch((err: unknown) => {
        if (!isMissing(err)) throw hdfsError(err, 'remove multipart upload');
      });
      removed++;
    }
  }
  const stale: string[] = [];
  for await (const entry of directoryEntries(ctx, ctx.layout.tmpDir, signal)) {
    if (entry.modificationTime < cutoff) stale.push(`${ctx.layout.tmpDir}/${entry.pathSuffix}`);
  }
  for (const path of stale) {
    await deleteQuietly(ctx, path);
    removed++;
  }
  return removed;
}
