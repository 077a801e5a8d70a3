/**
 * The mount root is the store: the adapter never creates it. While it is missing (an NFS export
 * not mounted, a folder renamed away) or cannot be read (EACCES after a chmod, ESTALE, EIO), the
 * store is unavailable: operations fail with Unavailable (503, cached objects are served stale)
 * instead of answering "no such key", listing nothing, or writing into a freshly created root
 * that the real export would hide again when it comes back. Nothing is cached, so the mount
 * recovers as soon as the root is back.
 */
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isUfsError, ufsError } from '../errors';
import { errnoCode } from './fs-errors';
import { isInside } from './local-layout';

const unavailable = (why: string, cause?: unknown) => ufsError('Unavailable', `the mount root ${why}: the store is unavailable`, cause);

/** Throws Unavailable unless `root` is a folder this process can list and enter. */
export async function assertRootAvailable(root: string): Promise<void> {
  try {
    if (!(await stat(root)).isDirectory()) throw unavailable('is not a folder');
    // A folder that stat can see may still be closed to us (chmod 000): read and search rights.
    await access(root, constants.R_OK | constants.X_OK);
  } catch (err) {
    if (isUfsError(err)) throw err;
    throw unavailable(`cannot be reached (${errnoCode(err) ?? 'error'})`, err);
  }
}

/**
 * mkdir -p of `dir` strictly below `root`, never creating `root` itself: a parent missing all the
 * way up to the root means the root is gone (Unavailable). A file in the way fails as mkdir does
 * (EEXIST / ENOTDIR) for the caller to classify.
 */
export async function mkdirBelowRoot(root: string, dir: string): Promise<void> {
  if (dir === root) return assertRootAvailable(root);
  if (!isInside(root, dir)) throw new RangeError(`${dir} is not below the mount root`);
  try {
    await mkdir(dir);
    return;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') {
      if (await isDirectory(dir)) return;
      throw err;
    }
    if (code !== 'ENOENT') throw err;
  }
  const parent = path.dirname(dir);
  if (parent === root) {
    await assertRootAvailable(root); // throws: the root is what is missing
    throw unavailable('vanished while a folder was created in it');
  }
  await mkdirBelowRoot(root, parent);
  try {
    await mkdir(dir);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST' || !(await isDirectory(dir))) throw err;
  }
}

const isDirectory = async (target: string): Promise<boolean> => (await stat(target).catch(() => undefined))?.isDirectory() ?? false;
