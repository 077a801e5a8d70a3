/**
 * Object metadata lives next to the data in a JSON sidecar:
 *   <root>/.ringcache/meta/<key>.meta.json      for a file key "a/b"
 *   <root>/.ringcache/meta/<dir>/.meta.json     for a folder marker "a/"
 * A file sidecar is trusted only while the data file still has the size and mtime it
 * recorded; NFS users who change a file behind the gateway's back invalidate it, and the
 * object falls back to synthetic metadata.
 */
import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Stats } from 'node:fs';
import { ufsError } from '../errors';
import type { ChecksumMap, ObjectHttpMetadata, ObjectInfo, ObjectMetadata } from '../types';
import { errnoCode, isConflict, mapFsError } from './fs-errors';
import { isFolderKey, keySegments } from './key-path';
import { isInside, type LocalLayout } from './local-layout';
import { writeJsonAtomic } from './temp-files';
import { utf8Length } from '../utf8-order';

const SIDECAR_SUFFIX = '.meta.json';

export interface SidecarRecord extends ObjectHttpMetadata {
  version: 1;
  /** Quoted ETag. */
  etag: string;
  size: number;
  /** mtime of the data file when it was committed (folder markers: commit time). */
  mtimeMs: number;
  userMetadata: Record<string, string>;
  checksums?: ChecksumMap;
  partSizes?: number[];
  acl?: string;
  checksumAlgorithm?: string;
}

/** The string fields of the metadata: HTTP metadata, and the object's encoded ACL. */
const HTTP_FIELDS = ['contentType', 'contentEncoding', 'contentDisposition', 'contentLanguage', 'cacheControl', 'expires', 'acl', 'checksumAlgorithm'] as const;

/** Suffix of sidecars whose name would exceed NAME_MAX: the name is hashed instead. */
const LONG_SIDECAR_SUFFIX = '.long.json';
const MAX_NAME_BYTES = 255;

/** Sidecar file name for the last key segment `name` (a name ending in .long.json never ends in .meta.json). */
function sidecarName(name: string): string {
  const plain = name + SIDECAR_SUFFIX;
  if (utf8Length(plain) <= MAX_NAME_BYTES) return plain;
  return createHash('sha256').update(name, 'utf8').digest('hex') + LONG_SIDECAR_SUFFIX;
}

function sidecarPath(layout: LocalLayout, key: string): string {
  const segments = keySegments(key);
  const file = isFolderKey(key)
    ? path.join(layout.metaDir, ...segments, SIDECAR_SUFFIX)
    : path.join(layout.metaDir, ...segments.slice(0, -1), sidecarName(segments[segments.length - 1]));
  if (!isInside(layout.metaDir, file)) throw ufsError('InvalidKey', 'key resolves outside the mount root');
  return file;
}

/** Builds a sidecar from client metadata plus the facts of the committed data. */
export function buildSidecar(
  metadata: ObjectMetadata,
  facts: { etag: string; size: number; mtimeMs: number; partSizes?: number[] },
): SidecarRecord {
  const record: SidecarRecord = {
    version: 1,
    etag: facts.etag,
    size: facts.size,
    mtimeMs: facts.mtimeMs,
    userMetadata: { ...metadata.userMetadata },
  };
  for (const field of HTTP_FIELDS) {
    const value = metadata[field];
    if (value !== undefined) record[field] = value;
  }
  if (metadata.checksums && Object.keys(metadata.checksums).length > 0) record.checksums = { ...metadata.checksums };
  if (facts.partSizes) record.partSizes = [...facts.partSizes];
  return record;
}

/** The client-visible metadata stored in a sidecar. */
function metadataOf(record: SidecarRecord): ObjectMetadata {
  const metadata: ObjectMetadata = { userMetadata: { ...record.userMetadata } };
  for (const field of HTTP_FIELDS) {
    const value = record[field];
    if (value !== undefined) metadata[field] = value;
  }
  if (record.checksums) metadata.checksums = { ...record.checksums };
  return metadata;
}

