/**
 * Folders inside a mount root, never the root itself: `mkdir -p` would re-create a bucket
 * folder that was deleted (DeleteBucket moves it aside first) or an export that is not mounted,
 * and the write would be acknowledged into a folder nobody serves. Folders are created from the
 * leaf up (one mkdir when the parent exists, the usual case); reaching a missing root fails.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ufsError } from '../errors';
import { errnoCode } from './fs-errors';

/** Creates `dir` and its missing parents below `root` (both absolute, normalised; `dir` inside or equal to `root`). */
export async function mkdirBelowRoot(root: string, dir: string): Promise<void> {
  if (dir === root) return;
  try {
    await mkdir(dir);
    return;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT') throw err;
  }
  const parent = path.dirname(dir);
  if (parent === root || parent === dir || !parent.startsWith(root)) {
    throw ufsError('Unavailable', 'the mount folder does not exist (deleted, or not mounted): nothing is written', Object.assign(new Error('ENOENT: mount root missing'), { code: 'ENOENT' }));
  }
  await mkdirBelowRoot(root, parent);
  try {
    await mkdir(dir);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
  }
}
