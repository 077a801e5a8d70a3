/**
 * DeleteObject (204 also for a missing key) and DeleteObjects (up to 1000 keys, quiet
 * mode, per-key errors).
 */
import type { EndpointOf, S3Context } from '../context';
import { isUfsError } from '../../../ufs-adapters/errors';
import { s3Error, toS3Error } from '../errors';
import { readSmallBody } from '../upload-body';
import { parseRequestXml, renderXml, type XmlObject } from '../xml';
import { assertChildrenIn, childText, childrenNamed } from '../request-xml';
import { writing } from '../object-writes';
import type { Bucket } from '../../mounts/bucket-registry';

const MAX_DELETE_KEYS = 1000;
/** The elements of a Delete document (S3's schema; conditional-delete fields are accepted and not used). */
const DELETE_ELEMENTS = ['Object', 'Quiet'];
const OBJECT_ELEMENTS = ['Key', 'VersionId', 'ETag', 'LastModifiedTime', 'Size'];

/** A key the store cannot represent does not exist in it, so deleting it succeeds, as in S3. */
async function deleteKey(bucket: Bucket, key: string, signal?: AbortSignal): Promise<void> {
  try {
    await writing(bucket, key, (store) => store.delete(key, signal));
  } catch (err) {
    if (!isUfsError(err, 'InvalidKey')) throw err;
  }
}

export async function handleDeleteObject(ctx: S3Context<EndpointOf<'DeleteObject'>>): Promise<void> {
  const { endpoint, reply, signal, bucket } = ctx;
  await deleteKey(bucket, endpoint.key, signal);
  await reply.code(204).send();
}

interface DeleteRequest {
  quiet: boolean;
  keys: { key: string; versionId?: string }[];
}

function parseDeleteRequest(xml: Buffer): DeleteRequest {
  const doc = parseRequestXml(xml, 'Delete');
  assertChildrenIn(doc, DELETE_ELEMENTS);
  const objects = childrenNamed(doc, 'Object');
  if (objects.length === 0 || objects.length > MAX_DELETE_KEYS) throw s3Error('MalformedXML');
  const keys = objects.map((o) => {
    assertChildrenIn(o, OBJECT_ELEMENTS);
    const key = childText(o, 'Key');
    if (key === undefined || key === '') throw s3Error('MalformedXML');
    return { key, versionId: childText(o, 'VersionId')?.trim() };
  });
  return { quiet: childText(doc, 'Quiet')?.trim().toLowerCase() === 'true', keys };
}

export async function handleDeleteObjects(ctx: S3Context<EndpointOf<'DeleteObjects'>>): Promise<void> {
  const { endpoint, request, reply, services, signal, bucket } = ctx;
  const body = await readSmallBody(request, ctx.auth, services, 'DeleteObjects', 2 * 1024 * 1024);
  const { quiet, keys } = parseDeleteRequest(body);

  const deleted: XmlObject[] = [];
  const errors: XmlObject[] = [];
  for (const { key, versionId } of keys) {
    try {
      if (versionId !== undefined && versionId !== 'null') throw s3Error('NoSuchVersion');
      await deleteKey(bucket, key, signal);
      if (!quiet) deleted.push({ Key: key, VersionId: versionId });
    } catch (err) {
      const s3 = toS3Error(err);
      if (s3.code === 'InternalError') request.log.error({ err, op: 'DeleteObjects' }, 'delete failed');
      errors.push({ Key: key, VersionId: versionId, Code: s3.code, Message: s3.message });
    }
  }
  // The keys' owners (any node) drop what they cached of them.
  await services.cluster?.tellOwners(endpoint.bucket, keys.map((k) => k.key));
  reply.header('content-type', 'application/xml');
  await reply.send(renderXml('DeleteResult', { Deleted: deleted, Error: errors }));
}
