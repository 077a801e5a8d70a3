/**
 * Multipart uploads: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts,
 * ListMultipartUploads. Parts stream to the UFS (never to RAM); completion is the
 * adapter's (native where the store has it).
 */
import { pipeline } from 'node:stream';
import { LRUCache } from 'lru-cache';
import type { ChecksumAlgorithm, ChecksumMap, CompletedPart, WriteResult } from '../../../ufs-adapters/types';
import { checkWriteConditions } from '../write-conditions';
import { writing } from '../object-writes';
import { header, principal, sendXml, type EndpointOf, type S3Context } from '../context';
import { errorLogLevel } from '../error-log-level';
import { s3Error, toS3Error } from '../errors';
import { CHECKSUM_ALGORITHMS, assertKeyLength, checksumHeader, metadataFromHeaders } from '../object-headers';
import {
  assertPartAlgorithm,
  checkClientObjectChecksum,
  checksumElement,
  checksumTypeOf,
  completionChecksum,
  compositePartChecksums,
  decodeUploadChecksum,
  encodeUploadChecksum,
  uploadChecksumOf,
  type CompletedPartChecksums,
} from '../multipart-checksum';
import { parseRange } from '../range';
import { IntegrityCheck, prepareUploadBody, readSmallBody } from '../upload-body';
import { XML_DECLARATION, ownerXml, parseRequestXml, renderXml, xmlDate, type XmlObject } from '../xml';
import { assertChildrenIn, childText, childrenNamed } from '../request-xml';
import { partNumberOf } from '../endpoint';
import { resolveCopySource } from './copy-source';
import { objectAclOfRequest } from '../acl/request-acl';
import { parseMaxKeys } from './list-page';
import { compareUtf8 } from '../../../ufs-adapters/utf8-order';

const MAX_PART_SIZE = 5 * 1024 ** 3;
/** The elements of a Part in CompleteMultipartUpload (S3's schema; the checksums are accepted and not used). */
const PART_ELEMENTS = ['PartNumber', 'ETag', 'ChecksumCRC32', 'ChecksumCRC32C', 'ChecksumCRC64NVME', 'ChecksumSHA1', 'ChecksumSHA256'];

export async function handleCreateMultipartUpload(ctx: S3Context<EndpointOf<'CreateMultipartUpload'>>): Promise<void> {
  const { endpoint, bucket } = ctx;
  assertKeyLength(endpoint.key);
  const metadata = metadataFromHeaders(ctx.request);
  const checksum = uploadChecksumOf(header(ctx.request, 'x-amz-checksum-algorithm'), header(ctx.request, 'x-amz-checksum-type'));
  if (checksum) metadata.checksumAlgorithm = encodeUploadChecksum(checksum);
  const acl = await objectAclOfRequest(ctx, bucket);
  if (acl !== undefined) metadata.acl = acl;
  const upload = await bucket.store.createMultipartUpload(endpoint.key, metadata);
  if (checksum) {
    ctx.reply.header('x-amz-checksum-algorithm', checksum.algorithm);
    ctx.reply.header('x-amz-checksum-type', checksum.type);
  }
  await sendXml(ctx, 'InitiateMultipartUploadResult', { Bucket: endpoint.bucket, Key: endpoint.key, UploadId: upload.uploadId });
}

export async function handleUploadPart(ctx: S3Context<EndpointOf<'UploadPart'>>): Promise<void> {
  const { endpoint, reply, services, signal, bucket } = ctx;
  const { uploadId, partNumber } = endpoint;
  const created = await bucket.store.getMultipartUpload(endpoint.key, uploadId); // NoSuchUpload before reading the body
  // The algorithm CreateMultipartUpload named: the part must not name another; without one of
  // its own, the gateway computes it, so every part of the upload has the checksum to combine.
  const expected = decodeUploadChecksum(created.metadata.checksumAlgorithm);
  const upload = prepareUploadBody(ctx.request, ctx.auth, services, 'UploadPart', MAX_PART_SIZE, { compute: expected?.algorithm });
  assertPartAlgorithm(expected, upload.named);
  const part = await bucket.store.uploadPart({
    uploadId,
    key: endpoint.key,
    partNumber,
    body: upload.body,
    beforeCommit: () => ({ checksums: upload.checksums() }),
    signal,
  });
  reply.header('etag', part.etag);
  for (const [alg, value] of Object.entries(upload.checksums())) reply.header(checksumHeader(alg as ChecksumAlgorithm), value);
  await reply.send();
}

