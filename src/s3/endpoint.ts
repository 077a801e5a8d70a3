/**
 * Parses a request once into an `Endpoint`: one variant per S3 operation, with its
 * bucket, key and query. Dispatch is an exhaustive switch over `op` (see s3-plugin.ts).
 * Path-style ("/bucket/key") and virtual-hosted-style ("bucket.<baseDomain>/key").
 */
import { s3Error } from './errors';
import { MAX_PART_NUMBER } from '../../ufs-adapters/types';
import { splitRawUrl, type RawQueryParam } from './auth/raw-url';

export type Query = ReadonlyMap<string, string>;

type BucketOp =
  | 'CreateBucket'
  | 'DeleteBucket'
  | 'HeadBucket'
  | 'GetBucketLocation'
  | 'GetBucketVersioning'
  | 'GetBucketAcl'
  | 'PutBucketAcl'
  | 'GetBucketCors'
  | 'PutBucketCors'
  | 'DeleteBucketCors'
  | 'PostObject'
  | 'GetBucketTagging'
  | 'ListObjectVersions'
  | 'ListObjects'
  | 'ListObjectsV2'
  | 'ListMultipartUploads'
  | 'DeleteObjects';

type ObjectOp =
  | 'HeadObject'
  | 'GetObject'
  | 'GetObjectAttributes'
  | 'GetObjectAcl'
  | 'PutObjectAcl'
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

/** Object operations that take parameters beyond the bucket and key, and what they take. */
interface ObjectParams {
  GetObject: { partNumber?: number };
  HeadObject: { partNumber?: number };
  UploadPart: { uploadId: string; partNumber: number };
  UploadPartCopy: { uploadId: string; partNumber: number };
  CompleteMultipartUpload: { uploadId: string };
  AbortMultipartUpload: { uploadId: string };
  ListParts: { uploadId: string };
}
type ParamsOf<Op extends ObjectOp> = Op extends keyof ObjectParams ? ObjectParams[Op] : unknown;

/** One variant per operation, so `Extract<Endpoint, { op: 'GetObject' }>` narrows to it. */
type BucketEndpoint = { [Op in BucketOp]: { op: Op; bucket: string; query: Query } }[BucketOp];
type ObjectEndpoint = { [Op in ObjectOp]: { op: Op; bucket: string; key: string; query: Query } & ParamsOf<Op> }[ObjectOp];

/** What a request asks for, parsed once. Each variant's handler: one switch in `dispatch.ts`. */
export type Endpoint =
  | { op: 'ListBuckets'; query: Query }
  | BucketEndpoint
  | ObjectEndpoint
  /** A CORS preflight (OPTIONS) of a bucket or an object. */
  | { op: 'OptionsObject'; bucket: string; key?: string; query: Query }
  | { op: 'NotImplemented'; bucket?: string; key?: string; query: Query; feature: string };

export type S3Operation = Endpoint['op'];

/**
 * What each operation needs: any valid signature, read access to the bucket, or write access;
 * 'none' for requests that are authorized otherwise (a preflight is unsigned by design; a POST
 * upload is authorized by its signed policy, in its handler).
 */
export type RequiredAccess = 'none' | 'authenticated' | 'read' | 'write';

export const OPERATION_ACCESS: Record<S3Operation, RequiredAccess> = {
  ListBuckets: 'authenticated',
  NotImplemented: 'authenticated',
  CreateBucket: 'write',
  DeleteBucket: 'write',
  HeadBucket: 'read',
  GetBucketLocation: 'read',
  GetBucketVersioning: 'read',
  GetBucketAcl: 'read',
  PutBucketAcl: 'write',
  GetBucketCors: 'read',
  PutBucketCors: 'write',
  DeleteBucketCors: 'write',
  PostObject: 'none',
  OptionsObject: 'none',
  GetBucketTagging: 'read',
  ListObjectVersions: 'read',
  ListObjects: 'read',
  ListObjectsV2: 'read',
  ListMultipartUploads: 'read',
  DeleteObjects: 'write',
  HeadObject: 'read',
  GetObject: 'read',
  GetObjectAttributes: 'read',
  GetObjectAcl: 'read',
  PutObjectAcl: 'write',
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
  'accelerate', 'analytics', 'encryption', 'intelligent-tiering', 'inventory',
  'legal-hold', 'lifecycle', 'logging', 'metrics', 'notification', 'object-lock', 'ownershipControls',
  'policy', 'policyStatus', 'publicAccessBlock', 'replication', 'requestPayment', 'restore', 'retention',
  'select', 'torrent', 'website', 'renameObject',
];

interface RequestTarget {
  method: string;
  /** The request target as received, e.g. "/bucket/a%20b?uploads". */
  rawUrl: string;
  host: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  /** The query already split and decoded (splitRawUrl), when the caller has it. */
  params?: readonly RawQueryParam[];
}

