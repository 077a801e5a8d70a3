/**
 * Typed UFS errors. Adapters throw these (keeping the original error as `cause`);
 * the S3 layer maps them to S3 error codes in one place. Nothing matches on message text.
 */

export type UfsErrorKind =
  | 'NotFound'
  | 'NoSuchUpload'
  | 'PreconditionFailed'
  | 'Unavailable'
  | 'Denied'
  | 'Throttled'
  | 'InvalidKey'
  | 'PathConflict'
  | 'InvalidPart'
  | 'InvalidPartOrder'
  | 'EntityTooSmall'
  | 'BucketNotEmpty'
  /** The store does not support what was asked (HTTP 501): retrying cannot help. */
  | 'NotImplemented'
  | 'Aborted';

export class UfsError extends Error {
  constructor(
    readonly kind: UfsErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = `Ufs${kind}Error`;
  }
}

export const ufsError = (kind: UfsErrorKind, message: string, cause?: unknown): UfsError =>
  new UfsError(kind, message, cause === undefined ? undefined : { cause });

export const isUfsError = (err: unknown, kind?: UfsErrorKind): err is UfsError =>
  err instanceof UfsError && (kind === undefined || err.kind === kind);