export async function handleUploadPartCopy(ctx: S3Context<EndpointOf<'UploadPartCopy'>>): Promise<void> {
  const { endpoint, services, signal, bucket } = ctx;
  const { uploadId, partNumber } = endpoint;
  const created = await bucket.store.getMultipartUpload(endpoint.key, uploadId);
  const expected = decodeUploadChecksum(created.metadata.checksumAlgorithm);
  const source = await resolveCopySource(ctx);
  const rangeHeader = header(ctx.request, 'x-amz-copy-source-range');
  let range;
  if (rangeHeader !== undefined) {
    if (!/^bytes=\d+-\d+$/.test(rangeHeader.trim())) throw s3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last');
    range = parseRange(rangeHeader, source.info.size);
    const [, last] = rangeHeader.trim().slice(6).split('-').map(Number);
    if (!range || last >= source.info.size) throw s3Error('InvalidArgument', 'Range specified is not valid for source object of size: ' + source.info.size);
  }
  if ((range ? range.end - range.start + 1 : source.info.size) > MAX_PART_SIZE) throw s3Error('EntityTooLarge');
  const read = await source.openStream(range, signal);
  // An upload created with a checksum algorithm gets the copied part's checksum too.
  const integrity = new IntegrityCheck(undefined, {}, expected ? [expected.algorithm] : [], MAX_PART_SIZE);
  const body = pipeline(read, integrity, services.metrics.countBytes('UploadPartCopy', 'in'), () => undefined);
  let part;
  try {
    part = await bucket.store.uploadPart({ uploadId, key: endpoint.key, partNumber, body, beforeCommit: () => ({ checksums: { ...integrity.computed } }), signal });
  } finally {
    read.destroy();
  }
  const checksums = Object.fromEntries(Object.entries(integrity.computed).map(([alg, value]) => [checksumElement(alg as ChecksumAlgorithm), value]));
  await sendXml(ctx, 'CopyPartResult', { LastModified: xmlDate(part.lastModified), ETag: part.etag, ...checksums });
}

type RequestedPart = CompletedPart & CompletedPartChecksums;

/** The part list; a PartNumber is decimal digits (XML whitespace around them aside), as in the query. */
function parseCompleteRequest(xml: Buffer): RequestedPart[] {
  const doc = parseRequestXml(xml, 'CompleteMultipartUpload');
  assertChildrenIn(doc, ['Part']);
  const parts = childrenNamed(doc, 'Part');
  if (parts.length === 0) throw s3Error('MalformedXML');
  return parts.map((p) => {
    assertChildrenIn(p, PART_ELEMENTS);
    const partNumber = childText(p, 'PartNumber');
    const etag = childText(p, 'ETag');
    if (partNumber === undefined || etag === undefined) throw s3Error('MalformedXML');
    const checksums: ChecksumMap = {};
    for (const alg of CHECKSUM_ALGORITHMS) {
      const value = childText(p, checksumElement(alg));
      if (value !== undefined) checksums[alg] = value.trim();
    }
    return { partNumber: partNumberOf(partNumber.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '')), etag: etag.trim(), checksums };
  });
}

/** The object checksums of a CompleteMultipartUpload's headers (x-amz-checksum-<alg>). */
function objectChecksumHeaders(ctx: S3Context<EndpointOf<'CompleteMultipartUpload'>>): ChecksumMap {
  const out: ChecksumMap = {};
  for (const alg of CHECKSUM_ALGORITHMS) {
    const value = header(ctx.request, checksumHeader(alg));
    if (value !== undefined) out[alg] = value;
  }
  return out;
}

interface Completed {
  result: WriteResult;
  /** The object's checksum, when the upload named an algorithm. */
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
}

/** Completions answered in the last hour, so a client that timed out and retries gets the same answer. */
const recentlyCompleted = new LRUCache<string, Completed>({ max: 10_000, ttl: 3600_000 });
/** A completion slower than this answers 200 at once and keeps the connection alive, as S3 does. */
const SLOW_COMPLETION_MS = 2_000;
const KEEPALIVE_INTERVAL_MS = 10_000;

