/**
 * CompleteMultipartUpload. POSIX has no "concatenate files" primitive, so the parts are
 * streamed, one at a time, into a single temp file (the one full copy of the data this
 * adapter makes), which is then committed like any PUT.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { ufsError } from '../errors';
import { MIN_PART_SIZE, type CompletedPart, type ObjectMetadata, type WriteResult } from '../types';
import { commitFile } from './commit-object';
import { errnoCode, isAbortError, mapFsError, throwIfAborted } from './fs-errors';
import { writeNewFile } from './file-sink';
import type { LocalContext } from './local-context';
import { loadUpload, readPart, removeUploadDir } from './local-multipart';
import { stripQuotes } from './receive-body';
import { buildSidecar } from './sidecar-metadata';
import { mergeMetadata } from '../object-metadata';
import { newTempPath, removeQuietly } from './temp-files';
import { mkdirBelowRoot } from './mount-root';

interface ValidPart {
  partNumber: number;
  path: string;
  size: number;
  md5: Buffer;
}

/** S3's checks, in S3's order: InvalidPartOrder, InvalidPart, EntityTooSmall. */
async function validateParts(dir: string, parts: CompletedPart[]): Promise<ValidPart[]> {
  if (parts.length === 0) throw ufsError('InvalidPartOrder', 'the part list must not be empty');
  parts.forEach((part, i) => {
    if (i > 0 && part.partNumber <= parts[i - 1].partNumber) {
      throw ufsError('InvalidPartOrder', 'the part list must be in strictly ascending part number order');
    }
  });
  const valid: ValidPart[] = [];
  for (const requested of parts) {
    const stored = await readPart(dir, requested.partNumber);
    if (!stored || stripQuotes(stored.etag) !== stripQuotes(String(requested.etag))) {
      throw ufsError('InvalidPart', `part ${requested.partNumber} was not found or its ETag does not match`);
    }
    valid.push({ partNumber: stored.partNumber, path: stored.path, size: stored.size, md5: Buffer.from(stripQuotes(stored.etag), 'hex') });
  }
  valid.forEach((part, i) => {
    if (i < valid.length - 1 && part.size < MIN_PART_SIZE) {
      throw ufsError('EntityTooSmall', `part ${part.partNumber} is smaller than the minimum part size`);
    }
  });
  return valid;
}

/** Reads the parts one after another (one open part file at a time). */
async function* concatenated(parts: ValidPart[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield* createReadStream(part.path) as AsyncIterable<Buffer>;
}

const multipartEtag = (md5s: Buffer[]): string =>
  `"${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${md5s.length}"`;

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
