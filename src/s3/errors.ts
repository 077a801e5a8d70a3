/**
 * The one S3 error table: code -> HTTP status and default message, in one row each,
 * so the code and the status can never drift apart.
 */
import { isUfsError, type UfsError } from '../../ufs-adapters/errors';
import { isBucketError, type BucketErrorKind } from '../mounts/bucket-errors';

const S3_ERRORS = {
  AccessControlListNotSupported: [400, 'The bucket does not allow ACLs'],
  AccessDenied: [403, 'Access Denied'],
  AccessForbidden: [403, 'CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource\'s CORS spec.'],
  AuthorizationHeaderMalformed: [400, 'The authorization header is malformed.'],
  AuthorizationQueryParametersError: [400, 'Error parsing the X-Amz-Credential parameter.'],
  BadRequest: [400, 'Bad Request'],
  BadDigest: [400, 'The Content-MD5 or checksum you specified did not match what we received.'],
  BucketAlreadyExists: [409, 'The requested bucket name is not available.'],
  BucketAlreadyOwnedByYou: [409, 'Your previous request to create the named bucket succeeded and you already own it.'],
  BucketNotEmpty: [409, 'The bucket you tried to delete is not empty.'],
  EntityTooLarge: [400, 'Your proposed upload exceeds the maximum allowed object size.'],
  EntityTooSmall: [400, 'Your proposed upload is smaller than the minimum allowed object size.'],
  ExpiredToken: [400, 'The provided token has expired.'],
  IncompleteBody: [400, 'You did not provide the number of bytes specified by the Content-Length HTTP header.'],
  InternalError: [500, 'We encountered an internal error. Please try again.'],
  InvalidAccessKeyId: [403, 'The AWS Access Key Id you provided does not exist in our records.'],
  InvalidArgument: [400, 'Invalid Argument'],
  InvalidBucketName: [400, 'The specified bucket is not valid.'],
  InvalidDigest: [400, 'The Content-MD5 or checksum you specified is not valid.'],
  IncorrectNumberOfFilesInPostRequest: [400, 'POST requires exactly one file upload per request.'],
  InvalidObjectName: [400, 'Object name is not valid for the storage behind this bucket.'],
  InvalidObjectState: [403, 'The operation is not valid for the current state of the object.'],
  InvalidPolicyDocument: [400, 'The content of the form does not meet the conditions specified in the policy document.'],
  InvalidPart: [400, 'One or more of the specified parts could not be found or did not match.'],
  InvalidPartOrder: [400, 'The list of parts was not in ascending order.'],
  InvalidURI: [400, "Couldn't parse the specified URI."],
  InvalidRange: [416, 'The requested range is not satisfiable'],
  InvalidRequest: [400, 'Invalid Request'],
  KeyTooLongError: [400, 'Your key is too long.'],
  MalformedACLError: [400, 'The XML you provided was not well-formed or did not validate against our published schema.'],
  MalformedPOSTRequest: [400, 'The body of your POST request is not well-formed multipart/form-data.'],
  MalformedXML: [400, 'The XML you provided was not well-formed or did not validate against our published schema.'],
  MaxPostPreDataLengthExceededError: [400, 'Your POST request fields preceding the upload file were too large.'],
  MetadataTooLarge: [400, 'Your metadata headers exceed the maximum allowed metadata size.'],
  MethodNotAllowed: [405, 'The specified method is not allowed against this resource.'],
  MissingContentLength: [411, 'You must provide the Content-Length HTTP header.'],
  MissingSecurityHeader: [400, 'Your request is missing a required header.'],
  NoSuchBucket: [404, 'The specified bucket does not exist.'],
  NoSuchCORSConfiguration: [404, 'The CORS configuration does not exist'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  NoSuchVersion: [404, 'The specified version does not exist.'],
  NoSuchTagSet: [404, 'The TagSet does not exist.'],
  NoSuchUpload: [404, 'The specified multipart upload does not exist.'],
  NotImplemented: [501, 'A header or query you provided implies functionality that is not implemented.'],
  NotModified: [304, 'Not Modified'],
  PathConflict: [409, 'The key conflicts with an existing object or folder in a store that cannot hold both (a file "a" and a key "a/b").'],
  PreconditionFailed: [412, 'At least one of the pre-conditions you specified did not hold.'],
  RequestTimeout: [400, 'Your socket connection to the server was not read from or written to within the timeout period.'],
  RequestTimeTooSkewed: [403, 'The difference between the request time and the current time is too large.'],
  ServiceUnavailable: [503, 'The storage behind this bucket is unavailable. Please retry.'],
  SignatureDoesNotMatch: [403, 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'],
  SlowDown: [503, 'Please reduce your request rate.'],
  UnexpectedContent: [400, 'This request does not support content'],
  UnresolvableGrantByEmailAddress: [400, 'The email address you provided does not match any account on record.'],
  XAmzContentSHA256Mismatch: [400, "The provided 'x-amz-content-sha256' header does not match what was computed."],
} as const satisfies Record<string, readonly [number, string]>;

export type S3ErrorCode = keyof typeof S3_ERRORS;

export class S3Error extends Error {
  readonly status: number;

  constructor(
    readonly code: S3ErrorCode,
    message?: string,
    options?: { cause?: unknown; resource?: string; headers?: Record<string, string> },
  ) {
    super(message ?? S3_ERRORS[code][1], options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'S3Error';
    this.status = S3_ERRORS[code][0];
    this.headers = options?.headers;
  }

  readonly headers?: Record<string, string>;
}

export const s3Error = (code: S3ErrorCode, message?: string, cause?: unknown): S3Error =>
  new S3Error(code, message, cause === undefined ? undefined : { cause });

const UFS_TO_S3: Record<UfsError['kind'], S3ErrorCode> = {
  NotFound: 'NoSuchKey',
  NoSuchUpload: 'NoSuchUpload',
  PreconditionFailed: 'PreconditionFailed',
  Unavailable: 'ServiceUnavailable',
  Denied: 'AccessDenied',
  Throttled: 'SlowDown',
  InvalidKey: 'InvalidObjectName',
  PathConflict: 'PathConflict',
  InvalidPart: 'InvalidPart',
  InvalidPartOrder: 'InvalidPartOrder',
  EntityTooSmall: 'EntityTooSmall',
  BucketNotEmpty: 'BucketNotEmpty',
  NotImplemented: 'NotImplemented',
  Aborted: 'IncompleteBody',
};

/**
 * The answers worth another attempt: the store could not be reached or was throttling, or
 * something failed unexpectedly. Everything else is the store's (or S3's) definite answer.
 */
const RETRYABLE_CODES: ReadonlySet<S3ErrorCode> = new Set<S3ErrorCode>(['ServiceUnavailable', 'SlowDown', 'InternalError']);

export const isRetryable = (err: S3Error): boolean => RETRYABLE_CODES.has(err.code);

const BUCKET_TO_S3: Record<BucketErrorKind, [S3ErrorCode, string?]> = {
  NoSuchBucket: ['NoSuchBucket'],
  InvalidBucketName: ['InvalidBucketName'],
  BucketAlreadyOwnedByYou: ['BucketAlreadyOwnedByYou'],
  BucketNotEmpty: ['BucketNotEmpty'],
  NoDataDir: ['InvalidRequest', 'This gateway has no dataDir: buckets are configured as mounts.'],
  MountedBucket: ['MethodNotAllowed', 'This bucket is a configured mount; remove it from the configuration instead.'],
};

/**
 * Any error to an S3Error: S3 errors pass through, store (UFS) and bucket registry errors map by
 * kind, the rest is InternalError.
 */
export function toS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  if (isUfsError(err)) return new S3Error(UFS_TO_S3[err.kind], err.message, { cause: err });
  if (isBucketError(err)) {
    const [code, message] = BUCKET_TO_S3[err.kind];
    return new S3Error(code, message, { cause: err });
  }
  return new S3Error('InternalError', undefined, { cause: err });
}