export async function handleCompleteMultipartUpload(ctx: S3Context<EndpointOf<'CompleteMultipartUpload'>>): Promise<void> {
  const { endpoint, request, reply, services, signal, bucket } = ctx;
  const { uploadId } = endpoint;
  // x-amz-checksum-* headers here are the assembled object's, not the XML body's.
  const body = await readSmallBody(request, ctx.auth, services, 'CompleteMultipartUpload', 4 * 1024 * 1024, { checksumHeadersAreNotForTheBody: true });
  const parts = parseCompleteRequest(body);
  const host = header(request, 'host') ?? 'localhost';
  const resultXml = ({ result, checksum }: Completed, declaration: boolean): string =>
    renderXml(
      'CompleteMultipartUploadResult',
      {
        Location: `http://${host}/${endpoint.bucket}/${endpoint.key.split('/').map(encodeURIComponent).join('/')}`,
        Bucket: endpoint.bucket,
        Key: endpoint.key,
        ETag: result.etag,
        ...(checksum ? { [checksumElement(checksum.algorithm)]: checksum.value, ChecksumType: checksumTypeOf(checksum.value) } : {}),
      },
      { declaration },
    );

  const memoKey = `${endpoint.bucket}\n${endpoint.key}\n${uploadId}`;
  const done = recentlyCompleted.get(memoKey);
  if (done) {
    reply.header('content-type', 'application/xml');
    await reply.send(resultXml(done, true));
    return;
  }
  await checkWriteConditions(request, bucket.store, endpoint.key, signal);

  // The parts' checksums against the stored ones, and the object's from them (S3's order of checks).
  const created = await bucket.store.getMultipartUpload(endpoint.key, uploadId, signal);
  const uploadChecksum = decodeUploadChecksum(created.metadata.checksumAlgorithm);
  const givenChecksums = objectChecksumHeaders(ctx);
  const checksumType = header(request, 'x-amz-checksum-type');
  const needsParts = uploadChecksum !== undefined || parts.some((p) => Object.keys(p.checksums).length > 0);
  const storedParts = needsParts ? await bucket.store.listParts(endpoint.key, uploadId, signal) : [];
  const objectChecksum = needsParts ? await completionChecksum(uploadChecksum, parts, storedParts) : undefined;
  checkClientObjectChecksum(uploadChecksum, givenChecksums, checksumType, objectChecksum);
  const checksum = uploadChecksum && objectChecksum !== undefined ? { algorithm: uploadChecksum.algorithm, value: objectChecksum } : undefined;
  // A COMPOSITE object also keeps its parts' checksums, for GetObjectAttributes' ObjectParts.
  const partChecksums = checksum ? compositePartChecksums(uploadChecksum, parts, storedParts) : undefined;
  const late = checksum ? { checksums: { [checksum.algorithm]: checksum.value }, ...(partChecksums ? { partChecksums } : {}) } : undefined;
  const completedParts: CompletedPart[] = parts.map(({ partNumber, etag }) => ({ partNumber, etag }));

  // Not tied to the client's signal: a client that gives up and retries finds the work done.
  const completion = writing(bucket, endpoint.key, (store) => store.completeMultipartUpload(endpoint.key, uploadId, completedParts, undefined, late)).then((result) => {
    const completed: Completed = { result, checksum };
    recentlyCompleted.set(memoKey, completed);
    return completed;
  });
  let timer: NodeJS.Timeout | undefined;
  const slow = await Promise.race([
    completion.then(() => false, () => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), SLOW_COMPLETION_MS))),
  ]);
  clearTimeout(timer);
  if (!slow) {
    reply.header('content-type', 'application/xml');
    await reply.send(resultXml(await completion, true));
    return;
  }

  // Slow (the store copies the parts): 200 now, whitespace while we work, then the result or
  // an <Error> in the body, which the SDKs check for on this operation.
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), 'content-type': 'application/xml' });
  raw.write(XML_DECLARATION);
  const keepalive = setInterval(() => raw.write(' '), KEEPALIVE_INTERVAL_MS);
  try {
    raw.end(resultXml(await completion, false));
  } catch (err) {
    const s3 = toS3Error(err);
    const level = errorLogLevel(s3);
    if (level !== 'debug') request.log[level]({ err, op: 'CompleteMultipartUpload' }, 'completion failed');
    raw.end(renderXml('Error', { Code: s3.code, Message: s3.message, RequestId: String(request.id) }, { namespace: false, declaration: false }));
  } finally {
    clearInterval(keepalive);
  }
}

