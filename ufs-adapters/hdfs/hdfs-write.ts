/**
 * PUT, DELETE and copy.
 *
 * A PUT streams the body to `.ringcache/tmp/<uuid>` (CREATE: NameNode 307 -> DataNode)
 * while hashing it, runs `beforeCommit`, writes the metadata record as an xattr of the temp
 * file, then renames it over the key with rename2 + OVERWRITE (RENAME&renameoptions=OVERWRITE),
 * which replaces an existing file atomically. Data and metadata become visible together.
 * Servers that ignore `renameoptions` get DELETE + RENAME: the key is briefly missing.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isUfsError, ufsError, type UfsErrorKind } from '../errors';
import type { CopyRequest, ObjectInfo, ObjectMetadata, WriteRequest, WriteResult } from '../types';
import type { HdfsContext } from './hdfs-context';
import { WebHdfsError, hdfsError, isAbortError, isRemote, throwIfAborted } from './hdfs-errors';
import { assertValidHdfsKey, isFolderKey, joinPath, parentOf, pathOfKey } from './hdfs-layout';
import { EMPTY_MD5_ETAG, META_XATTR, buildRecord, encodeRecord, mergeMetadata, quotedEtag, type ObjectRecord } from './hdfs-metadata';
import { isMissing, recordOf, resolveObject, statObject, statusOf, xattrsOf } from './hdfs-object';
import type { FileStatus } from './webhdfs-client';

const RETRIES = 3;

const conflict = (cause?: unknown) =>
  ufsError('PathConflict', 'a folder with this name already holds other objects (HDFS cannot hold a file and a folder of the same name)', cause);

export const newTempPath = (ctx: HdfsContext): string => `${ctx.layout.tmpDir}/${randomUUID()}`;

export async function deleteQuietly(ctx: HdfsContext, hdfsPath: string): Promise<void> {
  await ctx.client.delete(hdfsPath, true).catch(() => undefined);
}

const errorCode = (err: unknown): string | undefined => (typeof err === 'object' && err !== null ? (err as { code?: string }).code : undefined);

export interface Received {
  size: number;
  /** Binary MD5 of the bytes sent. */
  md5: Buffer;
}

/**
 * Streams `body` into the new file `hdfsPath` while computing its MD5. On failure the
 * (partial) file is deleted and the error classified: an error of the body stream itself
 * is rethrown unchanged (the S3 layer raises BadDigest and friends inside it), a fired
 * signal or a body that closed early is Aborted, a WebHDFS or network failure is mapped
 * (`overrides` re-map exception names, e.g. a missing upload folder).
 */
export async function uploadBody(
  ctx: HdfsContext,
  hdfsPath: string,
  body: Readable,
  signal: AbortSignal | undefined,
  options: { createParent?: boolean; overrides?: Partial<Record<string, UfsErrorKind>> } = {},
): Promise<Received> {
  throwIfAborted(signal);
  const hash = createHash('md5');
  let size = 0;
  let bodyError: unknown;
  let bodyClosedEarly = false;
  let cancelling = false;
  const onError = (err: unknown): void => {
    bodyError ??= err;
  };
  const onClose = (): void => {
    if (!body.readableEnded && !cancelling) bodyClosedEarly = true;
  };
  body.on('error', onError);
  body.once('close', onClose);
  const meter = new Transform({
    transform(chunk: Buffer | string, _encoding, callback) {
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      size += bytes.length;
      hash.update(bytes);
      callback(null, bytes);
    },
  });
  // undici destroys a request's body with the request's error (a refused DataNode connection,
  // a reset), and the pipeline hands that error on to `body`: it must not be taken for an error
  // of the body itself. Whichever side fails first is the cause.
  let requestSideFailed = false;
  meter.once('error', () => {
    if (bodyError === undefined) requestSideFailed = true;
  });
  const piping = pipeline(body, meter).catch(() => undefined);
  let requestError: unknown;
  try {
    await ctx.client.create(hdfsPath, meter, { overwrite: false, createparent: options.createParent }, signal);
  } catch (err) {
    requestError = err;
    cancelling = true;
    meter.destroy();
  }
  await piping;
  body.off('error', onError);
  body.off('close', onClose);
  if (requestError === undefined && bodyError === undefined && !bodyClosedEarly) return { size, md5: hash.digest() };

  await deleteQuietly(ctx, hdfsPath);
  if (signal?.aborted) throw ufsError('Aborted', 'upload aborted', signal.reason);
  if (requestSideFailed) throw hdfsError(requestError ?? bodyError, 'store uploaded data', { FileNotFoundException: 'Unavailable', ...options.overrides });
  if (bodyError !== undefined) {
    if (isUfsError(bodyError)) throw bodyError;
    if (isAbortError(bodyError) || errorCode(bodyError) === 'ERR_STREAM_PREMATURE_CLOSE') throw ufsError('Aborted', 'upload aborted', bodyError);
    throw bodyError;
  }
  if (bodyClosedEarly) throw ufsError('Aborted', 'upload aborted: the body ended early', requestError);
  throw hdfsError(requestError, 'store uploaded data', { FileNotFoundException: 'Unavailable', ...options.overrides });
}

