/**
 * One exhaustive switch from S3 operation to its handler.
 */
import type { S3Context } from './context';
import type { Endpoint } from './endpoint';
import { s3Error } from './errors';
import {
  handleCreateBucket,
  handleDeleteBucket,
  handleGetBucketLocation,
  handleGetBucketTagging,
  handleGetBucketVersioning,
  handleGetObjectTagging,
  handleHeadBucket,
  handleListBuckets,
} from './handlers/bucket';
import { handleGetBucketAcl, handleGetObjectAcl, handlePutBucketAcl, handlePutObjectAcl } from './handlers/acl';
import { handleCopyObject } from './handlers/copy-object';
import { handleDeleteBucketCors, handleGetBucketCors, handleOptionsObject, handlePutBucketCors } from './handlers/cors';
import { handlePostObject } from './handlers/post-object';
import { handleDeleteObject, handleDeleteObjects } from './handlers/delete-object';
import { handleGetObject } from './handlers/get-object';
import { handleGetObjectAttributes } from './handlers/object-attributes';
import { handleListObjectVersions, handleListObjects, handleListObjectsV2 } from './handlers/list-objects';
import {
  handleAbortMultipartUpload,
  handleCompleteMultipartUpload,
  handleCreateMultipartUpload,
  handleListMultipartUploads,
  handleListParts,
  handleUploadPart,
  handleUploadPartCopy,
} from './handlers/multipart';
import { handlePutObject } from './handlers/put-object';

type Ctx<Op extends Endpoint['op']> = S3Context<Extract<Endpoint, { op: Op }>>;

export async function dispatch(ctx: S3Context): Promise<void> {
  const endpoint = ctx.endpoint;
  const as = <Op extends Endpoint['op']>(): Ctx<Op> => ctx as Ctx<Op>;
  switch (endpoint.op) {
    case 'ListBuckets': return handleListBuckets(as<'ListBuckets'>());
    case 'CreateBucket': return handleCreateBucket(as<'CreateBucket'>());
    case 'DeleteBucket': return handleDeleteBucket(as<'DeleteBucket'>());
    case 'HeadBucket': return handleHeadBucket(as<'HeadBucket'>());
    case 'GetBucketLocation': return handleGetBucketLocation(as<'GetBucketLocation'>());
    case 'GetBucketVersioning': return handleGetBucketVersioning(as<'GetBucketVersioning'>());
    case 'GetBucketAcl': return handleGetBucketAcl(as<'GetBucketAcl'>());
    case 'PutBucketAcl': return handlePutBucketAcl(as<'PutBucketAcl'>());
    case 'GetBucketCors': return handleGetBucketCors(as<'GetBucketCors'>());
    case 'PutBucketCors': return handlePutBucketCors(as<'PutBucketCors'>());
    case 'DeleteBucketCors': return handleDeleteBucketCors(as<'DeleteBucketCors'>());
    case 'OptionsObject': return handleOptionsObject(as<'OptionsObject'>());
    case 'PostObject': return handlePostObject(as<'PostObject'>());
    case 'GetBucketTagging': return handleGetBucketTagging(as<'GetBucketTagging'>());
    case 'ListObjects': return handleListObjects(as<'ListObjects'>());
    case 'ListObjectsV2': return handleListObjectsV2(as<'ListObjectsV2'>());
    case 'ListObjectVersions': return handleListObjectVersions(as<'ListObjectVersions'>());
    case 'ListMultipartUploads': return handleListMultipartUploads(as<'ListMultipartUploads'>());
    case 'DeleteObjects': return handleDeleteObjects(as<'DeleteObjects'>());
    case 'HeadObject':
    case 'GetObject': return handleGetObject(as<'GetObject' | 'HeadObject'>());
    case 'GetObjectAttributes': return handleGetObjectAttributes(as<'GetObjectAttributes'>());
    case 'GetObjectAcl': return handleGetObjectAcl(as<'GetObjectAcl'>());
    case 'PutObjectAcl': return handlePutObjectAcl(as<'PutObjectAcl'>());
    case 'GetObjectTagging': return handleGetObjectTagging(as<'GetObjectTagging'>());
    case 'PutObject': return handlePutObject(as<'PutObject'>());
    case 'CopyObject': return handleCopyObject(as<'CopyObject'>());
    case 'DeleteObject': return handleDeleteObject(as<'DeleteObject'>());
    case 'CreateMultipartUpload': return handleCreateMultipartUpload(as<'CreateMultipartUpload'>());
    case 'UploadPart': return handleUploadPart(as<'UploadPart'>());
    case 'UploadPartCopy': return handleUploadPartCopy(as<'UploadPartCopy'>());
    case 'CompleteMultipartUpload': return handleCompleteMultipartUpload(as<'CompleteMultipartUpload'>());
    case 'AbortMultipartUpload': return handleAbortMultipartUpload(as<'AbortMultipartUpload'>());
    case 'ListParts': return handleListParts(as<'ListParts'>());
    case 'NotImplemented':
      throw s3Error('NotImplemented', `Ringcache does not implement ${endpoint.feature}.`);
    default: {
      const unreachable: never = endpoint;
      throw s3Error('InternalError', `unhandled endpoint ${JSON.stringify(unreachable)}`);
    }
  }
}
