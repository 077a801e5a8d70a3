/**
 * The disk tier running out of room although under its quota: which write errors say so, and
 * the LMDB file outgrowing the map size planned for the quota (see diskMapSize).
 */
import type { RootDatabase } from 'lmdb';

/** Fraction of the quota freed at once when the environment runs out of space. */
export const SPACE_RECOVERY_FRACTION = 0.1;
/** How often (ms) the file's high-water mark is compared with the map size. */
const GROWTH_CHECK_INTERVAL_MS = 1000;

/** MDB_MAP_FULL (-30792) or the filesystem being full. */
export function isSpaceError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e) return false;
  if (e.code === 'ENOSPC' || e.code === 'MDB_MAP_FULL' || e.code === -30792 || e.code === 28) return true;
  return typeof e.message === 'string' && /MDB_MAP_FULL|ENOSPC|No space left|mapsize limit/i.test(e.message);
}

/** lmdb-js rejects each write of a failed commit with a generic error whose `commitError` holds the cause. */
export async function commitErrorOf(err: unknown): Promise<unknown> {
  const commitError = (err as { commitError?: unknown } | null)?.commitError;
  if (!commitError || typeof (commitError as Promise<unknown>).then !== 'function') return err;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      commitError,
      new Promise((resolve) => {
        timer = setTimeout(resolve, 1000);
      }),
    ]);
    return err;
  } catch (cause) {
    return cause;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * lmdb-js grows the map instead of failing with MDB_MAP_FULL. If the file's high-water mark
 * passes the planned map size while the quota holds, free pages are not being reused fast
 * enough (long readers, fragmentation): the tier treats it as "map full" and frees a larger
 * batch so the next writes reuse freed pages instead of growing the file further.
 */
export class FileGrowthWatch {
  private lastCheck = 0;
  private guardPage = 0;

  /**
   * The file's size in bytes if it has passed `mapSize` and grown since the last time it was
   * reported; undefined otherwise, or when the last check was less than a second before `now`.
   */
  outgrown(env: RootDatabase, now: number, mapSize: number): number | undefined {
    if (now - this.lastCheck < GROWTH_CHECK_INTERVAL_MS) return undefined;
    this.lastCheck = now;
    const info = env.getStats() as { lastPageNumber?: number; pageSize?: number };
    const lastPage = info.lastPageNumber ?? 0;
    const fileBytes = (lastPage + 1) * (info.pageSize ?? 4096);
    if (fileBytes <= mapSize || lastPage <= this.guardPage) return undefined;
    this.guardPage = lastPage;
    return fileBytes;
  }
}
