/**
 * Temporary files and the rename that commits them. Temp files are created with O_EXCL
 * under random names, fsynced before they are renamed into place, and removed on failure.
 */
import { randomUUID } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from './fs-errors';
import { mkdirBelowRoot } from './root-dirs';

export const newTempPath = (dir: string, label: string): string => path.join(dir, `${label}-${randomUUID()}`);

export async function removeQuietly(target: string): Promise<void> {
  await rm(target, { force: true, recursive: true, maxRetries: 2 }).catch(() => undefined);
}

/** Writes `value` as JSON into a new file (O_EXCL) and fsyncs it. */
export async function writeJsonFile(filePath: string, value: unknown): Promise<void> {
  const handle = await open(filePath, 'wx');
  try {
    await handle.writeFile(JSON.stringify(value), 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const PARENT_RETRIES = 3;

/**
 * Renames `source` onto `destination`, first creating the destination's parent folders (below
 * `root`, never `root` itself).
 * A concurrent delete may prune an empty parent between mkdir and rename: that ENOENT
 * is retried a few times.
 */
export async function renameWithParents(root: string, source: string, destination: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    await mkdirBelowRoot(root, path.dirname(destination));
    try {
      await rename(source, destination);
      return;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT' || attempt >= PARENT_RETRIES) throw err;
    }
  }
}

/** Writes JSON atomically: a temp file in `tmpDir`, then rename (creating parents below `root`). */
export async function writeJsonAtomic(root: string, tmpDir: string, destination: string, value: unknown): Promise<void> {
  await mkdirBelowRoot(root, tmpDir);
  const temp = newTempPath(tmpDir, 'json');
  try {
    await writeJsonFile(temp, value);
    await renameWithParents(root, temp, destination);
  } catch (err) {
    await removeQuietly(temp);
    throw err;
  }
}
