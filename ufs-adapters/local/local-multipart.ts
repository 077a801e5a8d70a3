/**
 * Multipart uploads, one folder each:
 *   <root>/.ringcache/uploads/<uploadId>/upload.json     {key, initiated, metadata}
 *   <root>/.ringcache/uploads/<uploadId>/part-<n>        the part's bytes
 *   <root>/.ringcache/uploads/<uploadId>/part-<n>.json   {etag, size, lastModified, mtimeMs}
 * A part's JSON is valid only while the part file has the size and mtime it recorded
 * (same rule as object sidecars), so a crash mid-commit reads as "part missing".
 */
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ufsError } from '../errors';
import type { ChecksumMap, MultipartUpload, ObjectMetadata, PartInfo, UploadPartRequest } from '../types';
import { errnoCode, isJsonSyntaxError, isMissing, mapFsError } from './fs-errors';
import { throwIfAborted } from '../shared/abort';
import { assertValidKey, isFolderKey } from '../shared/key-path';
import type { LocalContext } from './local-context';
import type { LocalLayout } from './local-layout';
import { receiveBody } from './receive-body';
import { quotedEtag } from '../object-metadata';
import { parseMetadata } from '../shared/stored-metadata';
import { newTempPath, releaseTemp, removeQuietly, writeJsonAtomic, writeJsonFile } from './temp-files';
import { compareUtf8 } from '../utf8-order';
import { mkdirBelowRoot } from './mount-root';
import { isUploadId, newUploadId } from '../upload-id';
import { assertPartNumber } from '../shared/multipart-parts';

const PART_FILE = /^part-([1-9][0-9]{0,4})$/;

interface StoredUpload extends MultipartUpload {
  metadata: ObjectMetadata;
  /** Absolute path of the upload's folder. */
  dir: string;
}

interface PartRecord {
  etag: string;
  size: number;
  lastModified: string;
  mtimeMs: number;
  checksums?: ChecksumMap;
}

const noSuchUpload = (cause?: unknown) => ufsError('NoSuchUpload', 'the multipart upload does not exist', cause);

/** The upload folder; the id is validated so it can never be a path. */
export function uploadDirOf(layout: LocalLayout, uploadId: string): string {
  if (!isUploadId(uploadId)) throw noSuchUpload();
  return path.join(layout.uploadsDir, uploadId);
}

const partPath = (dir: string, partNumber: number): string => path.join(dir, `part-${partNumber}`);
const partJsonPath = (dir: string, partNumber: number): string => `${partPath(dir, partNumber)}.json`;

/** Reads upload.json of any upload; undefined when missing or unreadable. */
export async function readUploadRecord(layout: LocalLayout, uploadId: string): Promise<StoredUpload | undefined> {
  const dir = uploadDirOf(layout, uploadId);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path.join(dir, 'upload.json'), 'utf8'));
  } catch (err) {
    if (isMissing(err) || isJsonSyntaxError(err)) return undefined;
    throw mapFsError(err, 'read multipart upload', 'NoSuchUpload');
  }
  const record = raw as { key?: unknown; initiated?: unknown; metadata?: unknown };
  const initiated = typeof record.initiated === 'string' ? new Date(record.initiated) : undefined;
  if (typeof record.key !== 'string' || !initiated || Number.isNaN(initiated.getTime())) return undefined;
  return { uploadId, key: record.key, initiated, metadata: parseMetadata(record.metadata), dir };
}

/** The upload `uploadId` of `key`; NoSuchUpload when missing or for another key. */
export async function loadUpload(ctx: LocalContext, key: string, uploadId: string): Promise<StoredUpload> {
  const upload = await readUploadRecord(ctx.layout, uploadId);
  if (!upload) await ctx.assertRoot(); // no upload because there is no store at the moment?
  if (!upload || upload.key !== key) throw noSuchUpload();
  return upload;
}

export async function createUpload(ctx: LocalContext, key: string, metadata: ObjectMetadata): Promise<MultipartUpload> {
  assertValidKey(key);
  if (isFolderKey(key)) throw ufsError('InvalidKey', "a folder key (ending in '/') must have an empty body");
  const uploadId = newUploadId();
  const dir = uploadDirOf(ctx.layout, uploadId);
  const initiated = new Date();
  try {
    await mkdirBelowRoot(ctx.layout.root, dir);
    await writeJsonAtomic(ctx.layout.root, ctx.layout.tmpDir, path.join(dir, 'upload.json'), {
      key,
      initiated: initiated.toISOString(),
      metadata: parseMetadata(metadata),
    });
  } catch (err) {
    await removeQuietly(dir);
    throw mapFsError(err, 'create multipart upload', 'Unavailable');
  }
  return { uploadId, key, initiated };
}

