/**
 * Multipart uploads, one folder each:
 *   <root>/.ringcache/uploads/<uploadId>          xattr user.ringcache.upload = {key, initiated, metadata}
 *   <root>/.ringcache/uploads/<uploadId>/part-<n> xattr user.ringcache.part   = {etag, size, mtime}
 * A part is written to `part-<n>.tmp-<uuid>` (CREATE with createparent=false, so an aborted
 * upload is not recreated) and renamed over `part-<n>`; its record is valid only while the
 * file has the recorded length and modificationTime.
 *
 * Completion uses CONCAT: the parts are moved, block by block, onto the first non-empty part
 * (no data is copied; empty parts are left out, since HDFS refuses empty CONCAT sources),
 * which then gets the object's record and is renamed over the key. CONCAT consumes its
 * sources, so an `assembly` record on the upload folder lets a completion that failed after
 * CONCAT be retried with the same part list. When the NameNode refuses CONCAT (before
 * Hadoop 2.7 every file but the last needed whole blocks; encryption zones, differing block
 * sizes or EC policies), the parts are streamed into one temp file instead.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ufsError } from '../errors';
import { MAX_PART_NUMBER, MIN_PART_SIZE, type ChecksumMap, type CompletedPart, type MultipartUpload, type ObjectMetadata, type PartInfo, type UploadPartRequest, type WriteResult } from '../types';
import { mapAhead } from '../local/ordered-prefetch';
import { compareUtf8 } from '../utf8-order';
import type { HdfsContext } from './hdfs-context';
import { WebHdfsError, hdfsError, isRemote, throwIfAborted } from './hdfs-errors';
import { assertValidHdfsKey, isFolderKey, parentOf, pathOfKey } from './hdfs-layout';
import { directoryEntries } from './hdfs-list';
import {
  ASSEMBLY_XATTR,
  PART_XATTR,
  UPLOAD_XATTR,
  buildRecord,
  decodeJson,
  encodeRecord,
  mergeMetadata,
  multipartEtag,
  parseMetadata,
  quotedEtag,
  stripQuotes,
} from './hdfs-metadata';
import { isMissing, recordOf, statusOf, xattrsOf } from './hdfs-object';
import { commitFile, deleteQuietly, newTempPath, setRecord, uploadBody } from './hdfs-write';
import type { FileStatus } from './webhdfs-client';
import { isUploadId, newUploadId } from '../upload-id';

const PART_FILE = /^part-([1-9][0-9]{0,4})$/;

interface PartRecord {
  v: 1;
  etag: string;
  size: number;
  mtime: number;
  checksums?: ChecksumMap;
}

interface AssemblyRecord {
  v: 1;
  parts: Array<{ n: number; etag: string; size: number }>;
  /** Part number of the CONCAT target. */
  target: number;
  size: number;
}

export interface StoredUpload extends MultipartUpload {
  metadata: ObjectMetadata;
  dir: string;
  assembly?: AssemblyRecord;
}

interface ValidPart {
  partNumber: number;
  path: string;
  size: number;
  etag: string;
  lastModified: Date;
  checksums?: ChecksumMap;
}

async function* fromArray<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

const noSuchUpload = (cause?: unknown) => ufsError('NoSuchUpload', 'the multipart upload does not exist', cause);
const NO_SUCH_UPLOAD = { FileNotFoundException: 'NoSuchUpload', ParentNotDirectoryException: 'NoSuchUpload' } as const;

function uploadDirOf(ctx: HdfsContext, uploadId: string): string {
  if (!isUploadId(uploadId)) throw noSuchUpload();
  return `${ctx.layout.uploadsDir}/${uploadId}`;
}

const partPathOf = (dir: string, partNumber: number): string => `${dir}/part-${partNumber}`;

function decodeAssembly(value: Buffer | undefined): AssemblyRecord | undefined {
  const raw = decodeJson(value);
  if (!raw || !Array.isArray(raw.parts) || typeof raw.target !== 'number' || typeof raw.size !== 'number') return undefined;
  return raw as unknown as AssemblyRecord;
}

function uploadFrom(uploadId: string, dir: string, attrs: Map<string, Buffer>): StoredUpload | undefined {
  const raw = decodeJson(attrs.get(UPLOAD_XATTR));
  const initiated = typeof raw?.initiated === 'string' ? new Date(raw.initiated) : undefined;
  if (!raw || typeof raw.key !== 'string' || !initiated || Number.isNaN(initiated.getTime())) return undefined;
  return { uploadId, key: raw.key, initiated, metadata: parseMetadata(raw.metadata), dir, assembly: decodeAssembly(attrs.get(ASSEMBLY_XATTR)) };
}

