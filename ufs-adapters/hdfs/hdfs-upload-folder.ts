/**
 * A multipart upload's folder and what it records:
 *   <root>/.ringcache/uploads/<uploadId>          xattr user.ringcache.upload = {key, initiated, metadata}
 *   <root>/.ringcache/uploads/<uploadId>/part-<n> xattr user.ringcache.part   = {etag, size, mtime}
 * A part's record is valid only while the file has the recorded length and modificationTime.
 * While a completion runs, an `assembly` record on the folder names the parts CONCAT consumes
 * (hdfs-multipart-complete.ts).
 */
import { ufsError } from '../errors';
import type { ChecksumMap, MultipartUpload, ObjectMetadata } from '../types';
import { mapAhead } from '../shared/ordered-prefetch';
import { isUploadId } from '../upload-id';
import type { HdfsContext } from './hdfs-context';
import { hdfsError } from './hdfs-errors';
import { directoryEntries } from './hdfs-list';
import { ASSEMBLY_XATTR, PART_XATTR, UPLOAD_XATTR, decodeJson } from './hdfs-metadata';
import { parseMetadata } from '../shared/stored-metadata';
import { statusOf, xattrsOf } from './hdfs-object';
import type { FileStatus } from './webhdfs-client';

const PART_FILE = /^part-([1-9][0-9]{0,4})$/;

export interface PartRecord {
  v: 1;
  etag: string;
  size: number;
  mtime: number;
  checksums?: ChecksumMap;
}

export interface AssemblyRecord {
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

export interface ValidPart {
  partNumber: number;
  path: string;
  size: number;
  etag: string;
  lastModified: Date;
  checksums?: ChecksumMap;
}

export async function* fromArray<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

const noSuchUpload = (cause?: unknown) => ufsError('NoSuchUpload', 'the multipart upload does not exist', cause);
export const NO_SUCH_UPLOAD = { FileNotFoundException: 'NoSuchUpload', ParentNotDirectoryException: 'NoSuchUpload' } as const;

export function uploadDirOf(ctx: HdfsContext, uploadId: string): string {
  if (!isUploadId(uploadId)) throw noSuchUpload();
  return `${ctx.layout.uploadsDir}/${uploadId}`;
}

export const partPathOf = (dir: string, partNumber: number): string => `${dir}/part-${partNumber}`;

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

/** A stored part, or undefined when it is missing or its record does not match its file. */
export async function readPart(ctx: HdfsContext, dir: string, partNumber: number, known?: FileStatus, signal?: AbortSignal): Promise<ValidPart | undefined> {
  const path = partPathOf(dir, partNumber);
  const [status, attrs] = await Promise.all([known ?? statusOf(ctx, path, signal), xattrsOf(ctx, path, signal)]);
  const raw = decodeJson(attrs?.get(PART_XATTR));
  if (!status || status.type !== 'FILE' || !raw || typeof raw.etag !== 'string') return undefined;
  if (raw.size !== status.length || raw.mtime !== status.modificationTime) return undefined;
  const checksums = typeof raw.checksums === 'object' && raw.checksums !== null ? (raw.checksums as ChecksumMap) : undefined;
  return { partNumber, path, size: status.length, etag: raw.etag, lastModified: new Date(status.modificationTime), ...(checksums ? { checksums } : {}) };
}

/** Part files of an upload folder, by part number. */
export async function partFiles(ctx: HdfsContext, dir: string, signal?: AbortSignal): Promise<Map<number, FileStatus>> {
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

/** Uploads found in the uploads folder (records unreadable or missing are skipped). */
export async function storedUploads(ctx: HdfsContext, signal?: AbortSignal): Promise<Array<StoredUpload & { status: FileStatus }>> {
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