export async function handleAbortMultipartUpload(ctx: S3Context<EndpointOf<'AbortMultipartUpload'>>): Promise<void> {
  await ctx.bucket.store.abortMultipartUpload(ctx.endpoint.key, ctx.endpoint.uploadId);
  await ctx.reply.code(204).send();
}

export async function handleListParts(ctx: S3Context<EndpointOf<'ListParts'>>): Promise<void> {
  const { endpoint, bucket } = ctx;
  const { uploadId } = endpoint;
  const maxParts = parseMaxKeys(endpoint.query.get('max-parts'), 'max-parts');
  const markerText = endpoint.query.get('part-number-marker') ?? '0';
  if (!/^\d{1,10}$/.test(markerText) || Number(markerText) > 2 ** 31 - 1) throw s3Error('InvalidArgument', 'part-number-marker must be an integer');
  const marker = Number(markerText);
  const all = (await bucket.store.listParts(endpoint.key, uploadId)).filter((p) => p.partNumber > marker);
  const page = all.slice(0, maxParts);
  const owner = ownerXml(principal(ctx.auth));
  const created = await bucket.store.getMultipartUpload(endpoint.key, uploadId);
  const checksum = decodeUploadChecksum(created.metadata.checksumAlgorithm);
  await sendXml(ctx, 'ListPartsResult', {
    Bucket: endpoint.bucket,
    Key: endpoint.key,
    UploadId: uploadId,
    Initiator: owner,
    Owner: owner,
    StorageClass: 'STANDARD',
    ChecksumAlgorithm: checksum?.algorithm,
    ChecksumType: checksum?.type,
    PartNumberMarker: marker,
    NextPartNumberMarker: page.length > 0 ? page[page.length - 1].partNumber : undefined,
    MaxParts: maxParts,
    IsTruncated: all.length > page.length,
    Part: page.map((p) => ({
      PartNumber: p.partNumber,
      LastModified: xmlDate(p.lastModified),
      ETag: p.etag,
      Size: p.size,
      ...Object.fromEntries(CHECKSUM_ALGORITHMS.filter((alg) => p.checksums?.[alg] !== undefined).map((alg) => [checksumElement(alg), p.checksums?.[alg]])),
    })),
  });
}

export async function handleListMultipartUploads(ctx: S3Context<EndpointOf<'ListMultipartUploads'>>): Promise<void> {
  const { endpoint, bucket } = ctx;
  const prefix = endpoint.query.get('prefix') ?? '';
  const keyMarker = endpoint.query.get('key-marker') ?? '';
  const uploadIdMarker = endpoint.query.get('upload-id-marker') ?? '';
  const maxUploads = parseMaxKeys(endpoint.query.get('max-uploads'), 'max-uploads');
  const uploads: XmlObject[] = [];
  let isTruncated = false;
  let next: { key: string; uploadId: string } | undefined;
  const owner = ownerXml(principal(ctx.auth));
  // Resume strictly after (key-marker, upload-id-marker) in the adapter's order (key in UTF-8
  // byte order, then initiation time): without an upload-id-marker, after every upload of that key.
  let passedMarker = keyMarker === '';
  for await (const upload of bucket.store.listMultipartUploads(prefix)) {
    if (!passedMarker) {
      const order = compareUtf8(upload.key, keyMarker);
      if (order < 0 || (order === 0 && uploadIdMarker === '')) continue;
      if (order === 0) {
        if (upload.uploadId === uploadIdMarker) passedMarker = true;
        continue;
      }
      passedMarker = true;
    }
    if (uploads.length === maxUploads) {
      isTruncated = true;
      break;
    }
    uploads.push({ Key: upload.key, UploadId: upload.uploadId, Initiator: owner, Owner: owner, StorageClass: 'STANDARD', Initiated: xmlDate(upload.initiated) });
    next = upload;
  }
  await sendXml(ctx, 'ListMultipartUploadsResult', {
    Bucket: endpoint.bucket,
    KeyMarker: keyMarker,
    UploadIdMarker: uploadIdMarker,
    NextKeyMarker: isTruncated ? next?.key : undefined,
    NextUploadIdMarker: isTruncated ? next?.uploadId : undefined,
    Prefix: prefix,
    MaxUploads: maxUploads,
    IsTruncated: isTruncated,
    Upload: uploads,
  });
}
