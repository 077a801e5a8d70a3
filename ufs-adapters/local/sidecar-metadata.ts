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
import { isFolderKey, keySegments } from '../shared/key-path';
import { isInside, type LocalLayout } from './local-layout';
import { writeJsonAtomic } from './temp-files';
import { utf8Length } from '../utf8-order';
import { STRING_FIELDS, fileObjectInfo as storedFileInfo, isRecord, markerObjectInfo as storedMarkerInfo, parseMetadata } from '../shared/stored-metadata';

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
  /** Part checksums of a COMPOSITE multipart object (absent in sidecars written before them). */
  partChecksums?: string[];
  acl?: string;
  checksumAlgorithm?: string;
}

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
  for (const field of STRING_FIELDS) {
    const value = metadata[field];
    if (value !== undefined) record[field] = value;
  }
  if (metadata.checksums && Object.keys(metadata.checksums).length > 0) record.checksums = { ...metadata.checksums };
  if (metadata.partChecksums) record.partChecksums = [...metadata.partChecksums];
  if (facts.partSizes) record.partSizes = [...facts.partSizes];
  return record;
}

export { mergeMetadata } from '../object-metadata';

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

/** ObjectInfo of a data file, from its sidecar when valid, else synthetic. */
export function fileObjectInfo(key: string, stats: Stats, record: SidecarRecord | undefined): ObjectInfo {
  const valid = record !== undefined && sidecarMatches(record, stats);
  return storedFileInfo(key, { size: stats.size, mtimeMs: stats.mtimeMs, id: stats.ino }, valid ? record : undefined);
}

/** ObjectInfo of a folder marker (always empty). */
export const markerObjectInfo = (key: string, record: SidecarRecord): ObjectInfo => storedMarkerInfo(key, record, record.mtimeMs);
