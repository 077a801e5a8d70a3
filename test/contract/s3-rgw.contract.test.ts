/**
 * The shared UFS contract against the S3 adapter on a real S3 implementation: Ceph RGW 16
 * (test/servers/ceph-rgw.ts), the S3 store of record for these tests. The mount has a key
 * prefix, so every test also exercises the prefix mapping.
 */
import { createS3AdapterFromUri } from '../../ufs-adapters/s3/s3-adapter';
import { describeWithRgw } from '../servers/rgw-fixture';
import { describeUfsContract } from './ufs-contract';

describeWithRgw('S3 adapter on Ceph RGW', (rgw) => {
  describeUfsContract('s3 (Ceph RGW)', async () => {
    await rgw.createBucket('contract');
    const { endpoint, accessKeyId, secretAccessKey } = rgw.server;
    const adapter = createS3AdapterFromUri(`s3://contract/mounts/ringcache?endpoint=${encodeURIComponent(endpoint)}`, {
      credentials: { accessKeyId, secretAccessKey },
      maxAttempts: 2,
    });
    return { adapter, cleanup: async () => undefined };
  });
});
