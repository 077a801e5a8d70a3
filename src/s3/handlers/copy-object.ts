/**
 * CopyObject: MetadataDirective COPY (default) or REPLACE; copy to itself only with
 * REPLACE. Within one store the adapter copies natively; across stores the bytes stream
 * from one adapter into the other.
 */
import type { ObjectMetadata, WriteResult } from '../../../ufs-adapters/types';
import { header, type EndpointOf, type S3Context } from '../context';
import { s3Error } from '../errors';
import { assertKeyLength, metadataFromHeaders } from '../object-headers';
import { renderXml, xmlDate } from '../xml';
import { resolveCopySource } from './copy-source';
import { checkWriteConditions } from '../write-conditions';
import { writing } from '../object-writes';
import { objectAclOfRequest } from '../acl/request-acl';

export async function handleCopyObject(ctx: S3Context<EndpointOf<'CopyObject'>>): Promise<void> {
  const { endpoint, request, reply, signal, bucket: destination } = ctx;
  assertKeyLength(endpoint.key);
  const source = await resolveCopySource(ctx);

  const directive = (header(request, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') throw s3Error('InvalidArgument', 'Unknown metadata directive.');
  const sameObject = source.bucket.name === destination.name && source.key === endpoint.key;
  if (sameObject && directive === 'COPY') {
    throw s3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  await checkWriteConditions(request, destination.store, endpoint.key, signal);
  const { key: _key, size: _size, etag: _etag, lastModified: _lm, partSizes: _ps, acl: sourceAcl, ...sourceMetadata } = source.info;
  // The copy gets the ACL the request asks for (none: private), never the source's.
  const acl = await objectAclOfRequest(ctx, destination);
  let replaced: ObjectMetadata | undefined = directive === 'REPLACE' ? metadataFromHeaders(request) : undefined;
  if (acl !== undefined || sourceAcl !== undefined) replaced = { ...(replaced ?? sourceMetadata), acl };

  let result: WriteResult;
  if (source.bucket.store === destination.store) {
    result = await writing(destination, endpoint.key, (store) => store.copy({ sourceKey: source.key, destinationKey: endpoint.key, metadata: replaced, signal }));
  } else {
    const body = await source.openStream(undefined, signal);
    try {
      result = await writing(destination, endpoint.key, (store) => store.write({ key: endpoint.key, body, metadata: replaced ?? sourceMetadata, signal }));
    } finally {
      body.destroy(); // a write that failed before reading must not leave the source open
    }
  }
  reply.header('content-type', 'application/xml');
  await reply.send(renderXml('CopyObjectResult', { LastModified: xmlDate(result.lastModified), ETag: result.etag }));
}