/** Consumes a body that must be empty (folder markers); any byte is InvalidKey. */
async function receiveEmptyBody(body: Readable, signal: AbortSignal | undefined): Promise<void> {
  throwIfAborted(signal);
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (chunk.length === 0) return callback();
      callback(ufsError('InvalidKey', "a folder key (ending in '/') must have an empty body"));
    },
  });
  try {
    await pipeline(body, sink, { signal });
  } catch (err) {
    if (isUfsError(err)) throw err;
    if (isAbortError(err) || errorCode(err) === 'ERR_STREAM_PREMATURE_CLOSE') throw ufsError('Aborted', 'upload aborted', signal?.reason ?? err);
    throw err;
  }
}

/** Writes the metadata record of `hdfsPath`. */
export async function setRecord(ctx: HdfsContext, hdfsPath: string, record: ObjectRecord, flag: 'CREATE' | 'CREATE,REPLACE', signal?: AbortSignal): Promise<void> {
  await ctx.client.setXAttr(hdfsPath, META_XATTR, encodeRecord(record), flag, signal);
}

/** Status of a freshly written file (what its record must match). */
export async function writtenStatus(ctx: HdfsContext, hdfsPath: string, expectedSize: number, signal?: AbortSignal): Promise<FileStatus> {
  let status: FileStatus;
  try {
    status = await ctx.client.getFileStatus(hdfsPath, signal);
  } catch (err) {
    throw hdfsError(err, 'store uploaded data', { FileNotFoundException: 'Unavailable' });
  }
  if (status.length !== expectedSize) throw ufsError('Unavailable', `HDFS stored ${status.length} of the ${expectedSize} bytes sent`);
  return status;
}

/** An empty directory that is not a folder marker is removed; anything else in the way conflicts. */
async function clearDirectoryInTheWay(ctx: HdfsContext, dest: string, status: FileStatus, signal?: AbortSignal): Promise<void> {
  await ctx.locks.run(`dir:${dest}`, async () => {
    if ((status.childrenNum ?? 0) > 0 || (await recordOf(ctx, dest, signal))) throw conflict();
    try {
      await ctx.client.delete(dest, false, signal);
    } catch (err) {
      if (isMissing(err)) return;
      if (isRemote(err, 'PathIsNotEmptyDirectoryException')) throw conflict(err);
      throw hdfsError(err, 'write object');
    }
  });
}

async function ensureParent(ctx: HdfsContext, dest: string, signal?: AbortSignal): Promise<void> {
  try {
    await ctx.client.mkdirs(parentOf(dest), signal);
  } catch (err) {
    if (isRemote(err, 'FileAlreadyExistsException', 'ParentNotDirectoryException')) {
      throw ufsError('PathConflict', 'a parent folder of the key is an existing object', err);
    }
    throw hdfsError(err, 'create parent folder');
  }
}

