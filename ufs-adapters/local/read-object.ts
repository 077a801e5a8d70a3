/**
 * stat and read. A key resolves to a regular file whose real path is inside the root, or
 * (for "dir/") to a plain directory with a folder-marker sidecar; anything else is NotFound.
 */
import { open, lstat, stat, type FileHandle } from 'node:fs/promises';
import { Readable, addAbortSignal } from 'node:stream';
import type { Stats } from 'node:fs';
import { ufsError } from '../errors';
import type { ByteRange, ObjectInfo, ReadOptions } from '../types';
import { containedRealPath } from './containment';
import { isMissing, mapFsError } from './fs-errors';
import { throwIfAborted } from '../shared/abort';
import { isFolderKey } from '../shared/key-path';
import { keyToPath } from './local-layout';
import type { LocalContext } from './local-context';
import { fileObjectInfo, markerObjectInfo, readSidecar, type SidecarRecord } from './sidecar-metadata';
import { versionStream, type OpenVersion } from './open-versions';

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

interface ResolvedFile {
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
async function resolveFolderMarker(ctx: LocalContext, key: string): Promise<SidecarRecord | undefined> {
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

/** Opens the data file of `key` and describes the very file opened (its fstat + sidecar). */
async function openVersion(ctx: LocalContext, key: string, keep: boolean): Promise<{ version: OpenVersion; info: ObjectInfo }> {
  const { realPath } = await resolveDataFile(ctx, key);
  let handle: FileHandle;
  try {
    handle = await open(realPath, 'r');
  } catch (err) {
    throw mapFsError(err, 'open object');
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw notFound();
    const info = fileObjectInfo(key, stats, await readSidecar(ctx.layout, key));
    return { version: ctx.versions.adopt(keyToPath(ctx.layout.root, key), handle, unquote(info.etag), stats, keep), info };
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw mapFsError(err, 'open object');
  }
}

/** The bytes of `range` (inclusive, clamped to the object) of an open version, re-checked as they are read. */
function streamOf(ctx: LocalContext, version: OpenVersion, range: ByteRange | undefined, signal: AbortSignal | undefined): Readable {
  const stream = versionStream(version, range?.start ?? 0, range?.end ?? Number.MAX_SAFE_INTEGER, () => ctx.versions.release(version));
  return signal ? addAbortSignal(signal, stream) : stream;
}

/**
 * Opens the file before returning, so a missing object is NotFound before any byte is sent;
 * `range` is inclusive. The stream is destroyed when `signal` aborts. With `ifMatch`, the bytes
 * are of that version: from a file still open for it (see open-versions.ts), else from the file
 * opened now, whose fstat + sidecar must have that ETag. Either way a file modified in place
 * while it is read fails the stream with PreconditionFailed instead of mixing versions.
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
  const kept = ifMatch === undefined ? undefined : ctx.versions.take(keyToPath(ctx.layout.root, key), unquote(ifMatch));
  if (kept) return streamOf(ctx, kept, range, signal);
  const { version, info } = await openVersion(ctx, key, ifMatch !== undefined);
  try {
    assertVersion(info, ifMatch);
  } catch (err) {
    ctx.versions.release(version);
    throw err;
  }
  return streamOf(ctx, version, range, signal);
}

/**
 * The object's info and the bytes of `range` (clamped to the object) from one open handle: the
 * info is the fstat of the very file the bytes come from, so they always belong together. The
 * handle stays open a little for the next pages of this version.
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
  const { version, info } = await openVersion(ctx, key, true);
  return { info, body: streamOf(ctx, version, range, signal) };
}