export function parseEndpoint(target: RequestTarget, baseDomain?: string): Endpoint {
  const q = target.rawUrl.indexOf('?');
  const rawPath = q === -1 ? target.rawUrl : target.rawUrl.slice(0, q);
  const query = queryOf(target.params ?? splitRawUrl(target.rawUrl).params);
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
      if (query.has('cors')) return at('GetBucketCors');
      if (query.has('tagging')) return at('GetBucketTagging');
      if (query.has('versions')) return at('ListObjectVersions');
      if (query.has('uploads')) return at('ListMultipartUploads');
      if (query.get('list-type') === '2') return at('ListObjectsV2');
      return at('ListObjects');
    case 'HEAD':
      return at('HeadBucket');
    case 'PUT':
      if (query.has('acl')) return at('PutBucketAcl');
      if (query.has('cors')) return at('PutBucketCors');
      for (const sub of ['versioning', 'tagging']) if (query.has(sub)) return notImplemented(sub);
      return at('CreateBucket');
    case 'DELETE':
      if (query.has('tagging')) return notImplemented('tagging');
      if (query.has('cors')) return at('DeleteBucketCors');
      return at('DeleteBucket');
    case 'POST':
      if (query.has('delete')) return at('DeleteObjects');
      return at('PostObject');
    case 'OPTIONS':
      return { op: 'OptionsObject', bucket, query };
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
  const target = { bucket, key, query };
  const notImplemented = (feature: string): Endpoint => ({ op: 'NotImplemented', bucket, key, query, feature });
  const isCopy = headers['x-amz-copy-source'] !== undefined;
  switch (method) {
    case 'GET':
      if (query.has('uploadId')) return { op: 'ListParts', ...target, uploadId: uploadIdOf(query) };
      if (query.has('acl')) return { op: 'GetObjectAcl', ...target };
      if (query.has('tagging')) return { op: 'GetObjectTagging', ...target };
      assertNullVersion(query);
      if (query.has('attributes')) return { op: 'GetObjectAttributes', ...target };
      return { op: 'GetObject', ...target, partNumber: optionalPartNumber(query) };
    case 'HEAD':
      assertNullVersion(query);
      return { op: 'HeadObject', ...target, partNumber: optionalPartNumber(query) };
    case 'PUT':
      if (query.has('acl')) return { op: 'PutObjectAcl', ...target };
      if (query.has('tagging')) return notImplemented('tagging');
      if (query.has('partNumber') && query.has('uploadId')) {
        return { op: isCopy ? 'UploadPartCopy' : 'UploadPart', ...target, uploadId: uploadIdOf(query), partNumber: partNumberOf(query.get('partNumber') as string) };
      }
      // A part URL missing half its query must not overwrite the whole object.
      if (query.has('partNumber') || query.has('uploadId')) {
        throw s3Error('InvalidArgument', 'An upload part needs both partNumber and uploadId.');
      }
      return { op: isCopy ? 'CopyObject' : 'PutObject', ...target };
    case 'POST':
      if (query.has('uploads')) return { op: 'CreateMultipartUpload', ...target };
      if (query.has('uploadId')) return { op: 'CompleteMultipartUpload', ...target, uploadId: uploadIdOf(query) };
      return notImplemented('POST object');
    case 'DELETE':
      if (query.has('tagging')) return notImplemented('tagging');
      if (query.has('uploadId')) return { op: 'AbortMultipartUpload', ...target, uploadId: uploadIdOf(query) };
      assertNullVersion(query);
      return { op: 'DeleteObject', ...target };
    case 'OPTIONS':
      return { op: 'OptionsObject', ...target };
    default:
      throw s3Error('MethodNotAllowed');
  }
}

/** Objects here are unversioned: the only version id that exists is "null". */
function assertNullVersion(query: Query): void {
  const versionId = query.get('versionId');
  if (versionId !== undefined && versionId !== 'null') throw s3Error('InvalidArgument', 'Invalid version id specified');
}

function uploadIdOf(query: Query): string {
  const uploadId = query.get('uploadId');
  if (!uploadId) throw s3Error('NoSuchUpload');
  return uploadId;
}

/** A part number: decimal digits only (no "0x1", "1e0", "+1" or spaces), 1 to 10000. */
export function partNumberOf(text: string): number {
  const n = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_PART_NUMBER)) {
    throw s3Error('InvalidArgument', `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`);
  }
  return n;
}

function optionalPartNumber(query: Query): number | undefined {
  const text = query.get('partNumber');
  return text === undefined ? undefined : partNumberOf(text);
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
  if (!component.includes('%')) return component;
  try {
    return decodeURIComponent(component);
  } catch (err) {
    throw s3Error('InvalidURI', "Couldn't parse the specified URI.", err);
  }
}

/** A form-encoded component: "+" is a space, then percent-decoding. */
const decodeForm = (component: string): string => decode(component.includes('+') ? component.replace(/\+/g, ' ') : component);

/** Query parameters, first value wins; "+" is a space as in form encoding (S3 does the same). */
export function parseQuery(rawQuery: string): Map<string, string> {
  return queryOf(splitRawUrl(`?${rawQuery}`).params);
}

/** The query of already split parameters (their percent-decoding is reused where no "+" changes it). */
function queryOf(params: readonly RawQueryParam[]): Map<string, string> {
  const query = new Map<string, string>();
  for (const p of params) {
    const name = p.name !== undefined && !p.rawName.includes('+') ? p.name : decodeForm(p.rawName);
    if (query.has(name)) continue;
    query.set(name, p.value !== undefined && !p.rawValue.includes('+') ? p.value : decodeForm(p.rawValue));
  }
  return query;
}
