/**
 * Maps AWS SDK errors (service errors by code / HTTP status, network errors by errno) to
 * typed UFS errors. The original error is kept as `cause`; messages carry only the action,
 * the S3 error code and the status, never request details or credentials.
 */
import { isUfsError, ufsError, type UfsError, type UfsErrorKind } from '../errors';

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  $response?: { statusCode?: number };
}

const THROTTLING_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequests',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'ProvisionedThroughputExceededException',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);

const DENIED_CODES = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AllAccessDisabled',
  'AccountProblem',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'InvalidSecurity',
  'InvalidObjectState', // archived (Glacier) objects cannot be read
  'CredentialsProviderError', // no credentials found by the default chain
]);

const CODE_KINDS: Record<string, UfsErrorKind> = {
  NoSuchKey: 'NotFound',
  NotFound: 'NotFound',
  NoSuchUpload: 'NoSuchUpload',
  PreconditionFailed: 'PreconditionFailed',
  // Ranges are validated against the size the caller looked up: a 416 means the object changed.
  InvalidRange: 'PreconditionFailed',
  InvalidPart: 'InvalidPart',
  InvalidPartOrder: 'InvalidPartOrder',
  EntityTooSmall: 'EntityTooSmall',
  KeyTooLongError: 'InvalidKey',
  InvalidObjectName: 'InvalidKey',
  // The mount's bucket is gone: the store is misconfigured, not the object missing.
  NoSuchBucket: 'Unavailable',
  // The store lacks the operation (HTTP 501): a retry cannot succeed.
  NotImplemented: 'NotImplemented',
};

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPROTO',
  'UND_ERR_SOCKET',
  'ERR_HTTP2_STREAM_ERROR',
]);

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The S3 error code (or error name) and HTTP status of an SDK error. */
export function describeSdkError(err: unknown): { code?: string; status?: number; errno?: string } {
  if (typeof err !== 'object' || err === null) return {};
  const e = err as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  const errno = str(e.code);
  return { code: str(e.Code) ?? str(e.name), status: typeof status === 'number' ? status : undefined, errno };
}

export const isAbortLike = (err: unknown): boolean => {
  if (typeof err !== 'object' || err === null) return false;
  const { name, code } = err as { name?: unknown; code?: unknown };
  return name === 'AbortError' || code === 'ABORT_ERR';
};

function kindOf(code: string | undefined, status: number | undefined, errno: string | undefined): UfsErrorKind {
  if (code !== undefined) {
    if (CODE_KINDS[code]) return CODE_KINDS[code];
    if (THROTTLING_CODES.has(code)) return 'Throttled';
    if (DENIED_CODES.has(code)) return 'Denied';
    if (code === 'TimeoutError' || code === 'RequestTimeout' || code === 'RequestTimeoutException') return 'Unavailable';
  }
  if (errno !== undefined && NETWORK_CODES.has(errno)) return 'Unavailable';
  if (status !== undefined) {
    if (status === 404) return 'NotFound';
    if (status === 412 || status === 416) return 'PreconditionFailed';
    if (status === 401 || status === 403) return 'Denied';
    if (status === 429 || status === 503) return 'Throttled';
    if (status === 501) return 'NotImplemented';
  }
  // 5xx, socket hang up, DNS failures, unparseable replies, unknown 4xx: the store cannot serve us.
  return 'Unavailable';
}

/**
 * `action` is a short client-safe description ("read object"). A fired `signal` (or an
 * AbortError) becomes Aborted; UFS errors pass through unchanged.
 */
export function mapS3Error(err: unknown, action: string, signal?: AbortSignal): UfsError {
  if (isUfsError(err)) return err;
  if (signal?.aborted || isAbortLike(err)) return ufsError('Aborted', `${action}: aborted`, err);
  const { code, status, errno } = describeSdkError(err);
  const kind = kindOf(code, status, errno);
  const detail = [code && code !== 'Error' ? code : errno, status !== undefined ? `HTTP ${status}` : undefined].filter(Boolean).join(', ');
  return ufsError(kind, `${action}: ${describeKind(kind)}${detail ? ` (${detail})` : ''}`, err);
}

function describeKind(kind: UfsErrorKind): string {
  switch (kind) {
    case 'NotFound':
      return 'not found';
    case 'Throttled':
      return 'the object store is throttling requests';
    case 'Denied':
      return 'access denied by the object store';
    case 'Unavailable':
      return 'the object store is unavailable';
    case 'PreconditionFailed':
      return 'the object changed';
    case 'NotImplemented':
      return 'the object store does not implement this';
    default:
      return kind;
  }
}
