import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalAdapter } from '../../ufs-adapters/local/local-adapter';
import { describeUfsContract } from './ufs-contract';

describeUfsContract('local (POSIX/NFS)', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ringcache-contract-local-'));
  return {
    adapter: new LocalAdapter({ root }),
    cleanup: () => rm(root, { recursive: true, force: true }),
    temporaries: () => readdir(path.join(root, '.ringcache', 'tmp')).catch(() => []),
    // An empty plain folder, a name no key can have, a symlink.
    addListingNoise: async (under, existingKey) => {
      await mkdir(path.join(root, under, 'zz-empty', 'deeper'), { recursive: true });
      await writeFile(path.join(root, under, 'back\\slash'), 'x');
      await symlink(path.join(root, existingKey), path.join(root, under, 'a-symlink'));
    },
  };
});
