/**
 * The checksum of an object assembled by multipart upload, as S3 computes it from its parts'
 * checksums:
 * - COMPOSITE (SHA1, SHA256, CRC32, CRC32C): the checksum of the concatenated raw part checksums,
 *   written "<base64>-<number of parts>";
 * - FULL_OBJECT (CRC32, CRC32C, CRC64NVME): the CRC of the whole object, combined from the parts'
 *   CRCs and sizes (zlib's crc32_combine, generalised to any reflected CRC), written "<base64>".
 * A stored value ending in "-<N>" is composite; any other is full-object.
 */
import type { ChecksumAlgorithm } from '../../ufs-adapters/types';
import { createChecksum } from './auth/checksum';
import { s3Error } from './errors';

type ChecksumType = 'COMPOSITE' | 'FULL_OBJECT';

/** What CreateMultipartUpload named, kept with the upload as "ALG" or "ALG/FULL_OBJECT". */
interface UploadChecksum {
  algorithm: ChecksumAlgorithm;
  type: ChecksumType;
}

const CRCS: Partial<Record<ChecksumAlgorithm, { poly: bigint; width: number }>> = {
  CRC32: { poly: 0xedb88320n, width: 32 },
  CRC32C: { poly: 0x82f63b78n, width: 32 },
  CRC64NVME: { poly: 0x9a6c9329ac4bc9b5n, width: 64 },
};

export const checksumTypeOf = (value: string): ChecksumType => (/-\d+$/.test(value) ? 'COMPOSITE' : 'FULL_OBJECT');