export { mergeMetadata } from '../object-metadata';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const stringEntries = (value: unknown): Record<string, string> =>
  isRecord(value) ? Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string')) : {};

/** Client-visible metadata from untrusted JSON, keeping only well-typed known fields. */
export function parseMetadata(raw: unknown): ObjectMetadata {
  const source = isRecord(raw) ? raw : {};
  const metadata: ObjectMetadata = { userMetadata: stringEntries(source.userMetadata) };
  for (const field of HTTP_FIELDS) {
    const value = source[field];
    if (typeof value === 'string') metadata[field] = value;
  }
  if (isRecord(source.checksums)) metadata.checksums = stringEntries(source.checksums) as ChecksumMap;
  return metadata;
}

function parseSidecar(raw: unknown): SidecarRecord | undefined {
  if (!isRecord(raw) || typeof raw.etag !== 'string' || typeof raw.size !== 'number' || typeof raw.mtimeMs !== 'number') {
    return undefined;
  }
  const facts = { etag: raw.etag, size: raw.size, mtimeMs: raw.mtimeMs };
  const partSizes = Array.isArray(raw.partSizes) && raw.partSizes.every((n) => typeof n === 'number') ? raw.partSizes : undefined;
  return buildSidecar(parseMetadata(raw), { ...facts, partSizes });
}

/** The sidecar of `key`, or undefined when there is none (or it is unreadable JSON). */
export async function readSidecar(layout: LocalLayout, key: string): Promise<SidecarRecord | undefined> {
  let text: string;
  try {
    text = await readFile(sidecarPath(layout, key), 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw mapFsError(err, 'read object metadata');
  }
  try {
    return parseSidecar(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** Atomically replaces the sidecar of `key` (temp file + rename). */
export async function writeSidecar(layout: LocalLayout, key: string, record: SidecarRecord): Promise<void> {
  try {
    await writeJsonAtomic(layout.root, layout.tmpDir, sidecarPath(layout, key), record);
  } catch (err) {
    if (isConflict(err)) {
      throw ufsError('PathConflict', 'the metadata of this key collides with another key (a folder segment ending in .meta.json)', err);
    }
    throw mapFsError(err, 'write object metadata', 'Unavailable');
  }
}

export async function removeSidecar(layout: LocalLayout, key: string): Promise<void> {
  await rm(sidecarPath(layout, key), { force: true }).catch((err: unknown) => {
    const code = errnoCode(err);
    if (code === 'ENOTDIR' || code === 'EISDIR') return;
    throw mapFsError(err, 'delete object metadata', 'Unavailable');
  });
}

/** A file sidecar is valid only while the data file has the size and mtime it recorded. */
const sidecarMatches = (record: SidecarRecord, stats: Stats): boolean =>
  record.size === stats.size && record.mtimeMs === stats.mtimeMs;

/**
 * ETag for files without a valid sidecar (written by NFS users). NOT a content MD5: it
 * changes whenever the file's size, mtime or inode changes, which is what caches need.
 */
const syntheticEtag = (stats: Stats): string =>
  `"${createHash('md5').update(`${stats.size}-${stats.mtimeMs}-${stats.ino}`).digest('hex')}"`;

/** ObjectInfo of a data file, from its sidecar when valid, else synthetic. */
export function fileObjectInfo(key: string, stats: Stats, record: SidecarRecord | undefined): ObjectInfo {
  const valid = record !== undefined && sidecarMatches(record, stats);
  const info: ObjectInfo = {
    key,
    size: stats.size,
    etag: valid ? record.etag : syntheticEtag(stats),
    lastModified: new Date(stats.mtimeMs),
    ...(valid ? metadataOf(record) : { userMetadata: {} }),
  };
  if (valid && record.partSizes) info.partSizes = [...record.partSizes];
  return info;
}

/** ObjectInfo of a folder marker (always empty). */
export function markerObjectInfo(key: string, record: SidecarRecord): ObjectInfo {
  return { key, size: 0, etag: record.etag, lastModified: new Date(record.mtimeMs), ...metadataOf(record) };
}
