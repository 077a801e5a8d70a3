/**
 * The shared UFS contract against the GCS adapter, talking to the local GCS JSON API
 * emulator (test/emulators/gcs) through @google-cloud/storage, mounted with a prefix.
 */
import { GcsAdapter } from '../../ufs-adapters/gcs/gcs-adapter';
import { startGcsEmulator } from '../emulators/gcs/gcs-emulator';
import { describeUfsContract } from './ufs-contract';

describeUfsContract('gcs (JSON API emulator)', async () => {
  const emulator = await startGcsEmulator({ buckets: ['contract-bucket'] });
  const adapter = new GcsAdapter({ bucket: 'contract-bucket', prefix: 'mount/prefix/', apiEndpoint: emulator.endpoint });
  return {
    adapter,
    cleanup: async () => {
      await emulator.close();
      if (emulator.unexpected.length > 0) throw new Error(`the emulator saw unexpected routes: ${emulator.unexpected.join('; ')}`);
      const names = emulator.objectNames('contract-bucket');
      const outside = names.filter((name) => !name.startsWith('mount/prefix/'));
      if (outside.length > 0) throw new Error(`objects written outside the mount prefix: ${outside.join(', ')}`);
      // Every upload of the suite was completed or aborted, every PUT committed or failed.
      const leftovers = names.filter((name) => name.includes('/.ringcache-'));
      if (leftovers.length > 0) throw new Error(`temporaries left behind: ${leftovers.join(', ')}`);
    },
  };
});
