/**
 * S3 multipart uploads on GCS, one folder of temporary objects per upload:
 *   <prefix>.ringcache-uploads/<uploadId>/upload.json   {key, initiated, metadata}
 *   <prefix>.ringcache-uploads/<uploadId>/part-<n>      the part's bytes (md5Hash = part ETag)
 *   <prefix>.ringcache-uploads/<uploadId>/compose-<l>-<i> intermediates of a >32-part completion
 * Completion validates the part list like S3, composes the parts (pinned to the generations
 * that were validated) into the key in one final compose carrying all metadata, and then
 * deletes the upload's objects. The composed object has no md5Hash; its S3 ETag (md5 of the
 * parts' binary MD5s, "-N") and part sizes are stored in its custom metadata.
 */
import type { FileMetadata } from '@google-cloud/storage';
import { ufsError } from '../errors';
import { isChecksumAlgorithm, type ChecksumMap, type CompletedPart, type MultipartUpload, type ObjectMetadata, type PartInfo, type UploadPartRequest, type WriteResult } from '../types';
import { compareUtf8 } from '../utf8-order';
import { composeTree } from './compose-tree';
import { deleteQuietly, mapLimit, type GcsContext } from './gcs-context';
import { httpStatusOf, mapGcsError } from './gcs-errors';
import { throwIfAborted } from '../shared/abort';
import { listAllObjects, listPage } from './gcs-list';
import { ETAG_KEY, MAX_PART_SIZES_CHARS, PART_SIZES_KEY, md5Etag, toResource } from './gcs-metadata';
import { encodePartSizes } from '../part-list-encoding';
import { isValidUploadId, newUploadId } from './gcs-names';
import { downloadHandle } from './gcs-read';
import { putObject } from './gcs-upload';
import { parseMetadata } from '../shared/stored-metadata';
import { assertPartNumber, checkPartOrder, checkPartSizes, matchPart, multipartEtag } from '../shared/multipart-parts';

const PART_OBJECT = /\/part-([1-9][0-9]{0,4})$/;

interface StoredUpload extends MultipartUpload {
  metadata: ObjectMetadata;
}

interface StoredPart extends PartInfo {
  name: string;
  generation: string;
  md5: Buffer;
}

const noSuchUpload = (cause?: unknown) => ufsError('NoSuchUpload', 'the multipart upload does not exist', cause);

import { mergeMetadata } from '../object-metadata';

/** A part's checksums as custom metadata of its part object ("ringcache-checksum-<alg>"). */
const partChecksumMetadata = (checksums: ChecksumMap): Record<string, string> =>
  Object.fromEntries(Object.entries(checksums).map(([alg, value]) => [`ringcache-checksum-${alg.toLowerCase()}`, value as string]));

