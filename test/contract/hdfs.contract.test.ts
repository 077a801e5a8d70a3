/**
 * The shared UFS contract against the HDFS adapter, talking WebHDFS over HTTP to the
 * emulated NameNode + DataNode (test/emulators/webhdfs). The mount root is a nested HDFS
 * path, the emulator pages listings by 5 entries (so every listing crosses LISTSTATUS_BATCH
 * pages) and refuses anonymous requests (so user.name must be on every call, including the
 * DataNode redirects).
 */
import { createHdfsAdapterFromUri } from '../../ufs-adapters/hdfs/hdfs-adapter';
import { startWebHdfsEmulator } from '../emulators/webhdfs';
import { describeUfsContract } from './ufs-contract';

describeUfsContract('hdfs (WebHDFS emulator)', async () => {
  const emulator = await startWebHdfsEmulator({ lsLimit: 5, allowAnonymous: false });
  const adapter = createHdfsAdapterFromUri(`hdfs://127.0.0.1:${emulator.nameNodePort}/data/ringcache%20mount?user=alice`);
  return { adapter, cleanup: () => emulator.close() };
});
