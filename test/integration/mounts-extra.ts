/** The GCS and WebHDFS mounts of the multi-store test, started from their emulators. */
import { startGcsEmulator } from '../emulators/gcs/gcs-emulator';
import { startWebHdfsEmulator } from '../emulators/webhdfs';

export interface ExtraMounts {
  mounts: Record<string, { uri: string; options?: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function extraMounts(): Promise<ExtraMounts> {
  const gcs = await startGcsEmulator({ buckets: ['gateway-bucket'] });
  const hdfs = await startWebHdfsEmulator({ allowAnonymous: false });
  return {
    mounts: {
      'gcs-data': { uri: 'gs://gateway-bucket/ringcache/', options: { apiEndpoint: gcs.endpoint } },
      'hdfs-data': { uri: `hdfs://127.0.0.1:${hdfs.nameNodePort}/warehouse/ringcache?user=ringcache` },
    },
    close: async () => {
      await gcs.close();
      await hdfs.close();
    },
  };
}
