/**
 * Mount URIs: `gs://<bucket>` or `gs://<bucket>/<prefix>`. The prefix is percent-decoded
 * segment by segment and always ends in "/" (keys live "in a folder" of the bucket).
 */

export interface GcsLocation {
  bucket: string;
  /** "" or a prefix ending in "/", e.g. "data/archive/". */
  prefix: string;
}

export class GcsUriError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GcsUriError';
  }
}

/** https://cloud.google.com/storage/docs/buckets#naming (dotted names up to 222 characters). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;

function isValidBucketName(name: string): boolean {
  if (!BUCKET_NAME.test(name)) return false;
  if (name.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(name) || name.startsWith('goog')) return false;
  return name.split('.').every((label) => label.length > 0 && label.length <= 63);
}

export function parseGcsUri(uri: string): GcsLocation {
  const match = /^gs:\/\/([^/?#]*)(\/[^?#]*)?$/.exec(uri);
  if (!match) throw new GcsUriError(`not a gs:// URI (expected gs://bucket[/prefix]): ${uri}`);
  const bucket = match[1];
  if (!isValidBucketName(bucket)) throw new GcsUriError(`invalid GCS bucket name in ${uri}`);
  const path = (match[2] ?? '').replace(/^\//, '');
  if (path === '') return { bucket, prefix: '' };
  const segments = path.replace(/\/$/, '').split('/');
  const decoded = segments.map((segment) => {
    if (segment === '') throw new GcsUriError(`empty path segment in ${uri}`);
    try {
      return decodeURIComponent(segment);
    } catch {
      throw new GcsUriError(`malformed percent-encoding in ${uri}`);
    }
  });
  const prefix = `${decoded.join('/')}/`;
  if (/[\r\n]/.test(prefix)) throw new GcsUriError(`the prefix of ${uri} contains a line break`);
  if (Buffer.byteLength(prefix, 'utf8') > 512) throw new GcsUriError(`the prefix of ${uri} is longer than 512 bytes`);
  return { bucket, prefix };
}