/** Signals the retry loop that a plain RENAME answered false. */
const renameRefused = (): WebHdfsError => new WebHdfsError('RENAME', 200, 'FileNotFoundException', undefined, 'rename returned false');

/** The old RENAME cannot replace: delete what is there first, then rename (briefly no object). */
async function legacyReplace(ctx: HdfsContext, tempPath: string, dest: string, signal?: AbortSignal): Promise<void> {
  const existing = await statusOf(ctx, dest, signal);
  if (existing?.type === 'DIRECTORY') {
    await clearDirectoryInTheWay(ctx, dest, existing, signal);
  } else if (existing) {
    await ctx.client.delete(dest, false, signal).catch((err: unknown) => {
      if (!isMissing(err)) throw err;
    });
  }
  if (!(await ctx.client.rename(tempPath, dest, undefined, signal))) throw renameRefused();
  // The old rename moves a file *into* a directory that appeared meanwhile: undo that.
  const landed = await statusOf(ctx, dest, signal);
  if (landed?.type === 'DIRECTORY') {
    const inside = joinPath(dest, tempPath.slice(tempPath.lastIndexOf('/') + 1));
    await ctx.client.rename(inside, tempPath, undefined, signal).catch(() => undefined);
    throw conflict();
  }
}

/**
 * Makes the fully written temp file `tempPath` the object `key` (its record already set).
 * On failure the temp file is left for the caller to delete.
 */
export async function commitFile(ctx: HdfsContext, key: string, tempPath: string, signal?: AbortSignal): Promise<void> {
  const dest = pathOfKey(ctx.layout, key);
  const mode = await ctx.renameMode(signal);
  await ctx.locks.run(key, async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        if (mode === 'rename2') await ctx.client.rename(tempPath, dest, 'OVERWRITE', signal);
        else await legacyReplace(ctx, tempPath, dest, signal);
        return;
      } catch (err) {
        if (isUfsError(err) || attempt >= RETRIES) throw hdfsError(err, 'commit object', { FileNotFoundException: 'Unavailable' });
        if (isRemote(err, 'ParentNotDirectoryException')) throw ufsError('PathConflict', 'a parent folder of the key is an existing object', err);
        if (isRemote(err, 'FileNotFoundException')) {
          // The parent folder does not exist (yet, or again after a concurrent prune).
          await ensureParent(ctx, dest, signal);
          continue;
        }
        const existing = await statusOf(ctx, dest, signal);
        if (existing?.type !== 'DIRECTORY') throw hdfsError(err, 'commit object');
        await clearDirectoryInTheWay(ctx, dest, existing, signal);
      }
    }
  });
}

/** Creates (or re-marks) the folder `key` ("dir/"): a directory carrying a marker record. */
export async function commitFolderMarker(ctx: HdfsContext, key: string, metadata: ObjectMetadata, signal?: AbortSignal): Promise<WriteResult> {
  const dir = pathOfKey(ctx.layout, key);
  const lastModified = new Date();
  const record = buildRecord(metadata, { etag: EMPTY_MD5_ETAG, size: 0, mtime: lastModified.getTime() });
  await ctx.locks.run(`dir:${dir}`, async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        await ctx.client.mkdirs(dir, signal);
        await setRecord(ctx, dir, record, 'CREATE,REPLACE', signal);
        return;
      } catch (err) {
        if (isRemote(err, 'FileAlreadyExistsException', 'ParentNotDirectoryException')) {
          throw ufsError('PathConflict', 'an object with this name (without the trailing /) or a parent of it exists', err);
        }
        // Removed by a concurrent prune (another process) between MKDIRS and SETXATTR.
        if (isRemote(err, 'FileNotFoundException') && attempt < RETRIES) continue;
        throw hdfsError(err, 'create folder', { FileNotFoundException: 'Unavailable' });
      }
    }
  });
  return { etag: EMPTY_MD5_ETAG, size: 0, lastModified };
}

