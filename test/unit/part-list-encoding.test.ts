/**
 * The part lists stores keep in text metadata (ufs-adapters/part-list-encoding.ts), and the S3 adapter's
 * reserved user metadata (ufs-adapters/s3/s3-metadata.ts): round trips, untrusted text refused,
 * the part lists left out past S3's 2 KB of user metadata, reserved names never shown as user
 * metadata.
 */
import { createHash } from 'node:crypto';
import { decodePartChecksums, decodePartSizes, encodePartChecksums, encodePartSizes, validPartChecksums } from '../../ufs-adapters/part-list-encoding';
import { metadataFromHead, metadataParams, partSizesFromHead } from '../../ufs-adapters/s3/s3-metadata';

const sha = (n: number): string => createHash('sha256').update(String(n)).digest('base64');

test('part sizes: run-length encoded and back; malformed or too many parts refused', () => {
  const sizes = [5, 5, 5, 7, 5, 5, 1];
  expect(encodePartSizes(sizes)).toBe('5*3,7,5*2,1');
  expect(decodePartSizes(encodePartSizes(sizes))).toEqual(sizes);
  for (const bad of ['', '5*', 'a', '5,,6', '1*10001', '5*9999,1,1', 42, undefined]) expect(decodePartSizes(bad)).toBeUndefined();
});

test('part checksums: comma-separated base64 and back; anything else refused', () => {
  const sums = [sha(1), sha(2), 'AAAAAA=='];
  expect(decodePartChecksums(encodePartChecksums(sums))).toEqual(sums);
  for (const bad of ['', 'not base64!', `${sha(1)},`, 7]) expect(decodePartChecksums(bad)).toBeUndefined();
  expect(validPartChecksums([sha(1), 3])).toBeUndefined();
  expect(validPartChecksums([])).toBeUndefined();
  expect(validPartChecksums(Array.from({ length: 10_001 }, () => 'AAAAAA=='))).toBeUndefined();
});

describe('S3 adapter reserved metadata', () => {
  const metadata = { userMetadata: { owner: 'a', 'ringcache-checksum-sha256': 'user value' }, checksums: { SHA256: `${sha(0)}-3` }, partChecksums: [sha(1), sha(2), sha(3)] };

  test('written as x-amz-meta-ringcache-*, read back, never shown as user metadata', () => {
    const params = metadataParams(metadata, [10, 10, 4]);
    expect(params.Metadata).toEqual({
      owner: 'a',
      'ringcache-u-ringcache-checksum-sha256': 'user value',
      'ringcache-checksum-sha256': `${sha(0)}-3`,
      'ringcache-part-sizes': '10*2,4',
      'ringcache-part-checksums': [sha(1), sha(2), sha(3)].join(','),
    });
    const back = metadataFromHead({ Metadata: params.Metadata });
    expect(back).toEqual({ userMetadata: metadata.userMetadata, checksums: metadata.checksums, partChecksums: metadata.partChecksums });
    expect(partSizesFromHead({ Metadata: params.Metadata }, 24)).toEqual([10, 10, 4]);
    // Sizes that do not add up to the object's are not its parts.
    expect(partSizesFromHead({ Metadata: params.Metadata }, 25)).toBeUndefined();
  });

  test('the part lists stay within 2 KB of user metadata, part checksums left out first', () => {
    const many = Array.from({ length: 60 }, (_, i) => sha(i));
    const params = metadataParams({ ...metadata, partChecksums: many }, Array.from({ length: 60 }, () => 5));
    expect(params.Metadata?.['ringcache-part-checksums']).toBeUndefined();
    expect(params.Metadata?.['ringcache-part-sizes']).toBe('5*60');
    expect(params.Metadata?.['ringcache-checksum-sha256']).toBe(`${sha(0)}-3`);
    const fits = Array.from({ length: 30 }, (_, i) => sha(i));
    expect(metadataParams({ ...metadata, partChecksums: fits }, Array.from({ length: 30 }, () => 5)).Metadata?.['ringcache-part-checksums']).toBe(fits.join(','));
  });
});
