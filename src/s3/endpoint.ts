/**
 * Parses a request once into an `Endpoint`: one variant per S3 operation, with its
 * bucket, key and query. Dispatch is an exhaustive switch over `op` (see s3-plugin.ts).
 * Path-style ("/bucket/key") and virtual-hosted-style ("bucket.<baseDomain>/key").
 */
import { s3Error } from './errors';

export type Query = ReadonlyMap<string, string>;

type BucketOp =
  | 'CreateBucket'
  | 'DeleteBucket'
  | 'HeadBucket'
  | 'GetBucketLocation'
  | 'GetBucketVersioning'
  | 'GetBucketAcl'
  | 'GetBucketTagging'
  | 'ListObjectVersions'
  | 'ListObjects'
  | 'ListObjectsV2'
  | 'ListMultipartUploads'
  | 'DeleteObjects';

type ObjectOp =
  | 'HeadObject'
  | 'GetObject'
  | 'GetObjectAcl'
  | 'GetObjectTagging'
  | 'PutObject'
  | 'CopyObject'
  | 'UploadPart'
  | 'UploadPartCopy'
  | 'DeleteObject'
  | 'CreateMultipartUpload'
  | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload'
  | 'ListParts';

/** One variant per operation, so `Extract<Endpoint, { op: 'GetObject' }>` narrows to it. */
type BucketEndpoint = { [Op in BucketOp]: { op: Op; bucket: string; query: Query } }[BucketOp];
type ObjectEndpoint = { [Op in ObjectOp]: { op: Op; bucket: string; key: string; query: Query } }[ObjectOp];

export type Endpoint =
  | { op: 'ListBuckets'; query: Query }
  | BucketEndpoint
  | ObjectEndpoint
  | { op: 'NotImplemented'; bucket?: string; key?: string; query: Query; feature: string };

export type S3Operation = Endpoint['op'];

/** What each operation needs: any valid signature, read access to the bucket, or write access. */
export type RequiredAccess = 'authenticated' | 'read' | 'write';

export const OPERATION_ACCESS: Record<S3Operation, RequiredAccess> = {
  ListBuckets: 'authenticated',
  NotImplemented: 'authenticated',
  CreateBucket: 'write',
  DeleteBucket: 'write',
  HeadBucket: 'read',
  GetBucketLocation: 'read',
  GetBucketVersioning: 'read',
  GetBucketAcl: 'read',
  GetBucketTagging: 'read',
  ListObjectVersions: 'read',
  ListObjects: 'read',
  ListObjectsV2: 'read',
  ListMultipartUploads: 'read',
  DeleteObjects: 'write',
  HeadObject: 'read',
  GetObject: 'read',
  GetObjectAcl: 'read',
  GetObjectTagging: 'read',
  PutObject: 'write',
  CopyObject: 'write',
  UploadPart: 'write',
  UploadPartCopy: 'write',
  DeleteObject: 'write',
  CreateMultipartUpload: 'write',
  CompleteMultipartUpload: 'write',
  AbortMultipartUpload: 'write',
  ListParts: 'read',
};

/** What an anonymous request may do on an anonymousRead bucket: read objects and list them. */
export const ANONYMOUS_OPERATIONS: ReadonlySet<S3Operation> = new Set<S3Operation>([
  'GetObject',
  'HeadObject',
  'ListObjects',
  'ListObjectsV2',
  'HeadBucket',
  'GetBucketLocation',
]);

/** Sub-resources S3 defines that Ringcache does not implement: answered 501 NotImplemented. */
const UNSUPPORTED_SUBRESOURCES = [
  'accelerate', 'analytics', 'attributes', 'cors', 'encryption', 'intelligent-tiering', 'inventory',
  'legal-hold', 'lifecycle', 'logging', 'metrics', 'notification', 'object-lock', 'ownershipControls',
  'policy', 'policyStatus', 'publicAccessBlock', 'replication', 'requestPayment', 'restore', 'retention',
  'select', 'torrent', 'website', 'renameObject',
];

