/**
 * CompleteMultipartUpload. The parts are checked as S3 checks them, then joined by CONCAT: they
 * are moved, block by block, onto the first non-empty part (no data is copied; empty parts are
 * left out, since HDFS refuses empty CONCAT sources), which then gets the object's record and
 * is renamed over the key. CONCAT consumes its sources, so an `assembly` record on the upload
 * folder lets a completion that failed after CONCAT be retried with the same part list. When
 * the NameNode refuses CONCAT (before Hadoop 2.7 every file but the last needed whole blocks;
 * encryption zones, differing block sizes or EC policies), the parts are streamed into one
 * temp file instead.
 */
import { Readable } from 'node:stream';
import { ufsError } from '../errors';
import { MIN_PART_SIZE, type CompletedPart, type ObjectMetadata, type WriteResult } from '../types';
import { mapAhead } from '../shared/ordered-prefetch';
import { commitFile, conflict, ensureParent, setRecord } from './hdfs-commit';
import type { HdfsContext } from './hdfs-context';
import { WebHdfsError, hdfsError } from './hdfs-errors';
import { throwIfAborted } from '../shared/abort';
import { pathOfKey } from './hdfs-layout';
import { ASSEMBLY_XATTR, PART_XATTR, buildRecord, encodeRecord, mergeMetadata, stripQuotes } from './hdfs-metadata';
import { checkPartOrder, checkPartSizes, matchPart, multipartEtag } from '../shared/multipart-parts';
import { recordOf, statusOf } from './hdfs-object';
import { deleteQuietly, newTempPath, uploadBody } from './hdfs-upload';
import { NO_SUCH_UPLOAD, fromArray, loadUpload, partFiles, partPathOf, readPart, type AssemblyRecord, type StoredUpload, type ValidPart } from './hdfs-upload-folder';

/** S3's checks, in S3's order: InvalidPartOrder, InvalidPart, EntityTooSmall. */
async function validateParts(ctx: HdfsContext, dir: string, parts: CompletedPart[], signal?: AbortSignal): Promise<ValidPart[]> {
  checkPartOrder(parts);
  const files = await partFiles(ctx, dir, signal);
  const valid: ValidPart[] = [];
  const read = async (requested: CompletedPart) => ({
    requested,
    stored: files.has(requested.partNumber) ? await readPart(ctx, dir, requested.partNumber, files.get(requested.partNumber), signal) : undefined,
  });
  for await (const { requested, stored } of mapAhead(fromArray(parts), ctx.lookahead, read)) valid.push(matchPart(stored, requested));
  checkPartSizes(valid, MIN_PART_SIZE);
  return valid;
}

/** Refuses, before any part is consumed, a key that a folder (with content or a marker) or a file parent blocks. */
async function checkDestination(ctx: HdfsContext, key: string, signal?: AbortSignal): Promise<void> {
  const dest = pathOfKey(ctx.layout, key);
  await ensureParent(ctx, dest, signal, 'complete multipart upload');
  const status = await statusOf(ctx, dest, signal);
  if (status?.type === 'DIRECTORY' && ((status.childrenNum ?? 0) > 0 || (await recordOf(ctx, dest, signal)))) throw conflict();
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