/** Validates x-amz-checksum-algorithm / x-amz-checksum-type of a CreateMultipartUpload. */
export function uploadChecksumOf(algorithm: string | undefined, type: string | undefined): UploadChecksum | undefined {
  if (algorithm === undefined) {
    if (type !== undefined) throw s3Error('InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
    return undefined;
  }
  const alg = algorithm.trim().toUpperCase() as ChecksumAlgorithm;
  if (!['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'].includes(alg)) throw s3Error('InvalidRequest', `Checksum algorithm ${algorithm} is not supported.`);
  const kind = (type?.trim().toUpperCase() ?? (alg === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE')) as ChecksumType;
  if (kind !== 'COMPOSITE' && kind !== 'FULL_OBJECT') throw s3Error('InvalidRequest', `Value for x-amz-checksum-type header is invalid: ${type}`);
  if (kind === 'FULL_OBJECT' && !CRCS[alg]) throw s3Error('InvalidRequest', `The ${alg} algorithm does not support the FULL_OBJECT checksum type.`);
  if (kind === 'COMPOSITE' && alg === 'CRC64NVME') throw s3Error('InvalidRequest', 'The CRC64NVME algorithm supports only the FULL_OBJECT checksum type.');
  return { algorithm: alg, type: kind };
}

export const encodeUploadChecksum = (c: UploadChecksum): string => (c.type === 'FULL_OBJECT' ? `${c.algorithm}/FULL_OBJECT` : c.algorithm);

export function decodeUploadChecksum(text: string | undefined): UploadChecksum | undefined {
  if (!text) return undefined;
  const [algorithm, type] = text.split('/');
  try {
    return uploadChecksumOf(algorithm, type ?? undefined);
  } catch {
    return undefined;
  }
}

/** Multiplies the GF(2) matrix `mat` (columns as bigints) by the vector `vec`. */
function times(mat: bigint[], vec: bigint): bigint {
  let sum = 0n;
  for (let i = 0; vec !== 0n; i++, vec >>= 1n) if (vec & 1n) sum ^= mat[i];
  return sum;
}

const square = (mat: bigint[]): bigint[] => mat.map((column) => times(mat, column));

/** crc(A || B) from crc(A), crc(B) and the length of B in bytes (zlib's crc32_combine, any width). */
function combineCrc(algorithm: ChecksumAlgorithm, crcA: bigint, crcB: bigint, lengthB: number): bigint {
  const spec = CRCS[algorithm];
  if (!spec) throw new Error(`${algorithm} is not a CRC`);
  if (lengthB === 0) return crcA;
  // The operator for one zero bit, then for two and four zero bits.
  let odd: bigint[] = [spec.poly];
  for (let n = 1; n < spec.width; n++) odd.push(1n << BigInt(n - 1));
  let even = square(odd);
  odd = square(even);
  let len = lengthB;
  let crc = crcA;
  for (;;) {
    even = square(odd);
    if (len & 1) crc = times(even, crc);
    len = Math.floor(len / 2);
    if (len === 0) break;
    odd = square(even);
    if (len & 1) crc = times(odd, crc);
    len = Math.floor(len / 2);
    if (len === 0) break;
  }
  return crc ^ crcB;
}

const toBigInt = (b64: string): bigint => BigInt(`0x${Buffer.from(b64, 'base64').toString('hex') || '0'}`);
const fromBigInt = (value: bigint, width: number): string => Buffer.from(value.toString(16).padStart(width / 4, '0'), 'hex').toString('base64');

interface PartChecksum {
  /** Base64, as stored with the part. */
  value: string;
  size: number;
}

/** The object's checksum from its parts' (in part order). */
export async function objectChecksum(algorithm: ChecksumAlgorithm, type: ChecksumType, parts: readonly PartChecksum[]): Promise<string> {
  if (type === 'COMPOSITE') {
    const checksum = createChecksum(algorithm);
    for (const part of parts) checksum.update(Buffer.from(part.value, 'base64'));
    return `${await checksum.digestBase64()}-${parts.length}`;
  }
  const width = (CRCS[algorithm] as { width: number }).width;
  let crc = toBigInt(parts[0]?.value ?? fromBigInt(0n, width));
  for (let i = 1; i < parts.length; i++) crc = combineCrc(algorithm, crc, toBigInt(parts[i].value), parts[i].size);
  return fromBigInt(crc, width);
}

/**
 * Whether a client's whole-object checksum matches ours: the same value, or (composite) the same
 * digest with or without its "-<N>" suffix.
 */
export function sameObjectChecksum(ours: string, theirs: string): boolean {
  const given = theirs.trim();
  if (given === ours) return true;
  return checksumTypeOf(ours) === 'COMPOSITE' && !/-\d+$/.test(given) && ours.slice(0, ours.lastIndexOf('-')) === given;
}

const lower = (alg: ChecksumAlgorithm): string => alg.toLowerCase();

/**
 * UploadPart of an upload created with `expected`: a part whose request names another algorithm
 * (a header, a trailer or x-amz-sdk-checksum-algorithm) is refused as S3 refuses it.
 */
export function assertPartAlgorithm(expected: UploadChecksum | undefined, named: Iterable<ChecksumAlgorithm>): void {
  if (!expected) return;
  for (const alg of named) {
    if (alg !== expected.algorithm) {
      throw s3Error('InvalidRequest', `Checksum Type mismatch occurred, expected checksum Type: ${lower(expected.algorithm)}, actual checksum Type: ${lower(alg)}`);
    }
  }
}

/** The XML element of a checksum in S3 documents ('CRC32' -> 'ChecksumCRC32'). */
export const checksumElement = (alg: ChecksumAlgorithm): string => `Checksum${alg}`;

export interface CompletedPartChecksums {
  partNumber: number;
  /** The part's checksums the CompleteMultipartUpload XML gave (ChecksumCRC32, ...). */
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

interface StoredPart {
  partNumber: number;
  size: number;
  checksums?: Partial<Record<ChecksumAlgorithm, string>>;
}

/**
 * The object checksum of a completion, after S3's checks of the parts' checksums:
 * - a checksum the XML gives for a part must be the one stored with the part (InvalidPart);
 * - a COMPOSITE upload needs every part's checksum in the XML (InvalidRequest);
 * - the object's checksum is computed from the stored part checksums of the listed parts, in
 *   order; undefined when the upload named no algorithm, or a listed part has no stored checksum
 *   (a part the store could not keep one for: then S3 semantics cannot be offered, see README).
 * Parts missing from `stored` are left to the store's own InvalidPart check.
 */
export async function completionChecksum(
  upload: UploadChecksum | undefined,
  requested: readonly CompletedPartChecksums[],
  stored: readonly StoredPart[],
): Promise<string | undefined> {
  const byNumber = new Map(stored.map((p) => [p.partNumber, p]));
  const sums: PartChecksum[] = [];
  let complete = upload !== undefined;
  for (const part of requested) {
    const found = byNumber.get(part.partNumber);
    for (const [alg, value] of Object.entries(part.checksums) as Array<[ChecksumAlgorithm, string]>) {
      const kept = found?.checksums?.[alg];
      if (found && kept !== value.trim()) {
        throw s3Error('InvalidPart', `One or more of the specified parts could not be found. The part may not have been uploaded, or the specified ${checksumElement(alg)} does not match the part's checksum (part ${part.partNumber}).`);
      }
    }
    if (!upload) continue;
    if (upload.type === 'COMPOSITE' && part.checksums[upload.algorithm] === undefined) {
      throw s3Error(
        'InvalidRequest',
        `The upload was created using a ${lower(upload.algorithm)} checksum. The complete request must include the checksum for each part. It was missing for part ${part.partNumber} in the request.`,
      );
    }
    const value = found?.checksums?.[upload.algorithm];
    if (!found || value === undefined) complete = false;
    else sums.push({ value, size: found.size });
  }
  if (!upload || !complete) return undefined;
  return objectChecksum(upload.algorithm, upload.type, sums);
}

/**
 * The part checksums a COMPOSITE object keeps for GetObjectAttributes: each listed part's stored
 * checksum in the upload's algorithm, in the order of the completion. Undefined for other uploads,
 * or when a listed part has none (then the object's checksum is unknown too).
 */
export function compositePartChecksums(upload: UploadChecksum | undefined, requested: readonly CompletedPartChecksums[], stored: readonly StoredPart[]): string[] | undefined {
  if (upload?.type !== 'COMPOSITE') return undefined;
  const byNumber = new Map(stored.map((p) => [p.partNumber, p]));
  const out: string[] = [];
  for (const part of requested) {
    const value = byNumber.get(part.partNumber)?.checksums?.[upload.algorithm];
    if (value === undefined) return undefined;
    out.push(value);
  }
  return out;
}

/**
 * The whole-object checksum headers of a CompleteMultipartUpload (x-amz-checksum-<alg>,
 * x-amz-checksum-type), checked against the upload: another algorithm or type is InvalidRequest,
 * another value BadDigest.
 */
export function checkClientObjectChecksum(
  upload: UploadChecksum | undefined,
  given: Partial<Record<ChecksumAlgorithm, string>>,
  type: string | undefined,
  ours: string | undefined,
): void {
  if (type !== undefined && (!upload || type.trim().toUpperCase() !== upload.type)) {
    throw s3Error('InvalidRequest', `The x-amz-checksum-type header (${type}) does not match the checksum type of the multipart upload (${upload?.type ?? 'none'}).`);
  }
  for (const [alg, value] of Object.entries(given) as Array<[ChecksumAlgorithm, string]>) {
    if (!upload || alg !== upload.algorithm) {
      throw s3Error('InvalidRequest', `The x-amz-checksum-${lower(alg)} header does not match the checksum algorithm of the multipart upload (${upload ? lower(upload.algorithm) : 'none'}).`);
    }
    if (ours !== undefined && !sameObjectChecksum(ours, value)) {
      throw s3Error('BadDigest', `The ${upload.type === 'COMPOSITE' ? 'composite' : 'full object'} x-amz-checksum-${lower(alg)} you specified did not match the calculated checksum.`);
    }
  }
}
