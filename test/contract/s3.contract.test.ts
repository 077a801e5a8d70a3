/**
 * The shared UFS contract against the S3 adapter, talking HTTP to a real s3rver on
 * 127.0.0.1 (with the multipart operations s3rver 3.7.1 lacks added by the fixture, see
 * test/emulators/s3/s3rver-fixture.ts). The mount has a key prefix, so every test
 * also exercises the prefix mapping.
 */
import { S3Adapter, createS3AdapterFromUri } from '../../ufs-adapters/s3/s3-adapter';
import { startS3rver } from '../emulators/s3/s3rver-fixture';
import { describeUfsContract } from './ufs-contract';

describeUfsContract('s3 (s3rver)', async () => {
  const server = await startS3rver({ bucket: 'contract' });
  const adapter: S3Adapter = createS3AdapterFromUri(`s3://contract/mounts/ringcache?endpoint=${encodeURIComponent(server.endpoint)}&pathStyle=true`, {
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    maxAttempts: 2,
  });
  return { adapter, cleanup: () => server.close() };
}, {
  skip: {
    // S3 (and Ceph RGW) answer a ranged GET of an empty object with 416, which the adapter turns
    // into a stat; s3rver 3.7 resets the connection instead.
    'readWithInfo of an empty object: its info, no bytes': 's3rver resets the connection on a ranged GET of an empty object (S3 answers 416)',
  },
});
