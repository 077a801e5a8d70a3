/**
 * The S3 flexible-checksum algorithms, computed incrementally, digests as base64 of the big-endian
 * bytes: the exact form the AWS SDK sends in x-amz-checksum-* headers and trailers.
 */
import { createHash } from 'node:crypto';
import { AwsCrc32 } from '@aws-crypto/crc32';
import { AwsCrc32c } from '@aws-crypto/crc32c';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';
import type { ChecksumAlgorithm } from './types';

export interface StreamingChecksum {
  update(b: Uint8Array): void;
  digestBase64(): Promise<string> | string;
}

export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];

interface AsyncChecksum {
  update(b: Uint8Array): void;
  digest(): Promise<Uint8Array>;
}

function fromAsync(impl: AsyncChecksum): StreamingChecksum {
  return {
    update: (b) => impl.update(b),
    digestBase64: async () => Buffer.from(await impl.digest()).toString('base64'),
  };
}

function fromNodeHash(alg: 'sha1' | 'sha256'): StreamingChecksum {
  const hash = createHash(alg);
  return {
    update: (b) => {
      hash.update(b);
    },
    digestBase64: () => hash.digest('base64'),
  };
}

export function createChecksum(alg: ChecksumAlgorithm): StreamingChecksum {
  switch (alg) {
    case 'CRC32':
      return fromAsync(new AwsCrc32());
    case 'CRC32C':
      return fromAsync(new AwsCrc32c());
    case 'CRC64NVME':
      return fromAsync(new Crc64Nvme());
    case 'SHA1':
      return fromNodeHash('sha1');
    case 'SHA256':
      return fromNodeHash('sha256');
  }
}

/** 'CRC32' -> 'x-amz-checksum-crc32'. */
export function checksumHeaderName(alg: ChecksumAlgorithm): string {
  return `x-amz-checksum-${alg.toLowerCase()}`;
}

/** 'x-amz-checksum-crc64nvme' (any case) -> 'CRC64NVME'; undefined for other names. */
export function checksumAlgorithmOfHeader(name: string): ChecksumAlgorithm | undefined {
  const lower = name.trim().toLowerCase();
  return CHECKSUM_ALGORITHMS.find((alg) => checksumHeaderName(alg) === lower);
}
