/**
 * Upload ids made by the local, HDFS and GCS adapters: usable as a command-line argument (never
 * starting with '-' or '_', which the aws CLI would parse as an option), valid by their own check.
 */
import { isUploadId, newUploadId } from '../../ufs-adapters/upload-id';

test('20,000 new upload ids: 32 base64url characters, first one a letter or digit, unique, accepted', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const id = newUploadId();
    expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{31}$/);
    expect(isUploadId(id)).toBe(true);
    seen.add(id);
  }
  expect(seen.size).toBe(20_000);
});

test('ids of earlier versions (any base64url start) are still accepted; other text is not', () => {
  expect(isUploadId('-luEnMeJHQKYG_lLKbW6F-chzcFLrP8q')).toBe(true);
  for (const bad of ['short', '../../etc/passwd-xxxxxxxxxxxxxx', 'a'.repeat(129), 'with space xxxxxxxxxxxxxxxxxx', 42, undefined]) expect(isUploadId(bad)).toBe(false);
});
