/**
 * stat and read. A key resolves to a regular file whose real path is inside the root, or
 * (for "dir/") to a plain directory with a folder-marker sidecar; anything else is NotFound.
 */
import { open, lstat, stat } from 'node:fs/promises';
import { Readable, addAbortSignal } from 'node:stream';
import type { Stats } from 'node:fs';
import { ufsError } from '../errors';
import type { ByteRange, ObjectInfo, ReadOptions } from '../types';
import { containedRealPath } from './containment';
import { isMissing, mapFsError, throwIfAborted } from './fs-errors';
import { isFolderKey, keyToPath } from './key-path';
import type { LocalContext } from './local-context';
import { fileObjectInfo, markerObjectInfo, readSidecar, type SidecarRecord } from './sidecar-metadata';

const notFound = (cause?: unknown) => ufsError('NotFound', 'object not found', cause);

/** NotFound, unless the reason nothing is found is that the root itself is gone (Unavailable). */
async function missing(ctx: LocalContext): Promise<never> {
  await ctx.assertRoot();
  throw notFound();
}

/** A byte stream (not object mode) that ends immediately: the body of a folder marker. */
const emptyStream = (): Readable =>
  new Readable({
    read() {
      this.push(null);
    },
  });

export interface ResolvedFile {
  realPath: string;
  stats: Stats;
}

/** The data file of a (non-folder) key. Throws NotFound. */
export async function resolveDataFile(ctx: LocalContext, key: string): Promise<ResolvedFile> {
  const realPath = await containedRealPath(ctx, keyToPath(ctx.layout.root, key));
  if (realPath === undefined) return missing(ctx);
  let stats: Stats;
  try {
    stats = await stat(realPath);
  } catch (err) {
    throw mapFsError(err, 'stat object');
  }
  if (!stats.isFile()) throw notFound();
  return { realPath, stats };
}

/** The sidecar of a folder marker whose directory exists (not via a symlink). */
export async function resolveFolderMarker(ctx: LocalContext, key: string): Promise<SidecarRecord | undefined> {
  const dir = keyToPath(ctx.layout.root, key);
  try {
    if (!(await lstat(dir)).isDirectory()) return undefined;
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw mapFsError(err, 'stat object');
  }
  if ((await containedRealPath(ctx, dir)) === undefined) return undefined;
  return readSidecar(ctx.layout, key);
}

export async function statObject(ctx: LocalContext, key: string, signal?: AbortSignal): Promise<ObjectInfo> {
  throwIfAborted(signal);
  if (isFolderKey(key)) {
    const record = await resolveFolderMarker(ctx, key);
    if (!record) return missing(ctx);
    return markerObjectInfo(key, record);
  }
  const { stats } = await resolveDataFile(ctx, key);
  return fileObjectInfo(key, stats, await readSidecar(ctx.layout, key));
}

import { unquoteEtag as unquote } from '../object-metadata';

function assertVersion(actual: ObjectInfo, ifMatch: string | undefined): void {
  if (ifMatch !== undefined && unquote(actual.etag) !== unquote(ifMatch)) {
    throw ufsError('PreconditionFailed', 'the object changed since it was looked up');
  }
}

/**
 * Opens the file before returning, so a missing object is NotFound before any byte is
 * sent; `range` is inclusive. The stream is destroyed when `signal` aborts. With `ifMatch`,
 * the version of the opened file (its fstat + sidecar) must have that ETag.
 */
export async function readObject(
  ctx: LocalContext,
  key: string,
  range: ByteRange | undefined,
  { signal, ifMatch }: ReadOptions = {},
): Promise<Readable> {
  throwIfAborted(signal);
  if (isFolderKey(key)) {
    const record = await resolveFolderMarker(ctx, key);
    if (!record) return missing(ctx);
    assertVersion(markerObjectInfo(key, record), ifMatch);
    return emptyStream();
  }
  const { realPath } = await resolveDataFile(ctx, key);
  let handle;
  try {
    handle = await open(realPath, 'r');
  } catch (err) {
    throw mapFsError(err, 'open object');
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw notFound();
    if (ifMatch !== undefined) assertVersion(fileObjectInfo(key, stats, await readSidecar(ctx.layout, key)), ifMatch);
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw mapFsError(err, 'open object');
  }
  const stream = handle.createReadStream(range ? { start: range.start, end: range.end } : {});
  return signal ? addAbortSignal(signal, stream) : stream;
}

/**
 * The object's info and the bytes of `range` (clamped to the object) from one open handle: the
 * info is the fstat of the very file the bytes come from, so they always belong together.
 */
export async function readObjectWithInfo(
  ctx: LocalContext,
  key: string,
  range: ByteRange,
  { signal }: { signal?: AbortSignal } = {},
): Promise<{ info: ObjectInfo; body: Readable }> {
  throwIfAborted(signal);
  if (isFolderKey(key)) {
    const record = await resolveFolderMarker(ctx, key);
    if (!record) return missing(ctx);
    return { info: markerObjectInfo(key, record), body: emptyStream() };
  }
  const { realPath } = await resolveDataFile(ctx, key);
  let handle;
  try {
    handle = await open(realPath, 'r');
  } catch (err) {
    throw mapFsError(err, 'open object');
  }
  let info: ObjectInfo;
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw notFound();
    info = fileObjectInfo(key, stats, await readSidecar(ctx.layout, key));
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw mapFsError(err, 'open object');
  }
  const end = Math.min(range.end, info.size - 1);
  if (range.start > end) {
    await handle.close().catch(() => undefined);
    return { info, body: emptyStream() };
  }
  const stream = handle.createReadStream({ start: range.start, end });
  return { info, body: signal ? addAbortSignal(signal, stream) : stream };
}
