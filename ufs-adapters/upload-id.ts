/**
 * Multipart upload ids of the adapters that keep uploads themselves (local, HDFS, GCS): 32
 * base64url characters, 186 random bits, never starting with '-' or '_'. An id starting with '-'
 * cannot be passed to command-line clients (`aws s3api upload-part --upload-id -abc` is parsed as
 * an option), so the first character is always a letter or digit.
 */
import { randomBytes } from 'node:crypto';

/** What an upload id may look like (also ids made by earlier versions). */
const UPLOAD_ID = /^[A-Za-z0-9_-]{16,128}$/;

export function newUploadId(): string {
  const id = randomBytes(24).toString('base64url');
  return /^[A-Za-z0-9]/.test(id) ? id : `u${id.slice(1)}`;
}

export const isUploadId = (uploadId: unknown): uploadId is string => typeof uploadId === 'string' && UPLOAD_ID.test(uploadId);
