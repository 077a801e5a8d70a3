/**
 * S3's rules for multipart parts, for the adapters that keep parts themselves (local, HDFS,
 * GCS): the part numbers an UploadPart may name, the checks of a CompleteMultipartUpload part
 * list (in S3's order: InvalidPartOrder, InvalidPart, EntityTooSmall), and the ETag of the
 * assembled object.
 */
import { createHash } from 'node:crypto';
import { ufsError } from '../errors';
import { unquoteEtag } from '../object-metadata';
import { MAX_PART_NUMBER, type CompletedPart } from '../types';

export function assertPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw ufsError('InvalidPart', `part numbers must be integers from 1 to ${MAX_PART_NUMBER}`);
  }
}

/** The list is not empty and its part numbers strictly ascend. */
export function checkPartOrder(requested: CompletedPart[]): void {
  if (requested.length === 0) throw ufsError('InvalidPartOrder', 'the part list must not be empty');
  requested.forEach((part, i) => {
    if (i > 0 && part.partNumber <= requested[i - 1].partNumber) {
      throw ufsError('InvalidPartOrder', 'the part list must be in strictly ascending part number order');
    }
  });
}

/** The stored part `requested` names; InvalidPart when there is none or its ETag differs. */
export function matchPart<P extends { etag: string }>(stored: P | undefined, requested: CompletedPart): P {
  if (!stored || unquoteEtag(stored.etag) !== unquoteEtag(String(requested.etag))) {
    throw ufsError('InvalidPart', `part ${requested.partNumber} was not found or its ETag does not match`);
  }
  return stored;
}

/** Every part but the last holds at least `minPartSize` bytes. */
export function checkPartSizes(valid: Array<{ partNumber: number; size: number }>, minPartSize: number): void {
  valid.forEach((part, i) => {
    if (i < valid.length - 1 && part.size < minPartSize) {
      throw ufsError('EntityTooSmall', `part ${part.partNumber} is smaller than the minimum part size`);
    }
  });
}

/** S3's ETag of a multipart object: the MD5 of the parts' binary MD5s, then "-<number of parts>". */
export const multipartEtag = (md5s: Buffer[]): string => `"${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${md5s.length}"`;
