import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalAdapter } from '../../ufs-adapters/local/local-adapter';
import { describeUfsContract } from './ufs-contract';

describeUfsContract('local (POSIX/NFS)', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ringcache-contract-local-'));
  return { adapter: new LocalAdapter({ root }), cleanup: () => rm(root, { recursive: true, force: true }) };
});
