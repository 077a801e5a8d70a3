/** SigV4 constants shared by the auth files. */

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
export const SIGV4_TERMINATOR = 'aws4_request';
export const S3_SERVICE = 's3';

/** Largest accepted |server time - request time| for header auth, and how far a presigned URL may be in the future. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
/** X-Amz-Expires bounds (seconds): one second to seven days. */
export const MIN_PRESIGN_EXPIRES_S = 1;
export const MAX_PRESIGN_EXPIRES_S = 7 * 24 * 60 * 60;

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_SIGNED_PAYLOAD = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_PAYLOAD_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_PAYLOAD_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';

/** SHA-256 of the empty string, hex. */
export const EMPTY_SHA256_HEX = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** String-to-sign algorithm lines of aws-chunked chunk and trailer signatures. */
export const CHUNK_SIGNATURE_ALGORITHM = 'AWS4-HMAC-SHA256-PAYLOAD';
export const TRAILER_SIGNATURE_ALGORITHM = 'AWS4-HMAC-SHA256-TRAILER';

/** Header and query-parameter names. */
export const H_AUTHORIZATION = 'authorization';
export const H_AMZ_DATE = 'x-amz-date';
export const H_DATE = 'date';
export const H_CONTENT_SHA256 = 'x-amz-content-sha256';
export const H_DECODED_CONTENT_LENGTH = 'x-amz-decoded-content-length';
export const H_TRAILER = 'x-amz-trailer';
export const TRAILER_SIGNATURE_NAME = 'x-amz-trailer-signature';

export const Q_ALGORITHM = 'X-Amz-Algorithm';
export const Q_CREDENTIAL = 'X-Amz-Credential';
export const Q_DATE = 'X-Amz-Date';
export const Q_EXPIRES = 'X-Amz-Expires';
export const Q_SIGNED_HEADERS = 'X-Amz-SignedHeaders';
export const Q_SIGNATURE = 'X-Amz-Signature';
export const Q_CONTENT_SHA256 = 'X-Amz-Content-Sha256';
