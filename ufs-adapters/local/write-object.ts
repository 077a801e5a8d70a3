/**
 * PUT: receive into a temp file (MD5 on the way), run `beforeCommit`, then commit
 * atomically (commit-object.ts). Folder keys ("dir/") take an empty body and become a
 * directory plus a marker sidecar.
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { ufsError } from '../errors';
import type { ObjectMetadata, WriteRequest, WriteResult } from '../types';
import { commitFile } from './commit-object';
import { ensureContainedDirectory } from './containment';
import { isMissing, mapFsError } from './fs-errors';
import { throwIfAborted } from '../shared/abort';
import { assertValidKey, isFolderKey } from '../shared/key-path';
import { keyToPath } from './local-layout';
import type { LocalContext } from './local-context';
import { classifyBodyError, receiveBody } from './receive-body';
import { EMPTY_MD5_ETAG, quotedEtag } from '../object-metadata';
import { receiveEmptyBody } from '../shared/empty-body';
import { buildSidecar, mergeMetadata, removeSidecar, writeSidecar } from './sidecar-metadata';
import { newTempPath, removeQuietly } from './temp-files';
import { mkdirBelowRoot } from './mount-root';


/** Creates (or re-marks) the folder `key` ("dir/") with `metadata`. */
async function commitFolderMarker(ctx: LocalContext, key: string, metadata: ObjectMetadata): Promise<WriteResult> {
  const dir = keyToPath(ctx.layout.root, key);
  const lastModified = new Date();
  await ctx.locks.run(key, async () => {
    const existing = await lstat(dir).catch((err: unknown) => {
      if (isMissing(err)) return undefined;
      throw mapFsError(err, 'create folder', 'Unavailable');
    });
    if (existing && !existing.isDirectory()) throw ufsError('PathConflict', 'an object with this name (without the trailing /) exists');
    await ensureContainedDirectory(ctx, path.dirname(dir));
    // Sidecar first, then the folder: a concurrent prune of empty folders re-checks the
    // sidecar after rmdir and recreates the folder (commit-object.ts).
    await writeSidecar(ctx.layout, key, buildSidecar(metadata, { etag: EMPTY_MD5_ETAG, size: 0, mtimeMs: lastModified.getTime() }));
    try {
      await ensureContainedDirectory(ctx, dir);
    } catch (err) {
      await removeSidecar(ctx.layout, key).catch(() => undefined);
      throw err;
    }
  });
  return { etag: EMPTY_MD5_ETAG, size: 0, lastModified };
}

async function writeFolderMarker(ctx: LocalContext, request: WriteRequest): Promise<WriteResult> {
  await receiveEmptyBody(request.body, request.signal, (err) => classifyBodyError(err, request.signal, 'Unavailable'));
  const metadata = mergeMetadata(request.metadata, await request.beforeCommit?.());
  throwIfAborted(request.signal);
  return commitFolderMarker(ctx, request.key, metadata);
}

export async function writeObject(ctx: LocalContext, request: WriteRequest): Promise<WriteResult> {
  assertValidKey(request.key);
  throwIfAborted(request.signal);
  if (isFolderKey(request.key)) return writeFolderMarker(ctx, request);

  try {
    await mkdirBelowRoot(ctx.layout.root, ctx.layout.tmpDir);
  } catch (err) {
    throw mapFsError(err, 'prepare upload', 'Unavailable');
  }
  const tempPath = newTempPath(ctx.layout.tmpDir, 'put');
  const received = await receiveBody(request.body, tempPath, request.signal);
  try {
    const metadata = mergeMetadata(request.metadata, await request.beforeCommit?.());
    throwIfAborted(request.signal);
    const etag = quotedEtag(received.md5.toString('hex'));
    await commitFile(ctx, request.key, tempPath, buildSidecar(metadata, { etag, size: received.size, mtimeMs: received.mtimeMs }));
    return { etag, size: received.size, lastModified: new Date(received.mtimeMs) };
  } catch (err) {
    await removeQuietly(tempPath);
    throw err;
  }
}
