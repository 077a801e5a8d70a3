/**
 * Removes the temp files of writes that no live request owns: those of a crashed (kill -9,
 * power loss) or failed process, under `<root>/.ringcache/tmp/` and the part temps inside
 * multipart upload folders. Independent of the multipart-abandon age: a crash's temp files go
 * at the next start-up sweep, not a week later.
 *
 * Who owns a temp file is in its name (temp-files.ts: host, process id, run id):
 *   - this process: kept while a request of ours still owns it, else removed;
 *   - this host, the same process id but another run (a restart that got the same pid, as pid 1
 *     in a container does), or a process id that is no longer running: its writer is dead;
 *   - another host sharing the folder (NFS), a live process here, or a name without an owner
 *     (older versions): removed once untouched for `staleAfterMs` (a write in progress keeps
 *     its temp file's mtime moving; the body rate limit bounds how long a live upload can idle).
 */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, mapFsError } from './fs-errors';
import type { LocalLayout } from './local-layout';
import { uploadDirOf, uploadIds } from './local-multipart';
import { HOST_TAG, TEMP_OWNER, isLiveTemp, removeQuietly } from './temp-files';

const OWNER = /-(h([0-9a-f]{8})p([0-9]{1,10})i([0-9a-f]{6}))-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Part temps inside an upload folder: `part-<n>.tmp-...` and `part-<n>.json.tmp-...`. */
const PART_TEMP = /^part-[0-9]+(\.json)?\.tmp-/;

type Verdict = 'keep' | 'dead' | 'by-age';

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM'; // exists, owned by someone else
  }
}

/** What the name of a temp file says about its writer. */
function tempOwnerVerdict(target: string): Verdict {
  const match = OWNER.exec(path.basename(target));
  if (!match) return 'by-age';
  const [, owner, host, pidText] = match;
  if (owner === TEMP_OWNER) return isLiveTemp(target) ? 'keep' : 'dead';
  if (host !== HOST_TAG) return 'by-age';
  const pid = Number(pidText);
  if (pid === process.pid || !processIsAlive(pid)) return 'dead';
  return 'by-age';
}

async function sweepFolder(folder: string, accept: (name: string) => boolean, cutoffMs: number): Promise<number> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return 0;
    throw mapFsError(err, 'sweep temporary files', 'Unavailable');
  }
  let removed = 0;
  for (const name of names) {
    if (!accept(name)) continue;
    const target = path.join(folder, name);
    const verdict = tempOwnerVerdict(target);
    if (verdict === 'keep') continue;
    if (verdict === 'by-age') {
      const stats = await lstat(target).catch(() => undefined);
      if (!stats || stats.mtimeMs >= cutoffMs) continue;
    }
    await removeQuietly(target);
    removed++;
  }
  return removed;
}

/** Removes temp files no live request owns (see above); returns how many. */
export async function sweepTempFiles(layout: LocalLayout, staleAfterMs: number, now = Date.now()): Promise<number> {
  const cutoffMs = now - staleAfterMs;
  let removed = await sweepFolder(layout.tmpDir, () => true, cutoffMs);
  for (const uploadId of await uploadIds(layout)) {
    removed += await sweepFolder(uploadDirOf(layout, uploadId), (name) => PART_TEMP.test(name), cutoffMs);
  }
  return removed;
}
