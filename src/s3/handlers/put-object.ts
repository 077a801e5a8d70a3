/**
 * PutObject: the body streams through signature/checksum verification into the UFS,
 * which commits atomically. ETag is the MD5 of the body.
 */
import type { EndpointOf, S3Context } from '../context';
import { s3Error } from '../errors';
import { assertKeyLength, checksumHeader, metadataFromHeaders } from '../object-headers';
import { prepareUploadBody } from '../upload-body';
import { checkWriteConditions } from '../write-conditions';
import { writing } from '../object-writes';
import { objectAclOfRequest } from '../acl/request-acl';
import type { ChecksumAlgorithm } from '../../../ufs-adapters/types';

export async function handlePutObject(ctx: S3Context<EndpointOf<'PutObject'>>): Promise<void> {
  const { endpoint, request, reply, services, signal, bucket } = ctx;
  assertKeyLength(endpoint.key);
  const metadata = metadataFromHeaders(request);
  const acl = await objectAclOfRequest(ctx, bucket);
  if (acl !== undefined) metadata.acl = acl;
  await checkWriteConditions(request, bucket.store, endpoint.key, signal);
  const upload = prepareUploadBody(request, ctx.auth, services, 'PutObject', services.config.server.maxPutSize);
  // A store of files and folders keeps "a/" as a folder: it can hold no bytes. Object stores can.
  if (endpoint.key.endsWith('/') && !bucket.store.capabilities.fileAndPrefixWithSameName && upload.declaredSize !== undefined && upload.declaredSize > 0) {
    throw s3Error('InvalidObjectName', 'A key ending in "/" is a folder marker in this bucket\'s store and must have an empty body.');
  }
  const result = await writing(bucket, endpoint.key, (store) =>
    store.write({
      key: endpoint.key,
      body: upload.body,
      metadata,
      beforeCommit: () => ({ checksums: upload.checksums() }),
      signal,
    }),
  );
  reply.header('etag', result.etag);
  for (const [alg, value] of Object.entries(upload.checksums())) reply.header(checksumHeader(alg as ChecksumAlgorithm), value);
  await reply.send();
}
