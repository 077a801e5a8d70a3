/** The GCS and WebHDFS mounts of the multi-store test, started from their emulators. */
import { startGcsEmulator } from '../emulators/gcs/gcs-emulator';

export interface ExtraMounts {
  mounts: Record<string, { uri: string; options?: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function extraMounts(): Promise<ExtraMounts> {
  const gcs = await startGcsEmulator({ buckets: ['gateway-bucket'] });
  return {
    mounts: {
      'gcs-data': { uri: 'gs://gateway-bucket/ringcache/', options: { apiEndpoint: gcs.endpoint } },
    },
    close: async () => {
      await gcs.close();
    },
  };
}
