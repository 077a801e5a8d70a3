/**
 * stat and read. A file key is an HDFS file; a folder key ("dir/") is a directory carrying
 * a folder-marker record. stat costs GETFILESTATUS + GETXATTRS (in parallel); read is OPEN
 * (NameNode 307 -> DataNode), preceded by a stat when an ETag must be matched.
 */
import { Readable } from 'node:stream';
import { ufsError } from '../errors';
import type { ByteRange, ObjectInfo, ReadOptions } from '../types';
import type { HdfsContext } from './hdfs-context';
import { hdfsError, isRemote } from './hdfs-errors';
import { throwIfAborted } from '../shared/abort';
import { isFolderKey, pathOfKey } from './hdfs-layout';
import { META_XATTR, decodeObjectRecord, fileObjectInfo, markerObjectInfo, stripQuotes, type ObjectRecord } from './hdfs-metadata';
import type { FileStatus } from './webhdfs-client';

const notFound = (cause?: unknown) => ufsError('NotFound', 'object not found', cause);

/** A byte stream (not object mode) that ends immediately: the body of a folder marker. */
const emptyStream = (): Readable =>
  new Readable({
    read() {
      this.push(null);
    },
  });

/** Missing, or a file where a directory was expected on the way (HDFS: ParentNotDirectoryException). */
export const isMissing = (err: unknown): boolean => isRemote(err, 'FileNotFoundException', 'ParentNotDirectoryException');

/** GETFILESTATUS; undefined when the path does not exist. */
export async function statusOf(ctx: HdfsContext, hdfsPath: string, signal?: AbortSignal): Promise<FileStatus | undefined> {
  try {
    return await ctx.client.getFileStatus(hdfsPath, signal);
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw hdfsError(err, 'stat object');
  }
}

/** All xattrs of a path; undefined when the path does not exist. */
export async function xattrsOf(ctx: HdfsContext, hdfsPath: string, signal?: AbortSignal): Promise<Map<string, Buffer> | undefined> {
  try {
    return await ctx.client.getXAttrs(hdfsPath, signal);
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw hdfsError(err, 'read object metadata');
  }
}

export async function recordOf(ctx: HdfsContext, hdfsPath: string, signal?: AbortSignal): Promise<ObjectRecord | undefined> {
  return decodeObjectRecord((await xattrsOf(ctx, hdfsPath, signal))?.get(META_XATTR));
}

interface Lookup {
  path: string;
  status: FileStatus;
  record: ObjectRecord | undefined;
}

/** Status and record of a path, fetched in parallel; undefined when missing. */
export async function lookup(ctx: HdfsContext, hdfsPath: string, signal?: AbortSignal): Promise<Lookup | undefined> {
  const [status, attrs] = await Promise.all([statusOf(ctx, hdfsPath, signal), xattrsOf(ctx, hdfsPath, signal)]);
  if (!status) return undefined;
  return { path: hdfsPath, status, record: decodeObjectRecord(attrs?.get(META_XATTR)) };
}

/** The object `key` with its HDFS facts. Throws NotFound. */
export async function resolveObject(ctx: HdfsContext, key: string, signal?: AbortSignal): Promise<{ info: ObjectInfo; found: Lookup }> {
  const found = await lookup(ctx, pathOfKey(ctx.layout, key), signal);
  if (!found) throw notFound();
  if (isFolderKey(key)) {
    if (found.status.type !== 'DIRECTORY' || !found.record) throw notFound();
    return { info: markerObjectInfo(key, found.record), found };
  }
  if (found.status.type !== 'FILE') throw notFound();
  return { info: fileObjectInfo(key, found.status, found.record), found };
}

export async function statObject(ctx: HdfsContext, key: string, signal?: AbortSignal): Promise<ObjectInfo> {
  throwIfAborted(signal);
  return (await resolveObject(ctx, key, signal)).info;
}

/** Drops a response body nobody will read (undici reports a destroy as an error: keep it quiet). */
function discard(stream: Readable): void {
  stream.on('error', () => undefined);
  stream.destroy();
}

const sameFile = (a: FileStatus, b: FileStatus): boolean =>
  a.type === b.type && a.length === b.length && a.modificationTime === b.modificationTime && a.fileId === b.fileId;

/**
 * Resolves once the DataNode started answering (NotFound etc. come before any byte).
 * With `ifMatch`: the ETag is checked before OPEN, and the file status (fileId, length,
 * modificationTime) is checked again once the DataNode answered, so a file replaced in
 * between fails with PreconditionFailed instead of serving another version's bytes.
 */
export async function readObject(ctx: HdfsContext, key: string, range: ByteRange | undefined, { signal, ifMatch }: ReadOptions = {}): Promise<Readable> {
  throwIfAborted(signal);
  const hdfsPath = pathOfKey(ctx.layout, key);
  let before: FileStatus | undefined;
  if (ifMatch !== undefined || isFolderKey(key)) {
    const { info, found } = await resolveObject(ctx, key, signal);
    if (ifMatch !== undefined && stripQuotes(info.etag) !== stripQuotes(ifMatch)) {
      throw ufsError('PreconditionFailed', 'the object changed since it was looked up');
    }
    if (isFolderKey(key)) return emptyStream();
    before = found.status;
  }
  let stream: Readable;
  try {
    stream = await ctx.client.open(hdfsPath, range ? { offset: range.start, length: range.end - range.start + 1 } : undefined, signal);
  } catch (err) {
    if (isMissing(err)) throw notFound(err);
    throw hdfsError(err, 'read object');
  }
  if (before) {
    const after = await statusOf(ctx, hdfsPath, signal).catch((err: unknown) => {
      discard(stream);
      throw err;
    });
    if (!after || !sameFile(before, after)) {
      discard(stream);
      throw ufsError('PreconditionFailed', 'the object changed while it was being opened');
    }
  }
  return stream;
}