/** A stored part, or undefined when it is missing or its JSON does not match its bytes. */
export async function readPart(dir: string, partNumber: number): Promise<(PartInfo & { path: string }) | undefined> {
  try {
    const record = JSON.parse(await readFile(partJsonPath(dir, partNumber), 'utf8')) as Partial<PartRecord> | null;
    if (typeof record?.etag !== 'string' || typeof record.size !== 'number' || typeof record.lastModified !== 'string') return undefined;
    const stats = await stat(partPath(dir, partNumber));
    if (!stats.isFile() || stats.size !== record.size || stats.mtimeMs !== record.mtimeMs) return undefined;
    const checksums = record.checksums && typeof record.checksums === 'object' ? (record.checksums as ChecksumMap) : undefined;
    return { partNumber, etag: record.etag, size: record.size, lastModified: new Date(record.lastModified), path: partPath(dir, partNumber), ...(checksums ? { checksums } : {}) };
  } catch (err) {
    if (isMissing(err) || isJsonSyntaxError(err)) return undefined;
    throw mapFsError(err, 'read multipart part');
  }
}

/**
 * Streams a part to a temp file inside the upload folder, then commits it: JSON first,
 * then the rename (re-uploading a part number replaces it).
 */
export async function uploadPart(ctx: LocalContext, request: UploadPartRequest): Promise<PartInfo> {
  assertPartNumber(request.partNumber);
  const { dir } = await loadUpload(ctx, request.key, request.uploadId);
  const n = request.partNumber;
  const tempPath = newTempPath(dir, `part-${n}.tmp`);
  const received = await receiveBody(request.body, tempPath, request.signal, 'NoSuchUpload');
  try {
    const late = await request.beforeCommit?.();
    throwIfAborted(request.signal);
    const lastModified = new Date(received.mtimeMs);
    const record: PartRecord = {
      etag: quotedEtag(received.md5.toString('hex')),
      size: received.size,
      lastModified: lastModified.toISOString(),
      mtimeMs: received.mtimeMs,
    };
    if (late?.checksums && Object.keys(late.checksums).length > 0) record.checksums = { ...late.checksums };
    await ctx.locks.run(`upload:${request.uploadId}:${n}`, async () => {
      // Inside the upload folder, without recreating it: an aborted upload stays aborted.
      const jsonTemp = newTempPath(dir, `part-${n}.json.tmp`);
      try {
        await writeJsonFile(jsonTemp, record);
        await rename(jsonTemp, partJsonPath(dir, n));
        releaseTemp(jsonTemp);
        await rename(tempPath, partPath(dir, n));
        releaseTemp(tempPath);
      } catch (err) {
        await removeQuietly(jsonTemp);
        throw mapFsError(err, 'store multipart part', 'NoSuchUpload');
      }
    });
    return { partNumber: n, etag: record.etag, size: record.size, lastModified, ...(record.checksums ? { checksums: record.checksums } : {}) };
  } catch (err) {
    await removeQuietly(tempPath);
    throw err;
  }
}

export async function listParts(ctx: LocalContext, key: string, uploadId: string): Promise<PartInfo[]> {
  const { dir } = await loadUpload(ctx, key, uploadId);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw mapFsError(err, 'list multipart parts', 'NoSuchUpload');
  }
  const numbers = names.flatMap((name) => {
    const match = PART_FILE.exec(name);
    return match ? [Number(match[1])] : [];
  });
  const parts: PartInfo[] = [];
  for (const n of numbers.sort((a, b) => a - b)) {
    const part = await readPart(dir, n);
    if (part) parts.push({ partNumber: part.partNumber, etag: part.etag, size: part.size, lastModified: part.lastModified, ...(part.checksums ? { checksums: part.checksums } : {}) });
  }
  return parts;
}

export async function abortUpload(ctx: LocalContext, key: string, uploadId: string): Promise<void> {
  const { dir } = await loadUpload(ctx, key, uploadId);
  await removeUploadDir(dir);
}

export async function removeUploadDir(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch (err) {
    throw mapFsError(err, 'remove multipart upload', 'Unavailable');
  }
}

/** Upload ids present on disk (any folder name that is a valid id). */
export async function uploadIds(layout: LocalLayout): Promise<string[]> {
  try {
    return (await readdir(layout.uploadsDir)).filter((name) => isUploadId(name));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw mapFsError(err, 'list multipart uploads', 'Unavailable');
  }
}

/**
 * In-progress uploads whose key starts with `prefix`, ordered by key (UTF-8) then
 * initiation time. Reads all upload records (uploads in progress are few).
 */
export async function* listUploads(ctx: LocalContext, prefix: string): AsyncGenerator<MultipartUpload> {
  await ctx.assertRoot();
  const found: MultipartUpload[] = [];
  for (const uploadId of await uploadIds(ctx.layout)) {
    const upload = await readUploadRecord(ctx.layout, uploadId);
    if (upload && upload.key.startsWith(prefix)) found.push({ uploadId, key: upload.key, initiated: upload.initiated });
  }
  found.sort(
    (a, b) =>
      compareUtf8(a.key, b.key) || a.initiated.getTime() - b.initiated.getTime() || compareUtf8(a.uploadId, b.uploadId),
  );
  yield* found;
}