export async function writeObject(ctx: HdfsContext, request: WriteRequest): Promise<WriteResult> {
  assertValidHdfsKey(ctx.layout, request.key);
  throwIfAborted(request.signal);
  if (isFolderKey(request.key)) {
    await receiveEmptyBody(request.body, request.signal);
    const metadata = mergeMetadata(request.metadata, await request.beforeCommit?.());
    throwIfAborted(request.signal);
    return commitFolderMarker(ctx, request.key, metadata, request.signal);
  }
  const tempPath = newTempPath(ctx);
  const received = await uploadBody(ctx, tempPath, request.body, request.signal);
  try {
    const metadata = mergeMetadata(request.metadata, await request.beforeCommit?.());
    throwIfAborted(request.signal);
    const etag = quotedEtag(received.md5.toString('hex'));
    const status = await writtenStatus(ctx, tempPath, received.size, request.signal);
    await setRecord(ctx, tempPath, buildRecord(metadata, { etag, size: status.length, mtime: status.modificationTime }), 'CREATE', request.signal).catch(
      (err: unknown) => {
        throw hdfsError(err, 'write object metadata', { FileNotFoundException: 'Unavailable' });
      },
    );
    await commitFile(ctx, request.key, tempPath, request.signal);
    return { etag, size: status.length, lastModified: new Date(status.modificationTime) };
  } catch (err) {
    await deleteQuietly(ctx, tempPath);
    throw err;
  }
}

const isStrictlyInside = (root: string, hdfsPath: string): boolean => hdfsPath !== root && hdfsPath.startsWith(root === '/' ? '/' : `${root}/`);

/**
 * Removes empty folders from `dir` up to (not including) the root, stopping at the first
 * non-empty folder or folder marker (S3 has no folders to keep).
 */
export async function pruneEmptyFolders(ctx: HdfsContext, dir: string, signal?: AbortSignal): Promise<void> {
  for (let current = dir; isStrictlyInside(ctx.layout.root, current); current = parentOf(current)) {
    const removed = await ctx.locks
      .run(`dir:${current}`, async () => {
        const status = await statusOf(ctx, current, signal);
        if (status?.type !== 'DIRECTORY' || (status.childrenNum ?? 0) > 0) return false;
        if (await recordOf(ctx, current, signal)) return false;
        return ctx.client.delete(current, false, signal);
      })
      .catch(() => false);
    if (!removed) return;
  }
}

async function deleteFolderMarker(ctx: HdfsContext, dir: string, signal?: AbortSignal): Promise<void> {
  const removed = await ctx.locks.run(`dir:${dir}`, async () => {
    const status = await statusOf(ctx, dir, signal);
    if (status?.type !== 'DIRECTORY') return false;
    if ((await xattrsOf(ctx, dir, signal))?.has(META_XATTR)) {
      await ctx.client.removeXAttr(dir, META_XATTR, signal).catch(async (err: unknown) => {
        if (isMissing(err)) return;
        if ((await xattrsOf(ctx, dir, signal))?.has(META_XATTR)) throw hdfsError(err, 'delete folder');
      });
    }
    if ((status.childrenNum ?? 0) > 0) return false;
    return ctx.client.delete(dir, false, signal).catch((err: unknown) => {
      if (isMissing(err) || isRemote(err, 'PathIsNotEmptyDirectoryException')) return false;
      throw hdfsError(err, 'delete folder');
    });
  });
  if (removed) await pruneEmptyFolders(ctx, parentOf(dir), signal);
}

/** DELETE: missing keys are not an error; a folder named like a file key is not that object. */
export async function deleteObject(ctx: HdfsContext, key: string, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  const target = pathOfKey(ctx.layout, key);
  if (isFolderKey(key)) return deleteFolderMarker(ctx, target, signal);
  const removed = await ctx.locks.run(key, async () => {
    const status = await statusOf(ctx, target, signal);
    if (status?.type !== 'FILE') return false;
    try {
      return await ctx.client.delete(target, false, signal);
    } catch (err) {
      if (isMissing(err)) return false;
      throw hdfsError(err, 'delete object');
    }
  });
  if (removed) await pruneEmptyFolders(ctx, parentOf(target), signal);
}