/** The upload `uploadId` of `key`; NoSuchUpload when missing or for another key. */
export async function loadUpload(ctx: HdfsContext, key: string, uploadId: string, signal?: AbortSignal): Promise<StoredUpload> {
  const dir = uploadDirOf(ctx, uploadId);
  let attrs: Map<string, Buffer> | undefined;
  try {
    attrs = await xattrsOf(ctx, dir, signal);
  } catch (err) {
    throw hdfsError(err, 'read multipart upload', NO_SUCH_UPLOAD);
  }
  const upload = attrs && uploadFrom(uploadId, dir, attrs);
  if (!upload || upload.key !== key) throw noSuchUpload();
  return upload;
}

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

function assertPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw ufsError('InvalidPart', `part numbers must be integers from 1 to ${MAX_PART_NUMBER}`);
  }
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

/** A stored part, or undefined when it is missing or its record does not match its file. */
async function readPart(ctx: HdfsContext, dir: string, partNumber: number, known?: FileStatus, signal?: AbortSignal): Promise<ValidPart | undefined> {
  const path = partPathOf(dir, partNumber);
  const [status, attrs] = await Promise.all([known ?? statusOf(ctx, path, signal), xattrsOf(ctx, path, signal)]);
  const raw = decodeJson(attrs?.get(PART_XATTR));
  if (!status || status.type !== 'FILE' || !raw || typeof raw.etag !== 'string') return undefined;
  if (raw.size !== status.length || raw.mtime !== status.modificationTime) return undefined;
  const checksums = typeof raw.checksums === 'object' && raw.checksums !== null ? (raw.checksums as ChecksumMap) : undefined;
  return { partNumber, path, size: status.length, etag: raw.etag, lastModified: new Date(status.modificationTime), ...(checksums ? { checksums } : {}) };
}