export interface RequestTarget {
  method: string;
  /** The request target as received, e.g. "/bucket/a%20b?uploads". */
  rawUrl: string;
  host: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

export function parseEndpoint(target: RequestTarget, baseDomain?: string): Endpoint {
  const q = target.rawUrl.indexOf('?');
  const rawPath = q === -1 ? target.rawUrl : target.rawUrl.slice(0, q);
  const query = parseQuery(q === -1 ? '' : target.rawUrl.slice(q + 1));
  const { bucket, key } = splitBucketAndKey(rawPath, virtualHostBucket(target.host, baseDomain));
  const method = target.method.toUpperCase();

  if (bucket === undefined) {
    if (method === 'GET') return { op: 'ListBuckets', query };
    throw s3Error('MethodNotAllowed');
  }
  const unsupported = UNSUPPORTED_SUBRESOURCES.find((name) => query.has(name));
  if (unsupported) return { op: 'NotImplemented', bucket, key, query, feature: unsupported };
  if (key === undefined || key === '') return bucketEndpoint(method, bucket, query);
  return objectEndpoint(method, bucket, key, query, target.headers);
}

function bucketEndpoint(method: string, bucket: string, query: Query): Endpoint {
  const at = (op: BucketOp): Endpoint => ({ op, bucket, query });
  const notImplemented = (feature: string): Endpoint => ({ op: 'NotImplemented', bucket, query, feature });
  switch (method) {
    case 'GET':
      if (query.has('location')) return at('GetBucketLocation');
      if (query.has('versioning')) return at('GetBucketVersioning');
      if (query.has('acl')) return at('GetBucketAcl');
      if (query.has('tagging')) return at('GetBucketTagging');
      if (query.has('versions')) return at('ListObjectVersions');
      if (query.has('uploads')) return at('ListMultipartUploads');
      if (query.get('list-type') === '2') return at('ListObjectsV2');
      return at('ListObjects');
    case 'HEAD':
      return at('HeadBucket');
    case 'PUT':
      for (const sub of ['acl', 'versioning', 'tagging']) if (query.has(sub)) return notImplemented(sub);
      return at('CreateBucket');
    case 'DELETE':
      if (query.has('tagging')) return notImplemented('tagging');
      return at('DeleteBucket');
    case 'POST':
      if (query.has('delete')) return at('DeleteObjects');
      return notImplemented('POST object (browser form upload)');
    default:
      throw s3Error('MethodNotAllowed');
  }
}

function objectEndpoint(
  method: string,
  bucket: string,
  key: string,
  query: Query,
  headers: RequestTarget['headers'],
): Endpoint {
  const at = (op: ObjectOp): Endpoint => ({ op, bucket, key, query });
  const notImplemented = (feature: string): Endpoint => ({ op: 'NotImplemented', bucket, key, query, feature });
  const isCopy = headers['x-amz-copy-source'] !== undefined;
  switch (method) {
    case 'GET':
      if (query.has('uploadId')) return at('ListParts');
      if (query.has('acl')) return at('GetObjectAcl');
      if (query.has('tagging')) return at('GetObjectTagging');
      return at('GetObject');
    case 'HEAD':
      return at('HeadObject');
    case 'PUT':
      if (query.has('acl')) return notImplemented('acl');
      if (query.has('tagging')) return notImplemented('tagging');
      if (query.has('partNumber') && query.has('uploadId')) return at(isCopy ? 'UploadPartCopy' : 'UploadPart');
      // A part URL missing half its query must not overwrite the whole object.
      if (query.has('partNumber') || query.has('uploadId')) {
        throw s3Error('InvalidArgument', 'An upload part needs both partNumber and uploadId.');
      }
      return at(isCopy ? 'CopyObject' : 'PutObject');
    case 'POST':
      if (query.has('uploads')) return at('CreateMultipartUpload');
      if (query.has('uploadId')) return at('CompleteMultipartUpload');
      return notImplemented('POST object');
    case 'DELETE':
      if (query.has('tagging')) return notImplemented('tagging');
      if (query.has('uploadId')) return at('AbortMultipartUpload');
      return at('DeleteObject');
    default:
      throw s3Error('MethodNotAllowed');
  }
}

/** "photos.s3.example.com" with base domain "s3.example.com" -> "photos". */
export function virtualHostBucket(host: string | undefined, baseDomain: string | undefined): string | undefined {
  if (!host || !baseDomain) return undefined;
  const hostname = stripPort(host).toLowerCase();
  const suffix = `.${baseDomain.toLowerCase()}`;
  if (!hostname.endsWith(suffix)) return undefined;
  const bucket = hostname.slice(0, -suffix.length);
  return bucket.length > 0 ? bucket : undefined;
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

function splitBucketAndKey(rawPath: string, hostBucket: string | undefined): { bucket?: string; key?: string } {
  if (!rawPath.startsWith('/')) throw s3Error('InvalidURI');
  if (hostBucket !== undefined) return { bucket: hostBucket, key: decode(rawPath.slice(1)) };
  const rest = rawPath.slice(1);
  if (rest === '') return {};
  const slash = rest.indexOf('/');
  if (slash === -1) return { bucket: decode(rest) };
  return { bucket: decode(rest.slice(0, slash)), key: decode(rest.slice(slash + 1)) };
}

function decode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch (err) {
    throw s3Error('InvalidURI', "Couldn't parse the specified URI.", err);
  }
}

/** Query parameters, first value wins; "+" is a space as in form encoding (S3 does the same). */
export function parseQuery(rawQuery: string): Map<string, string> {
  const query = new Map<string, string>();
  if (rawQuery === '') return query;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decode((eq === -1 ? part : part.slice(0, eq)).replace(/\+/g, ' '));
    const value = eq === -1 ? '' : decode(part.slice(eq + 1).replace(/\+/g, ' '));
    if (!query.has(name)) query.set(name, value);
  }
  return query;
}
