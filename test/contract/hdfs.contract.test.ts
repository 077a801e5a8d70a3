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
  const root = '/data/ringcache mount';
  return {
    adapter,
    cleanup: async () => {
      await emulator.close();
      if (emulator.unknownOps.length > 0) throw new Error(`the emulator saw unknown operations: ${emulator.unknownOps.join('; ')}`);
    },
    temporaries: () => emulator.list(`${root}/.ringcache/tmp`),
    // An empty plain folder, a name no key can have, the reserved folder.
    addListingNoise: async (under) => {
      await emulator.mkdirs(`${root}/${under}zz-empty/deeper`);
      await emulator.writeFile(`${root}/${under}back\\slash`, 'x');
      await emulator.writeFile(`${root}/.RINGCACHE/x`, 'x');
    },
  };
});
