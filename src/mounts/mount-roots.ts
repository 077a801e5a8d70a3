/**
 * At start, every file:// mount's root must be an existing folder: a typo or an NFS export that
 * is not mounted would otherwise serve an empty bucket (or create folders in the wrong place).
 */
import { stat } from 'node:fs/promises';
import { ConfigError } from '../config/load-config';
import { mountRootPath } from '../config/mount-uri';
import type { RingcacheConfig } from '../config/schema';

export async function assertMountRootsExist(mounts: RingcacheConfig['mounts']): Promise<void> {
  const problems: string[] = [];
  for (const [name, mount] of Object.entries(mounts)) {
    if (!mount.uri.startsWith('file:')) continue;
    const root = mountRootPath(mount.uri);
    try {
      const info = await stat(root);
      if (!info.isDirectory()) problems.push(`  - mount "${name}" (${mount.uri}): ${root} is not a folder`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be reached (permission denied)' : `cannot be read (${code ?? (err as Error).message})`;
      problems.push(`  - mount "${name}" (${mount.uri}): its root ${root} ${why}`);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(`mount roots missing; create them, mount the export, or fix the URIs:\n${problems.join('\n')}`);
  }
}