function partChecksumsOf(metadata: Record<string, unknown> | undefined): ChecksumMap | undefined {
  const out: ChecksumMap = {};
  for (const [name, value] of Object.entries(metadata ?? {})) {
    const alg = name.startsWith('ringcache-checksum-') ? name.slice('ringcache-checksum-'.length).toUpperCase() : '';
    if (isChecksumAlgorithm(alg) && typeof value === 'string') out[alg] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** upload.json of `uploadId`, or undefined when it is missing or unreadable. */
async function readUploadRecord(ctx: GcsContext, uploadId: string): Promise<StoredUpload | undefined> {
  let raw: unknown;
  try {
    const [data] = await downloadHandle(ctx, ctx.names.uploadRecord(uploadId)).download({ validation: false });
    raw = JSON.parse(data.toString('utf8'));
  } catch (err) {
    if (err instanceof SyntaxError || httpStatusOf(err) === 404) return undefined;
    throw mapGcsError(err, 'read multipart upload');
  }
  const record = raw as { key?: unknown; initiated?: unknown; metadata?: unknown };
  const initiated = typeof record.initiated === 'string' ? new Date(record.initiated) : undefined;
  if (typeof record.key !== 'string' || !initiated || Number.isNaN(initiated.getTime())) return undefined;
  return { uploadId, key: record.key, initiated, metadata: parseMetadata(record.metadata) };
}

/** The upload `uploadId` of `key`; NoSuchUpload when missing or for another key. */
export async function loadUpload(ctx: GcsContext, key: string, uploadId: string): Promise<StoredUpload> {
  if (!isValidUploadId(uploadId)) throw noSuchUpload();
  const upload = await readUploadRecord(ctx, uploadId);
  if (!upload || upload.key !== key) throw noSuchUpload();
  return upload;
}

export async function createUpload(ctx: GcsContext, key: string, metadata: ObjectMetadata): Promise<MultipartUpload> {
  ctx.names.assertWritable(key);
  const uploadId = newUploadId();
  const initiated = new Date();
  const record = JSON.stringify({ key, initiated: initiated.toISOString(), metadata: parseMetadata(metadata) });
  try {
    await ctx.bucket.file(ctx.names.uploadRecord(uploadId)).save(Buffer.from(record), {
      resumable: false,
      validation: false,
      metadata: { contentType: 'application/json' },
      preconditionOpts: { ifGenerationMatch: 0 },
    });
  } catch (err) {
    throw mapGcsError(err, 'create multipart upload');
  }
  return { uploadId, key, initiated };
}

/** Streams a part into `part-<n>` (replacing an earlier upload of that number only once it succeeded). */
export async function uploadPart(ctx: GcsContext, request: UploadPartRequest): Promise<PartInfo> {
  assertPartNumber(request.partNumber);
  await loadUpload(ctx, request.key, request.uploadId);
  let checksums: ChecksumMap | undefined;
  const result = await putObject(ctx, {
    name: ctx.names.part(request.uploadId, request.partNumber),
    body: request.body,
    signal: request.signal,
    action: 'upload part',
    commit: async () => {
      const late = await request.beforeCommit?.();
      checksums = late?.checksums && Object.keys(late.checksums).length > 0 ? { ...late.checksums } : undefined;
      return { contentType: 'application/octet-stream', ...(checksums ? { metadata: partChecksumMetadata(checksums) } : {}) };
    },
  });
  return {
    partNumber: request.partNumber,
    etag: md5Etag(result.md5),
    size: result.size,
    lastModified: new Date(result.resource.updated ?? Date.now()),
    ...(checksums ? { checksums } : {}),
  };
}

function storedPart(item: FileMetadata): StoredPart | undefined {
  const match = PART_OBJECT.exec(String(item.name));
  if (!match || typeof item.md5Hash !== 'string') return undefined;
  const md5 = Buffer.from(item.md5Hash, 'base64');
  const checksums = partChecksumsOf(item.metadata);
  return {
    partNumber: Number(match[1]),
    etag: md5Etag(md5),
    size: Number(item.size ?? 0),
    lastModified: new Date(item.updated ?? item.timeCreated ?? 0),
    name: String(item.name),
    generation: String(item.generation),
    md5,
    ...(checksums ? { checksums } : {}),
  };
}

/** The stored parts, by part number. */
async function storedParts(ctx: GcsContext, uploadId: string): Promise<StoredPart[]> {
  const parts: StoredPart[] = [];
  for await (const item of listAllObjects(ctx, `${ctx.names.uploadDir(uploadId)}part-`, 'list multipart parts')) {
    const part = storedPart(item);
    if (part) parts.push(part);
  }
  return parts.sort((a, b) => a.partNumber - b.partNumber);
}

export async function listParts(ctx: GcsContext, key: string, uploadId: string): Promise<PartInfo[]> {
  await loadUpload(ctx, key, uploadId);
  return (await storedParts(ctx, uploadId)).map(({ partNumber, etag, size, lastModified, checksums }) => ({ partNumber, etag, size, lastModified, ...(checksums ? { checksums } : {}) }));
}

/** S3's checks, in S3's order: InvalidPartOrder, InvalidPart, EntityTooSmall. */
function validateParts(ctx: GcsContext, requested: CompletedPart[], stored: StoredPart[]): StoredPart[] {
  checkPartOrder(requested);
  const byNumber = new Map(stored.map((part) => [part.partNumber, part]));
  const valid = requested.map((part) => matchPart(byNumber.get(part.partNumber), part));
  checkPartSizes(valid, ctx.minPartSize);
  return valid;
}

export async function completeUpload(
  ctx: GcsContext,
  key: string,
  uploadId: string,
  parts: CompletedPart[],
  signal?: AbortSignal,
  late?: Partial<ObjectMetadata>,
): Promise<WriteResult> {
  throwIfAborted(signal);
  const name = ctx.names.assertWritable(key);
  const loaded = await loadUpload(ctx, key, uploadId);
  const upload = { ...loaded, metadata: mergeMetadata(loaded.metadata, late) };
  const valid = validateParts(ctx, parts, await storedParts(ctx, uploadId));
  throwIfAborted(signal);

  const etag = multipartEtag(valid.map((part) => part.md5));
  const partSizes = valid.map((part) => part.size);
  const internal: Record<string, string> = { [ETAG_KEY]: etag };
  const encodedSizes = encodePartSizes(partSizes);
  if (encodedSizes.length <= MAX_PART_SIZES_CHARS) internal[PART_SIZES_KEY] = encodedSizes;
  let intermediates: string[] = [];
  let final: FileMetadata;
  try {
    ({ final } = await composeTree(
      ctx,
      valid.map((part) => ({ name: part.name, generation: part.generation })),
      name,
      toResource(upload.metadata, internal),
      (level, index) => ctx.names.composeIntermediate(uploadId, level, index),
      (planned) => (intermediates = planned),
    ));
  } catch (err) {
    await deleteQuietly(ctx, intermediates);
    const status = httpStatusOf(err);
    // A validated part was replaced or removed meanwhile (its pinned generation is gone).
    if (status === 404 || status === 412) throw ufsError('InvalidPart', 'a part changed during completion', err);
    throw mapGcsError(err, 'complete multipart upload');
  }
  // The upload record first: completing again now reports NoSuchUpload, as in S3.
  await deleteQuietly(ctx, [ctx.names.uploadRecord(uploadId)]);
  await removeUploadObjects(ctx, uploadId);
  const size = Number(final.size ?? 0);
  return { etag, size, lastModified: new Date(final.updated ?? Date.now()) };
}

/** Deletes every object of the upload's folder. */
async function removeUploadObjects(ctx: GcsContext, uploadId: string): Promise<void> {
  const names: string[] = [];
  for await (const item of listAllObjects(ctx, ctx.names.uploadDir(uploadId), 'remove multipart upload')) names.push(String(item.name));
  await deleteQuietly(ctx, names);
}

export async function abortUpload(ctx: GcsContext, key: string, uploadId: string): Promise<void> {
  await loadUpload(ctx, key, uploadId);
  try {
    await ctx.bucket.file(ctx.names.uploadRecord(uploadId)).delete({ ignoreNotFound: true });
  } catch (err) {
    throw mapGcsError(err, 'abort multipart upload');
  }
  await removeUploadObjects(ctx, uploadId);
}

/** Upload ids present in the bucket (the folders below .ringcache-uploads/). */
async function uploadIds(ctx: GcsContext): Promise<string[]> {
  const root = ctx.names.uploadsRoot;
  const ids: string[] = [];
  let pageToken: string | undefined;
  do {
    const page = await listPage(ctx, { prefix: root, delimiter: '/', pageToken }, 'list multipart uploads');
    for (const prefix of page.prefixes) {
      const id = prefix.slice(root.length, -1);
      if (isValidUploadId(id)) ids.push(id);
    }
    pageToken = page.nextPageToken;
  } while (pageToken);
  return ids;
}

/**
 * In-progress uploads whose key starts with `prefix`, ordered by key (UTF-8) then initiation
 * time. Reads every upload record (uploads in progress are few).
 */
export async function* listUploads(ctx: GcsContext, prefix: string): AsyncGenerator<MultipartUpload> {
  const records = await mapLimit(await uploadIds(ctx), ctx.concurrency, (id) => readUploadRecord(ctx, id));
  const found = records
    .filter((upload): upload is StoredUpload => upload !== undefined && upload.key.startsWith(prefix))
    .map(({ uploadId, key, initiated }) => ({ uploadId, key, initiated }));
  found.sort(
    (a, b) => compareUtf8(a.key, b.key) || a.initiated.getTime() - b.initiated.getTime() || compareUtf8(a.uploadId, b.uploadId),
  );
  yield* found;
}

/**
 * Removes uploads initiated more than `olderThanMs` ago, folders of uploads whose record is
 * gone (a part written after an abort) once all their objects are that old, and temporary
 * objects of interrupted PUTs. Returns the number of uploads and temporaries removed.
 */
export async function cleanupAbandoned(ctx: GcsContext, olderThanMs: number): Promise<number> {
  const cutoff = Date.now() - olderThanMs;
  const isOld = (item: FileMetadata): boolean => new Date(item.timeCreated ?? item.updated ?? 0).getTime() < cutoff;
  let removed = 0;
  for (const uploadId of await uploadIds(ctx)) {
    const record = await readUploadRecord(ctx, uploadId);
    if (record) {
      if (record.initiated.getTime() >= cutoff) continue;
    } else {
      let allOld = true;
      for await (const item of listAllObjects(ctx, ctx.names.uploadDir(uploadId), 'clean up uploads')) {
        if (!isOld(item)) {
          allOld = false;
          break;
        }
      }
      if (!allOld) continue;
    }
    await deleteQuietly(ctx, [ctx.names.uploadRecord(uploadId)]);
    await removeUploadObjects(ctx, uploadId);
    removed++;
  }
  const stale: string[] = [];
  for await (const item of listAllObjects(ctx, ctx.names.tmpRoot, 'clean up temporaries')) {
    if (isOld(item)) stale.push(String(item.name));
  }
  await deleteQuietly(ctx, stale);
  return removed + stale.length;
}
