/**
 * createChecksum against known values and against the x-amz-checksum-* headers the real S3 client
 * computes for the same body.
 */
import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { CHECKSUM_ALGORITHMS, checksumAlgorithmOfHeader, checksumHeaderName, createChecksum, type ChecksumAlgorithm } from '../../src/s3/auth';
import { capturingS3Client } from '../helpers/sigv4';

async function digest(alg: ChecksumAlgorithm, pieces: Array<string | Buffer>): Promise<string> {
  const c = createChecksum(alg);
  for (const p of pieces) c.update(typeof p === 'string' ? Buffer.from(p) : p);
  return c.digestBase64();
}

/** The x-amz-checksum-* header the S3 client sends for `body`. */
async function sdkChecksum(alg: ChecksumAlgorithm, body: Buffer): Promise<string> {
  const { client, captured } = capturingS3Client({ accessKeyId: 'AKID', secretAccessKey: 'secret' });
  await client.send(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: body, ChecksumAlgorithm: alg })).catch(() => undefined);
  const value = captured[0]?.headers[checksumHeaderName(alg)];
  expect(value).toBeDefined();
  return value!;
}

describe('createChecksum', () => {
  it('matches known values for "hello world"', async () => {
    expect(await digest('CRC32', ['hello world'])).toBe('DUoRhQ==');
    expect(await digest('CRC32C', ['hello world'])).toBe('yZRlqg==');
    expect(await digest('SHA1', ['hello world'])).toBe(createHash('sha1').update('hello world').digest('base64'));
    expect(await digest('SHA256', ['hello world'])).toBe('uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=');
  });

  it('gives 8-byte CRC64NVME and the usual digest sizes', async () => {
    const sizes: Record<ChecksumAlgorithm, number> = { CRC32: 4, CRC32C: 4, CRC64NVME: 8, SHA1: 20, SHA256: 32 };
    for (const alg of CHECKSUM_ALGORITHMS) expect(Buffer.from(await digest(alg, ['x']), 'base64').length).toBe(sizes[alg]);
  });

  const body = Buffer.from(Array.from({ length: 200_003 }, (_, i) => (i * 7919) & 0xff));

  it.each(CHECKSUM_ALGORITHMS.map((a) => [a]))('%s equals what the AWS SDK sends, fed in any pieces', async (alg) => {
    const expected = await sdkChecksum(alg, body);
    expect(await digest(alg, [body])).toBe(expected);
    expect(await digest(alg, [body.subarray(0, 1), body.subarray(1, 65537), Buffer.alloc(0), body.subarray(65537)])).toBe(expected);
  });

  it('maps algorithms to x-amz-checksum-* names and back', () => {
    for (const alg of CHECKSUM_ALGORITHMS) expect(checksumAlgorithmOfHeader(checksumHeaderName(alg))).toBe(alg);
    expect(checksumHeaderName('CRC64NVME')).toBe('x-amz-checksum-crc64nvme');
    expect(checksumAlgorithmOfHeader('X-Amz-Checksum-CRC32C')).toBe('CRC32C');
    expect(checksumAlgorithmOfHeader('x-amz-checksum-md5')).toBeUndefined();
  });
});