/** Metadata for a copy's destination: the replacement if given (keeping content checksums), else the source's. */
const destinationMetadata = (request: CopyRequest, source: ObjectInfo): ObjectMetadata =>
  request.metadata ? { ...request.metadata, checksums: request.metadata.checksums ?? source.checksums } : source;

const sameFile = (a: FileStatus, b: FileStatus | undefined): boolean =>
  b !== undefined && a.length === b.length && a.modificationTime === b.modificationTime && a.fileId === b.fileId;

/**
 * CopyObject: WebHDFS has no server-side copy, so the bytes stream through the gateway
 * (OPEN -> CREATE of a temp file), then commit like a PUT. The destination keeps the
 * source's ETag (also a multipart one, with its part sizes). Copying a key onto itself
 * only rewrites its metadata record.
 */
export async function copyObject(ctx: HdfsContext, request: CopyRequest): Promise<WriteResult> {
  const { sourceKey, destinationKey, signal } = request;
  assertValidHdfsKey(ctx.layout, sourceKey);
  assertValidHdfsKey(ctx.layout, destinationKey);
  throwIfAborted(signal);
  if (isFolderKey(sourceKey) || isFolderKey(destinationKey)) {
    const source = await statObject(ctx, sourceKey, signal);
    if (source.size !== 0) throw ufsError('InvalidKey', "a folder key (ending in '/') must have an empty body");
    return writeObject(ctx, { key: destinationKey, body: Readable.from([]), metadata: request.metadata ?? source, signal });
  }

  if (sourceKey === destinationKey) {
    return ctx.locks.run(destinationKey, async () => {
      const { info, found } = await resolveObject(ctx, sourceKey, signal);
      const record = buildRecord(destinationMetadata(request, info), {
        etag: info.etag,
        size: found.status.length,
        mtime: found.status.modificationTime,
        partSizes: info.partSizes,
      });
      await setRecord(ctx, found.path, record, 'CREATE,REPLACE', signal).catch((err: unknown) => {
        throw hdfsError(err, 'write object metadata');
      });
      return { etag: info.etag, size: found.status.length, lastModified: new Date(found.status.modificationTime) };
    });
  }

  for (let attempt = 0; attempt < RETRIES; attempt++) {
    const { info, found } = await resolveObject(ctx, sourceKey, signal);
    let source: Readable;
    try {
      source = await ctx.client.open(found.path, undefined, signal);
    } catch (err) {
      throw hdfsError(err, 'copy object');
    }
    const tempPath = newTempPath(ctx);
    let received: Received;
    try {
      received = await uploadBody(ctx, tempPath, source, signal);
    } catch (err) {
      throw hdfsError(err, 'copy object');
    }
    try {
      if (received.size !== found.status.length || !sameFile(found.status, await statusOf(ctx, found.path, signal))) {
        await deleteQuietly(ctx, tempPath);
        continue; // the source changed while it was copied
      }
      const status = await writtenStatus(ctx, tempPath, received.size, signal);
      const record = buildRecord(destinationMetadata(request, info), {
        etag: info.etag,
        size: status.length,
        mtime: status.modificationTime,
        partSizes: info.partSizes,
      });
      await setRecord(ctx, tempPath, record, 'CREATE', signal).catch((err: unknown) => {
        throw hdfsError(err, 'write object metadata', { FileNotFoundException: 'Unavailable' });
      });
      await commitFile(ctx, destinationKey, tempPath, signal);
      return { etag: info.etag, size: status.length, lastModified: new Date(status.modificationTime) };
    } catch (err) {
      await deleteQuietly(ctx, tempPath);
      throw err;
    }
  }
  throw ufsError('Unavailable', 'the source object kept changing during the copy');
}
