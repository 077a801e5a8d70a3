/** CopyObject: the bytes stream through the gateway (WebHDFS has no server-side copy). */
import { Readable } from 'node:stream';
import { ufsError } from '../errors';
import { copyDestinationMetadata } from '../object-metadata';
import type { CopyRequest, WriteResult } from '../types';
import { commitFile, setRecord } from './hdfs-commit';
import type { HdfsContext } from './hdfs-context';
import { hdfsError } from './hdfs-errors';
import { throwIfAborted } from '../shared/abort';
import { assertValidHdfsKey, isFolderKey } from './hdfs-layout';
import { buildRecord } from './hdfs-metadata';
import { resolveObject, statObject, statusOf } from './hdfs-object';
import { deleteQuietly, newTempPath, uploadBody, writtenStatus, type Received } from './hdfs-upload';
import { writeObject } from './hdfs-write';
import type { FileStatus } from './webhdfs-client';

/** Copies of a source that changed while it was read are started again, this many times at most. */
const ATTEMPTS = 3;

/** Metadata for a copy's destination: the replacement if given (keeping content checksums), else the source's. */
const destinationMetadata = copyDestinationMetadata;

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

  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
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
