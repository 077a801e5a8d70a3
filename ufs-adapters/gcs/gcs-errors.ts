/**
 * Maps errors of @google-cloud/storage (ApiError with a numeric `code`, gaxios errors with
 * `response.status`, node-fetch/socket errors with string codes) to typed UFS errors. The
 * original error is kept as `cause`; messages name the operation, never the bucket or key.
 */
import { isUfsError, ufsError, type UfsError, type UfsErrorKind } from '../errors';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

const field = (value: unknown, name: string): unknown =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;

/** The HTTP status of a failed GCS call, if it got that far. */
export function httpStatusOf(err: unknown): number | undefined {
  for (const candidate of [field(err, 'code'), field(field(err, 'response'), 'status'), field(field(err, 'response'), 'statusCode'), field(err, 'status')]) {
    if (typeof candidate === 'number' && candidate >= 100 && candidate < 600) return candidate;
    if (typeof candidate === 'string' && /^[1-5]\d\d$/.test(candidate)) return Number(candidate);
  }
  return undefined;
}

/** Not `instanceof`: errors may come from another realm (jest) or from the library's own streams. */
export const isAbortError = (err: unknown): boolean => field(err, 'name') === 'AbortError' || field(err, 'code') === 'ABORT_ERR';


export type StatusOverrides = Partial<Record<number, UfsErrorKind>>;

/**
 * `action` is a short client-safe description ("read object"). `overrides` re-maps statuses
 * whose meaning depends on the call (a 404 of a pinned generation is PreconditionFailed).
 */
export function mapGcsError(err: unknown, action: string, overrides: StatusOverrides = {}): UfsError {
  if (isUfsError(err)) return err;
  if (isAbortError(err)) return ufsError('Aborted', `${action}: aborted`, err);
  const status = httpStatusOf(err);
  if (status !== undefined) {
    const kind: UfsErrorKind | undefined = overrides[status] ?? defaultKind(status);
    if (kind) return ufsError(kind, `${action}: GCS answered HTTP ${status}`, err);
    return ufsError('Unavailable', `${action}: unexpected GCS answer (HTTP ${status})`, err);
  }
  const message = String(field(err, 'message') ?? '');
  if (message.includes('Could not load the default credentials') || message.includes('Could not refresh access token')) {
    return ufsError('Denied', `${action}: no usable Google credentials`, err);
  }
  const code = field(err, 'code');
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return ufsError('Unavailable', `${action}: GCS unreachable (${code})`, err);
  return ufsError('Unavailable', `${action}: GCS request failed`, err);
}

function defaultKind(status: number): UfsErrorKind | undefined {
  if (status === 404) return 'NotFound';
  if (status === 412) return 'PreconditionFailed';
  if (status === 401 || status === 403) return 'Denied';
  if (status === 429 || status === 503) return 'Throttled';
  if (status === 501) return 'NotImplemented'; // a retry cannot succeed
  if (status >= 500) return 'Unavailable';
  return undefined;
}
