/**
 * CopyObject: objects.rewrite inside the bucket (server-side; nativeCopy). Without new
 * metadata the destination keeps the source's metadata, including a stored multipart ETag
 * (a composite source stays composite). With new metadata (MetadataDirective REPLACE) the
 * destination gets exactly that metadata, the source's content checksums unless replaced,
 * and the source's internal ETag/part-size entries; the rewrite is pinned to the generation
 * whose metadata was read.
 */
import type { FileMetadata } from '@google-cloud/storage';
import { isUfsError } from '../errors';
import type { CopyRequest, WriteResult } from '../types';
import type { GcsContext } from './gcs-context';
import { httpStatusOf, mapGcsError } from './gcs-errors';
import { throwIfAborted } from '../shared/abort';
import { etagOf, internalEntries, objectInfoOf, toResource } from './gcs-metadata';
import { copyDestinationMetadata } from '../object-metadata';
import { rewriteObject } from './gcs-requests';
import { getResource } from './gcs-read';

const MAX_ATTEMPTS = 3;

export async function copyObject(ctx: GcsContext, request: CopyRequest): Promise<WriteResult> {
  const { signal } = request;
  throwIfAborted(signal);
  const sourceName = ctx.names.readableName(request.sourceKey);
  const destinationName = ctx.names.assertWritable(request.destinationKey);
  let result: FileMetadata | undefined;
  for (let attempt = 1; !result; attempt++) {
    try {
      if (!request.metadata) {
        result = await rewriteObject(ctx, sourceName, destinationName, { signal });
        break;
      }
      const source = await getResource(ctx, sourceName, 'copy object');
      const sourceInfo = objectInfoOf(request.sourceKey, source);
      const metadata = copyDestinationMetadata(request, sourceInfo);
      const resource = toResource(metadata, internalEntries(source), { explicitNulls: true, previous: source });
      result = await rewriteObject(ctx, sourceName, destinationName, { sourceGeneration: String(source.generation), resource, signal });
    } catch (err) {
      if (isUfsError(err)) throw err;
      // The source was replaced between reading its metadata and the pinned rewrite: retry.
      if (request.metadata && httpStatusOf(err) === 404 && attempt < MAX_ATTEMPTS) continue;
      throw mapGcsError(err, 'copy object');
    }
  }
  return { etag: etagOf(result), size: Number(result.size ?? 0), lastModified: new Date(result.updated ?? Date.now()) };
}
