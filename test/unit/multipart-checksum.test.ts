/**
 * Multipart checksums: CRCs combined from parts equal the CRC of the whole (CRC32, CRC32C,
 * CRC64NVME, against the SDK's own implementations over generated inputs, and CRC32 against
 * node:zlib's crc32 of the concatenated bytes), the checks of a completion, composite checksums
 * are the checksum of the raw part checksums with "-N", and CreateMultipartUpload's
 * algorithm/type pairs are validated as S3 does.
 */
import { createHash, randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { createChecksum } from '../../src/s3/auth/checksum';
import {
  assertPartAlgorithm,
  checkClientObjectChecksum,
  completionChecksum,
  objectChecksum,
  sameObjectChecksum,
  uploadChecksumOf,
} from '../../src/s3/multipart-checksum';
import type { ChecksumAlgorithm } from '../../ufs-adapters/types';

const digest = async (alg: ChecksumAlgorithm, ...chunks: Buffer[]): Promise<string> => {
  const c = createChecksum(alg);
  for (const b of chunks) c.update(b);
  return c.digestBase64();
};

describe('full-object CRCs combined from the parts', () => {
  for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME'] as const) {
    it(`${alg}: combining the parts' CRCs gives the CRC of the whole object`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 0, maxLength: 3000 }), { minLength: 1, maxLength: 6 }), async (arrays) => {
          const parts = arrays.map((a) => Buffer.from(a));
          const partChecksums = await Promise.all(parts.map(async (p) => ({ value: await digest(alg, p), size: p.length })));
          expect(await objectChecksum(alg, 'FULL_OBJECT', partChecksums)).toBe(await digest(alg, ...parts));
        }),
        { numRuns: 40 },
      );
    });
  }

  it('CRC32: the combined value is zlib.crc32 of the concatenated bytes (an independent reference)', async () => {
    const crc32 = (b: Buffer): string => {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(zlib.crc32(b) >>> 0);
      return out.toString('base64');
    };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 0, maxLength: 5000 }), { minLength: 1, maxLength: 8 }), async (arrays) => {
        const parts = arrays.map((a) => Buffer.from(a));
        const sums = parts.map((p) => ({ value: crc32(p), size: p.length }));
        expect(await objectChecksum('CRC32', 'FULL_OBJECT', sums)).toBe(crc32(Buffer.concat(parts)));
      }),
      { numRuns: 60 },
    );
  });

  it('CRC32 of 3 x 5 MiB parts', async () => {
    const parts = [randomBytes(5 << 20), randomBytes(5 << 20), randomBytes(1234)];
    const sums = await Promise.all(parts.map(async (p) => ({ value: await digest('CRC32', p), size: p.length })));
    expect(await objectChecksum('CRC32', 'FULL_OBJECT', sums)).toBe(await digest('CRC32', ...parts));
  });
});

describe('composite checksums', () => {
  it('SHA256: the SHA-256 of the raw part digests, then -N', async () => {
    const parts = [Buffer.from('part one'), Buffer.from('part two')];
    const raw = parts.map((p) => createHash('sha256').update(p).digest());
    const expected = `${createHash('sha256').update(Buffer.concat(raw)).digest('base64')}-2`;
    const got = await objectChecksum('SHA256', 'COMPOSITE', parts.map((p, i) => ({ value: raw[i].toString('base64'), size: p.length })));
    expect(got).toBe(expected);
    expect(sameObjectChecksum(got, expected)).toBe(true);
    expect(sameObjectChecksum(got, expected.slice(0, -2))).toBe(true);
    expect(sameObjectChecksum(got, `${expected.slice(0, -2)}-3`)).toBe(false);
  });
});

describe('completion', () => {
  const sha = (b: string) => createHash('sha256').update(b).digest('base64');
  const stored = [
    { partNumber: 1, size: 3, checksums: { SHA256: sha('one') } },
    { partNumber: 2, size: 3, checksums: { SHA256: sha('two') } },
  ];

  it('checks the parts\' checksums in the XML against the stored ones and computes the composite', async () => {
    const upload = { algorithm: 'SHA256' as const, type: 'COMPOSITE' as const };
    const requested = stored.map((p) => ({ partNumber: p.partNumber, checksums: { ...p.checksums } }));
    const value = await completionChecksum(upload, requested, stored);
    expect(value).toBe(await objectChecksum('SHA256', 'COMPOSITE', stored.map((p) => ({ value: p.checksums.SHA256, size: p.size }))));
    expect(value).toMatch(/-2$/);
    await expect(completionChecksum(upload, [{ partNumber: 1, checksums: { SHA256: sha('other') } }], stored)).rejects.toMatchObject({ code: 'InvalidPart' });
    await expect(completionChecksum(upload, [{ partNumber: 1, checksums: {} }], stored)).rejects.toMatchObject({ code: 'InvalidRequest' });
    // Without an algorithm at creation, the XML's checksums are still checked, and no object checksum is made.
    expect(await completionChecksum(undefined, requested, stored)).toBeUndefined();
    await expect(completionChecksum(undefined, [{ partNumber: 2, checksums: { SHA256: sha('one') } }], stored)).rejects.toMatchObject({ code: 'InvalidPart' });
  });

  it('the whole-object headers of a completion: algorithm, type and value', () => {
    const upload = { algorithm: 'CRC32' as const, type: 'FULL_OBJECT' as const };
    expect(() => checkClientObjectChecksum(upload, { CRC32: 'AAAAAA==' }, 'FULL_OBJECT', 'AAAAAA==')).not.toThrow();
    expect(() => checkClientObjectChecksum(upload, { CRC32: 'AAAAAQ==' }, undefined, 'AAAAAA==')).toThrow(expect.objectContaining({ code: 'BadDigest' }));
    expect(() => checkClientObjectChecksum(upload, {}, 'COMPOSITE', 'AAAAAA==')).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
    expect(() => checkClientObjectChecksum(upload, { SHA256: 'x' }, undefined, 'AAAAAA==')).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
    expect(() => checkClientObjectChecksum(undefined, { CRC32: 'AAAAAA==' }, undefined, undefined)).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
  });

  it('a part of another algorithm than the upload\'s is refused', () => {
    expect(() => assertPartAlgorithm({ algorithm: 'SHA256', type: 'COMPOSITE' }, ['CRC32'])).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
    expect(() => assertPartAlgorithm({ algorithm: 'SHA256', type: 'COMPOSITE' }, ['SHA256'])).not.toThrow();
    expect(() => assertPartAlgorithm(undefined, ['CRC32'])).not.toThrow();
  });
});

describe('CreateMultipartUpload checksum headers', () => {
  it('defaults and refusals as S3', () => {
    expect(uploadChecksumOf('sha256', undefined)).toEqual({ algorithm: 'SHA256', type: 'COMPOSITE' });
    expect(uploadChecksumOf('CRC64NVME', undefined)).toEqual({ algorithm: 'CRC64NVME', type: 'FULL_OBJECT' });
    expect(uploadChecksumOf('CRC32', 'FULL_OBJECT')).toEqual({ algorithm: 'CRC32', type: 'FULL_OBJECT' });
    expect(() => uploadChecksumOf('SHA1', 'FULL_OBJECT')).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
    expect(() => uploadChecksumOf('CRC64NVME', 'COMPOSITE')).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
    expect(() => uploadChecksumOf(undefined, 'COMPOSITE')).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
    expect(() => uploadChecksumOf('MD5', undefined)).toThrow(expect.objectContaining({ code: 'InvalidRequest' }));
  });
});
