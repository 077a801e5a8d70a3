/**
 * Temporary files and the rename that commits them. Temp files are created with O_EXCL
 * under random names, fsynced before they are renamed into place, and removed on failure.
 *
 * Each name carries its writer (`<label>-<owner>-<uuid>`, owner = this host, process and run),
 * and the process keeps the set of temp paths its requests still own, so the sweep
 * (temp-sweep.ts) can tell the temp file of a write in progress from one a crash left behind.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from './fs-errors';
import { mkdirBelowRoot } from './mount-root';

/** This host (hashed: names stay short and safe), for telling local writers from remote ones. */
export const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
/** Who writes this process's temp files: host, process id, and a random id of this run. */
export const TEMP_OWNER = `h${HOST_TAG}p${process.pid}i${randomBytes(4).toString('hex').slice(0, 6)}`;

/** Temp paths created by this process whose request has not finished with them. */
const liveTemps = new Set<string>();

/** Whether a request of this process still owns the temp file `target`. */
export const isLiveTemp = (target: string): boolean => liveTemps.has(target);

/** A new temp path in `dir`, owned by the caller until it is renamed into place or removed. */
export function newTempPath(dir: string, label: string): string {
  const target = path.join(dir, `${label}-${TEMP_OWNER}-${randomUUID()}`);
  liveTemps.add(target);
  return target;
}

/** The temp file at `target` was renamed into place (or is otherwise no longer owned). */
export function releaseTemp(target: string): void {
  liveTemps.delete(target);
}

export async function removeQuietly(target: string): Promise<void> {
  await rm(target, { force: true, recursive: true, maxRetries: 2 }).catch(() => undefined);
  releaseTemp(target);
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
 * Renames `source` onto `destination`, first creating the destination's parent folders below
 * the mount `root` (never the root itself). A concurrent delete may prune an empty parent
 * between mkdir and rename: that ENOENT is retried a few times.
 */
async function renameWithParents(root: string, source: string, destination: string): Promise<void> {
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
    releaseTemp(temp);
  } catch (err) {
    await removeQuietly(temp);
    throw err;
  }
}
