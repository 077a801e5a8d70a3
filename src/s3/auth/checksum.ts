/**
 * The S3 flexible-checksum algorithms, computed incrementally, digests as base64 of the big-endian
 * bytes: the exact form the AWS SDK sends in x-amz-checksum-* headers and trailers.
 */
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
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

/**
 * CRC32 (IEEE, as S3 uses it) with Node's native zlib.crc32: ~4.7 GB/s here against ~80 MB/s
 * for the pure-JS implementation, which made CRC32 the bottleneck of every SDK upload.
 */
function nativeCrc32(): StreamingChecksum {
  let crc = 0;
  return {
    update: (b) => {
      crc = zlib.crc32(b, crc);
    },
    digestBase64: () => {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(crc >>> 0);
      return out.toString('base64');
    },
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
      return nativeCrc32();
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
