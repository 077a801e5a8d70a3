/**
 * What the bucket registry refuses, as typed errors of this layer. The S3 layer maps them to S3
 * codes in one place (`toS3Error`), as it does for the stores' UfsErrors.
 */

export type BucketErrorKind =
  | 'NoSuchBucket'
  | 'InvalidBucketName'
  | 'BucketAlreadyOwnedByYou'
  | 'BucketNotEmpty'
  /** CreateBucket on a gateway without a dataDir: its buckets are configured mounts. */
  | 'NoDataDir'
  /** DeleteBucket of a configured mount. */
  | 'MountedBucket';

class BucketError extends Error {
  constructor(
    readonly kind: BucketErrorKind,
    message?: string,
    options?: { cause?: unknown },
  ) {
    super(message ?? kind, options);
    this.name = `Bucket${kind}Error`;
  }
}

export const bucketError = (kind: BucketErrorKind, message?: string, cause?: unknown): BucketError =>
  new BucketError(kind, message, cause === undefined ? undefined : { cause });

export const isBucketError = (err: unknown, kind?: BucketErrorKind): err is BucketError =>
  err instanceof BucketError && (kind === undefined || err.kind === kind);
