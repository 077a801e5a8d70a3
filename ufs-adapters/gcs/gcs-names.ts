/**
 * Keys <-> object names. A key `k` of a mount `gs://bucket/prefix/` is the object
 * `prefix/k`. Two folders below the prefix are the adapter's own and never visible:
 *   <prefix>.ringcache-uploads/<uploadId>/upload.json, part-<n>, compose-<level>-<i>
 *   <prefix>.ringcache-tmp/<uuid>      bodies of large PUTs before they are rewritten into place
 *   <prefix>.ringcache-settings/<name>.json   the bucket's settings (ACL, CORS rules)
 */
import { randomUUID } from 'node:crypto';
import { isUploadId as isValidUploadId, newUploadId } from '../upload-id';
import { ufsError } from '../errors';

const UPLOADS_FOLDER = '.ringcache-uploads/';
const TMP_FOLDER = '.ringcache-tmp/';
const SETTINGS_FOLDER = '.ringcache-settings/';
const RESERVED_FOLDERS = [UPLOADS_FOLDER, TMP_FOLDER, SETTINGS_FOLDER] as const;

/** GCS object names are at most 1024 bytes of UTF-8. */
const MAX_NAME_BYTES = 1024;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The reserved folder (relative to the mount) that `relative` lies in, if any. */
export function reservedFolderOf(relative: string): string | undefined {
  return RESERVED_FOLDERS.find((folder) => relative.startsWith(folder));
}

/** The smallest string sorting after every name below `folder` (which ends in "/"). */
export const afterFolder = (folder: string): string => `${folder.slice(0, -1)}0`;

export { isValidUploadId, newUploadId };

export class GcsNames {
  constructor(readonly prefix: string) {}

  objectName(key: string): string {
    return this.prefix + key;
  }

  /** The key of an object name below the prefix. */
  keyOf(name: string): string {
    return name.slice(this.prefix.length);
  }

  /**
   * Why `key` cannot name an object of this mount, or undefined when it can. GCS forbids
   * CR/LF, "." and "..", and the ".well-known/acme-challenge/" prefix; names are at most
   * 1024 bytes; the adapter's reserved folders are not keys.
   */
  problemWith(key: string): string | undefined {
    if (typeof key !== 'string' || key === '') return 'the key is empty';
    if (LONE_SURROGATE.test(key)) return 'the key is not valid UTF-8';
    if (/[\r\n]/.test(key)) return 'GCS object names cannot contain CR or LF';
    if (reservedFolderOf(key)) return 'the key lies in a folder reserved by the gateway';
    const name = this.objectName(key);
    if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return 'the key is too long for GCS (1024 bytes including the mount prefix)';
    if (name === '.' || name === '..' || name.startsWith('.well-known/acme-challenge/')) return 'GCS does not allow this object name';
    return undefined;
  }

  /** For writes: InvalidKey when the key cannot be stored. */
  assertWritable(key: string): string {
    const problem = this.problemWith(key);
    if (problem) throw ufsError('InvalidKey', problem);
    return this.objectName(key);
  }

  /** For reads: a key that cannot exist is simply not found. */
  readableName(key: string): string {
    if (this.problemWith(key)) throw ufsError('NotFound', 'object not found');
    return this.objectName(key);
  }

  get uploadsRoot(): string {
    return this.prefix + UPLOADS_FOLDER;
  }

  get tmpRoot(): string {
    return this.prefix + TMP_FOLDER;
  }

  uploadDir(uploadId: string): string {
    if (!isValidUploadId(uploadId)) throw ufsError('NoSuchUpload', 'the multipart upload does not exist');
    return `${this.uploadsRoot}${uploadId}/`;
  }

  uploadRecord(uploadId: string): string {
    return `${this.uploadDir(uploadId)}upload.json`;
  }

  part(uploadId: string, partNumber: number): string {
    return `${this.uploadDir(uploadId)}part-${partNumber}`;
  }

  composeIntermediate(uploadId: string, level: number, index: number): string {
    return `${this.uploadDir(uploadId)}compose-${level}-${index}`;
  }

  setting(name: string): string {
    return `${this.prefix}${SETTINGS_FOLDER}${name}.json`;
  }

  newTemp(): string {
    return `${this.tmpRoot}${randomUUID()}`;
  }
}
