/**
 * Object metadata lives in an extended attribute of the data file itself:
 * `user.ringcache.meta` = JSON {etag, size, mtime, HTTP metadata, x-amz-meta-*, checksums,
 * part sizes}, sent base64-encoded ("0s…"). Being part of the inode, it is written on the
 * temp file before the rename and so becomes visible atomically with the data, moves with
 * RENAME, and disappears with DELETE or an overwrite by another HDFS client.
 *
 * A record is trusted only while the file still has the length and modificationTime it
 * recorded (an APPEND or TRUNCATE by an HDFS user keeps the inode and its xattrs). Files
 * without a valid record get a synthetic ETag: quoted md5 of "<length>-<mtime>-<fileId>".
 */
import { ufsError } from '../errors';
import type { ChecksumMap, ObjectHttpMetadata, ObjectInfo, ObjectMetadata } from '../types';
import { fileObjectInfo as storedFileInfo, isRecord, markerObjectInfo as storedMarkerInfo, parseMetadata } from '../shared/stored-metadata';
import type { FileStatus } from './webhdfs-client';
import { validPartChecksums } from '../part-list-encoding';

export const META_XATTR = 'user.ringcache.meta';
export const PART_XATTR = 'user.ringcache.part';
export const UPLOAD_XATTR = 'user.ringcache.upload';
export const ASSEMBLY_XATTR = 'user.ringcache.assembly';

/** dfs.namenode.fs-limits.max-xattr-size (16384) counts the name without "user." plus the value. */
const MAX_XATTR_BYTES = 16384;
const MAX_RECORD_BYTES = MAX_XATTR_BYTES - 'ringcache.assembly'.length;

export interface ObjectRecord extends ObjectHttpMetadata {
  v: 1;
  /** Quoted ETag. */
  etag: string;
  size: number;
  /** modificationTime of the file when committed (folder markers: commit time). */
  mtime: number;
  userMetadata: Record<string, string>;
  checksums?: ChecksumMap;
  /** Part sizes of a multipart object, run-length encoded: [[size, count], ...]. */
  parts?: Array<[number, number]>;
  /** Part checksums of a COMPOSITE multipart object (absent in records written before them). */
  partChecksums?: string[];
  acl?: string;
  checksumAlgorithm?: string;
}

export { mergeMetadata } from '../object-metadata';

function encodeRuns(sizes: number[]): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const size of sizes) {
    const last = runs[runs.length - 1];
    if (last && last[0] === size) last[1]++;
    else runs.push([size, 1]);
  }
  return runs;
}

export function buildRecord(metadata: ObjectMetadata, facts: { etag: string; size: number; mtime: number; partSizes?: number[] }): ObjectRecord {
  const clean = parseMetadata(metadata);
  const record: ObjectRecord = { v: 1, etag: facts.etag, size: facts.size, mtime: facts.mtime, ...clean };
  if (facts.partSizes) record.parts = encodeRuns(facts.partSizes);
  return record;
}

/**
 * The xattr value of a record. If the record would exceed the NameNode's xattr size limit, part
 * checksums are dropped first (GetObjectAttributes then lists no parts), then part sizes (GET
 * ?partNumber then sees one part); anything else that large is refused.
 */
export function encodeRecord(record: object): Buffer {
  let json = Buffer.from(JSON.stringify(record), 'utf8');
  for (const field of ['partChecksums', 'parts'] as const) {
    if (json.length <= MAX_RECORD_BYTES || !(field in record)) continue;
    const { [field]: _dropped, ...rest } = record as Record<string, unknown>;
    record = rest;
    json = Buffer.from(JSON.stringify(record), 'utf8');
  }
  if (json.length > MAX_RECORD_BYTES) throw ufsError('Unavailable', 'the object metadata is too large for an HDFS extended attribute');
  return json;
}

export function decodeJson(value: Buffer | undefined): Record<string, unknown> | undefined {
  if (!value) return undefined;
  try {
    const parsed: unknown = JSON.parse(value.toString('utf8'));
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function decodeObjectRecord(value: Buffer | undefined): ObjectRecord | undefined {
  const raw = decodeJson(value);
  if (!raw || typeof raw.etag !== 'string' || typeof raw.size !== 'number' || typeof raw.mtime !== 'number') return undefined;
  const record: ObjectRecord = { v: 1, etag: raw.etag, size: raw.size, mtime: raw.mtime, ...parseMetadata(raw) };
  if (Array.isArray(raw.parts) && raw.parts.every((r) => Array.isArray(r) && r.length === 2 && r.every((n) => Number.isInteger(n) && n >= 0))) {
    record.parts = raw.parts as Array<[number, number]>;
  }
  return record;
}

function partSizesOf(record: ObjectRecord): number[] | undefined {
  if (!record.parts) return undefined;
  return record.parts.flatMap(([size, count]) => Array.from({ length: count }, () => size));
}

/** A record is valid only for the file state it was written for. */
const recordMatches = (record: ObjectRecord, status: FileStatus): boolean =>
  record.size === status.length && record.mtime === status.modificationTime;

/** ObjectInfo of a data file, from its record when valid, else synthetic. */
export function fileObjectInfo(key: string, status: FileStatus, record: ObjectRecord | undefined): ObjectInfo {
  const valid = record !== undefined && recordMatches(record, status);
  const file = { size: status.length, mtimeMs: status.modificationTime, id: status.fileId };
  return storedFileInfo(key, file, valid ? { ...record, partSizes: partSizesOf(record) } : undefined);
}

export const markerObjectInfo = (key: string, record: ObjectRecord): ObjectInfo => storedMarkerInfo(key, record, record.mtime);

import { unquoteEtag as stripQuotes } from '../object-metadata';
export { stripQuotes };
