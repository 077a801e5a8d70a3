/**
 * PUT. The body streams to `.ringcache/tmp/<uuid>` while it is hashed (hdfs-upload.ts),
 * `beforeCommit` runs, then the metadata record is set on the temp file and the file renamed
 * over the key (hdfs-commit.ts). A folder key ("dir/") takes an empty body and becomes a
 * folder marker.
 */
import type { WriteRequest, WriteResult } from '../types';
import { commitFile, commitFolderMarker, setRecord } from './hdfs-commit';
import type { HdfsContext } from './hdfs-context';
import { hdfsError } from './hdfs-errors';
import { throwIfAborted } from '../shared/abort';
import { assertValidHdfsKey, isFolderKey } from './hdfs-layout';
import { buildRecord, mergeMetadata } from './hdfs-metadata';
import { quotedEtag } from '../object-metadata';
import { classifyBodyError, deleteQuietly, newTempPath, uploadBody, writtenStatus } from './hdfs-upload';
import { receiveEmptyBody } from '../shared/empty-body';

export async function writeObject(ctx: HdfsContext, request: WriteRequest): Promise<WriteResult> {
  assertValidHdfsKey(ctx.layout, request.key);
  throwIfAborted(request.signal);
  if (isFolderKey(request.key)) {
    await receiveEmptyBody(request.body, request.signal, (err) => classifyBodyError(err, request.signal));
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