/** Part files of an upload folder, by part number. */
async function partFiles(ctx: HdfsContext, dir: string, signal?: AbortSignal): Promise<Map<number, FileStatus>> {
  const out = new Map<number, FileStatus>();
  try {
    for await (const entry of directoryEntries(ctx, dir, signal)) {
      const match = PART_FILE.exec(entry.pathSuffix);
      if (match && entry.type === 'FILE') out.set(Number(match[1]), entry);
    }
  } catch (err) {
    throw hdfsError(err, 'list multipart parts', NO_SUCH_UPLOAD);
  }
  return out;
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

/** Uploads found in the uploads folder (records unreadable or missing are skipped). */
async function storedUploads(ctx: HdfsContext, signal?: AbortSignal): Promise<Array<StoredUpload & { status: FileStatus }>> {
  const dirs: FileStatus[] = [];
  for await (const entry of directoryEntries(ctx, ctx.layout.uploadsDir, signal)) {
    if (entry.type === 'DIRECTORY' && isUploadId(entry.pathSuffix)) dirs.push(entry);
  }
  const found: Array<StoredUpload & { status: FileStatus }> = [];
  const read = async (status: FileStatus) => {
    const dir = `${ctx.layout.uploadsDir}/${status.pathSuffix}`;
    const attrs = await xattrsOf(ctx, dir, signal).catch(() => undefined);
    const upload = attrs && uploadFrom(status.pathSuffix, dir, attrs);
    return { status, upload };
  };
  for await (const { status, upload } of mapAhead(fromArray(dirs), ctx.lookahead, read)) {
    found.push(upload ? { ...upload, status } : { uploadId: status.pathSuffix, key: '', initiated: new Date(NaN), metadata: { userMetadata: {} }, dir: '', status });
  }
  return found;
}

/** In-progress uploads under `prefix`, ordered by key (UTF-8) then initiation time. Reads all records. */
export async function* listUploads(ctx: HdfsContext, prefix: string, signal?: AbortSignal): AsyncGenerator<MultipartUpload> {
  const found = (await storedUploads(ctx, signal))
    .filter((u) => u.dir !== '' && u.key.startsWith(prefix))
    .map(({ uploadId, key, initiated }) => ({ uploadId, key, initiated }));
  found.sort((a, b) => compareUtf8(a.key, b.key) || a.initiated.getTime() - b.initiated.getTime() || compareUtf8(a.uploadId, b.uploadId));
  yield* found;
}

/** S3's checks, in S3's order: InvalidPartOrder, InvalidPart, EntityTooSmall. */
async function validateParts(ctx: HdfsContext, dir: string, parts: CompletedPart[], signal?: AbortSignal): Promise<ValidPart[]> {
  if (parts.length === 0) throw ufsError('InvalidPartOrder', 'the part list must not be empty');
  parts.forEach((part, i) => {
    if (i > 0 && part.partNumber <= parts[i - 1].partNumber) {
      throw ufsError('InvalidPartOrder', 'the part list must be in strictly ascending part number order');
    }
  });
  const files = await partFiles(ctx, dir, signal);
  const valid: ValidPart[] = [];
  const read = async (requested: CompletedPart) => ({
    requested,
    stored: files.has(requested.partNumber) ? await readPart(ctx, dir, requested.partNumber, files.get(requested.partNumber), signal) : undefined,
  });
  for await (const { requested, stored } of mapAhead(fromArray(parts), ctx.lookahead, read)) {
    if (!stored || stripQuotes(stored.etag) !== stripQuotes(String(requested.etag))) {
      throw ufsError('InvalidPart', `part ${requested.partNumber} was not found or its ETag does not match`);
    }
    valid.push(stored);
  }
  valid.forEach((part, i) => {
    if (i < valid.length - 1 && part.size < MIN_PART_SIZE) {
      throw ufsError('EntityTooSmall', `part ${part.partNumber} is smaller than the minimum part size`);
    }
  });
  return valid;
}

/** Refuses, before any part is consumed, a key that a folder (with content or a marker) or a file parent blocks. */
async function checkDestination(ctx: HdfsContext, key: string, signal?: AbortSignal): Promise<void> {
  const dest = pathOfKey(ctx.layout, key);
  try {
    await ctx.client.mkdirs(parentOf(dest), signal);
  } catch (err) {
    if (isRemote(err, 'FileAlreadyExistsException', 'ParentNotDirectoryException')) {
      throw ufsError('PathConflict', 'a parent folder of the key is an existing object', err);
    }
    throw hdfsError(err, 'complete multipart upload');
  }
  const status = await statusOf(ctx, dest, signal);
  if (status?.type === 'DIRECTORY' && ((status.childrenNum ?? 0) > 0 || (await recordOf(ctx, dest, signal)))) {
    throw ufsError('PathConflict', 'a folder with this name already holds other objects (HDFS cannot hold a file and a folder of the same name)');
  }
}

/** Reads the parts one after another (one open part at a time). */
async function* concatenated(ctx: HdfsContext, parts: ValidPart[], signal?: AbortSignal): AsyncGenerator<Buffer> {
  for (const part of parts) {
    if (part.size === 0) continue;
    for await (const chunk of await ctx.client.open(part.path, undefined, signal)) yield Buffer.from(chunk as Uint8Array);
  }
}

interface Assembled {
  path: string;
  /** A temp file (deleted on failure) rather than a part file. */
  temp: boolean;
}

/** Streams the parts into one temp file (CONCAT refused): the one full copy of the data. */
async function assembleByCopy(ctx: HdfsContext, parts: ValidPart[], signal?: AbortSignal): Promise<Assembled> {
  const tempPath = newTempPath(ctx);
  try {
    await uploadBody(ctx, tempPath, Readable.from(concatenated(ctx, parts, signal)), signal);
  } catch (err) {
    throw hdfsError(err, 'complete multipart upload', { FileNotFoundException: 'InvalidPart' });
  }
  return { path: tempPath, temp: true };
}

/** The upload's data as one file: a lone part as is, several through CONCAT, else a copy. */
async function assemble(ctx: HdfsContext, upload: StoredUpload, parts: ValidPart[], size: number, signal?: AbortSignal): Promise<Assembled> {
  const nonEmpty = parts.filter((p) => p.size > 0);
  if (nonEmpty.length === 0) return assembleByCopy(ctx, [], signal);
  if (nonEmpty.length === 1) return { path: nonEmpty[0].path, temp: false };
  // CONCAT takes a comma-separated list of paths.
  if (ctx.layout.root.includes(',')) return assembleByCopy(ctx, parts, signal);
  const assembly: AssemblyRecord = { v: 1, parts: parts.map((p) => ({ n: p.partNumber, etag: p.etag, size: p.size })), target: nonEmpty[0].partNumber, size };
  try {
    await ctx.client.setXAttr(upload.dir, ASSEMBLY_XATTR, encodeRecord(assembly), 'CREATE,REPLACE', signal);
  } catch (err) {
    throw hdfsError(err, 'complete multipart upload', NO_SUCH_UPLOAD);
  }
  try {
    await ctx.client.concat(
      nonEmpty[0].path,
      nonEmpty.slice(1).map((p) => p.path),
      signal,
    );
    return { path: nonEmpty[0].path, temp: false };
  } catch (err) {
    // A RemoteException means the NameNode refused and changed nothing; anything else leaves
    // the outcome unknown, and the assembly record lets a retry find out.
    if (!(err instanceof WebHdfsError) || err.exception === undefined) throw hdfsError(err, 'complete multipart upload');
    await ctx.client.removeXAttr(upload.dir, ASSEMBLY_XATTR, signal).catch(() => undefined);
    return assembleByCopy(ctx, parts, signal);
  }
}

/** Gives the assembled file the object's record, renames it over the key and drops the upload. */
async function finish(
  ctx: HdfsContext,
  key: string,
  upload: StoredUpload,
  parts: Array<{ etag: string; size: number }>,
  assembled: Assembled,
  signal?: AbortSignal,
): Promise<WriteResult> {
  const size = parts.reduce((sum, p) => sum + p.size, 0);
  const etag = multipartEtag(parts.map((p) => Buffer.from(stripQuotes(p.etag), 'hex')));
  try {
    const status = await ctx.client.getFileStatus(assembled.path, signal);
    if (status.length !== size) throw ufsError('InvalidPart', 'a part changed during completion');
    const record = buildRecord(upload.metadata, { etag, size, mtime: status.modificationTime, partSizes: parts.map((p) => p.size) });
    await setRecord(ctx, assembled.path, record, 'CREATE,REPLACE', signal);
    await commitFile(ctx, key, assembled.path, signal);
    if (!assembled.temp) await ctx.client.removeXAttr(pathOfKey(ctx.layout, key), PART_XATTR, signal).catch(() => undefined);
    await deleteQuietly(ctx, upload.dir);
    return { etag, size, lastModified: new Date(status.modificationTime) };
  } catch (err) {
    if (assembled.temp) await deleteQuietly(ctx, assembled.path);
    throw hdfsError(err, 'complete multipart upload', { FileNotFoundException: 'InvalidPart' });
  }
}

/** A completion that stopped after CONCAT: only the same part list may finish it. */
async function resume(ctx: HdfsContext, key: string, upload: StoredUpload, assembly: AssemblyRecord, parts: CompletedPart[], signal?: AbortSignal): Promise<WriteResult | undefined> {
  const same =
    parts.length === assembly.parts.length &&
    parts.every((p, i) => p.partNumber === assembly.parts[i].n && stripQuotes(String(p.etag)) === stripQuotes(assembly.parts[i].etag));
  const targetPath = partPathOf(upload.dir, assembly.target);
  const status = await statusOf(ctx, targetPath, signal);
  if (status && status.length === assembly.size) {
    if (!same) throw ufsError('InvalidPart', 'the parts of this upload were already assembled for another part list');
    return finish(ctx, key, upload, assembly.parts, { path: targetPath, temp: false }, signal);
  }
  // CONCAT did not happen: forget the record and complete normally.
  await ctx.client.removeXAttr(upload.dir, ASSEMBLY_XATTR, signal).catch(() => undefined);
  return undefined;
}

export async function completeUpload(ctx: HdfsContext, key: string, uploadId: string, parts: CompletedPart[], signal?: AbortSignal, late?: Partial<ObjectMetadata>): Promise<WriteResult> {
  throwIfAborted(signal);
  const loaded = await loadUpload(ctx, key, uploadId, signal);
  const upload = { ...loaded, metadata: mergeMetadata(loaded.metadata, late) };
  if (upload.assembly) {
    const resumed = await resume(ctx, key, upload, upload.assembly, parts, signal);
    if (resumed) return resumed;
  }
  const valid = await validateParts(ctx, upload.dir, parts, signal);
  await checkDestination(ctx, key, signal);
  const size = valid.reduce((sum, p) => sum + p.size, 0);
  const assembled = await assemble(ctx, upload, valid, size, signal);
  return finish(ctx, key, upload, valid, assembled, signal);
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
