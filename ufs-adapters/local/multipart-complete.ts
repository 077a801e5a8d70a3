/**
 * CompleteMultipartUpload. POSIX has no "concatenate files" primitive, so the parts are
 * streamed, one at a time, into a single temp file (the one full copy of the data this
 * adapter makes), which is then committed like any PUT.
 */
import { createReadStream } from 'node:fs';
import { ufsError } from '../errors';
import { MIN_PART_SIZE, type CompletedPart, type ObjectMetadata, type WriteResult } from '../types';
import { commitFile } from './commit-object';
import { errnoCode, isAbortError, mapFsError } from './fs-errors';
import { throwIfAborted } from '../shared/abort';
import { writeNewFile } from './file-sink';
import type { LocalContext } from './local-context';
import { loadUpload, readPart, removeUploadDir } from './local-multipart';
import { stripQuotes } from './receive-body';
import { buildSidecar } from './sidecar-metadata';
import { mergeMetadata } from '../object-metadata';
import { newTempPath, removeQuietly } from './temp-files';
import { mkdirBelowRoot } from './mount-root';
import { checkPartOrder, checkPartSizes, matchPart, multipartEtag } from '../shared/multipart-parts';

interface ValidPart {
  partNumber: number;
  path: string;
  size: number;
  md5: Buffer;
}

/** S3's checks, in S3's order: InvalidPartOrder, InvalidPart, EntityTooSmall. */
async function validateParts(dir: string, parts: CompletedPart[]): Promise<ValidPart[]> {
  checkPartOrder(parts);
  const valid: ValidPart[] = [];
  for (const requested of parts) {
    const stored = matchPart(await readPart(dir, requested.partNumber), requested);
    valid.push({ partNumber: stored.partNumber, path: stored.path, size: stored.size, md5: Buffer.from(stripQuotes(stored.etag), 'hex') });
  }
  checkPartSizes(valid, MIN_PART_SIZE);
  return valid;
}

/** Reads the parts one after another (one open part file at a time). */
async function* concatenated(parts: ValidPart[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield* createReadStream(part.path) as AsyncIterable<Buffer>;
}

export async function completeUpload(
  ctx: LocalContext,
  key: string,
  uploadId: string,
  parts: CompletedPart[],
  signal?: AbortSignal,
  late?: Partial<ObjectMetadata>,
): Promise<WriteResult> {
  throwIfAborted(signal);
  const upload = await loadUpload(ctx, key, uploadId);
  const valid = await validateParts(upload.dir, parts);
  const expectedSize = valid.reduce((sum, part) => sum + part.size, 0);

  await mkdirBelowRoot(ctx.layout.root, ctx.layout.tmpDir).catch((err: unknown) => {
    throw mapFsError(err, 'complete multipart upload', 'Unavailable');
  });
  const tempPath = newTempPath(ctx.layout.tmpDir, 'complete');
  let written;
  try {
    written = await writeNewFile(tempPath, concatenated(valid), { signal });
  } catch (err) {
    if (signal?.aborted || isAbortError(err)) throw ufsError('Aborted', 'multipart completion aborted', signal?.reason ?? err);
    if (errnoCode(err) === 'ENOENT') throw ufsError('InvalidPart', 'a part disappeared during completion', err);
    throw mapFsError(err, 'complete multipart upload', 'Unavailable');
  }
  const etag = multipartEtag(valid.map((part) => part.md5));
  try {
    if (written.size !== expectedSize) throw ufsError('InvalidPart', 'a part changed during completion');
    const partSizes = valid.map((part) => part.size);
    await commitFile(ctx, key, tempPath, buildSidecar(mergeMetadata(upload.metadata, late), { etag, size: written.size, mtimeMs: written.mtimeMs, partSizes }));
  } catch (err) {
    await removeQuietly(tempPath);
    throw err;
  }
  await removeUploadDir(upload.dir).catch(() => undefined);
  return { etag, size: written.size, lastModified: new Date(written.mtimeMs) };
}
