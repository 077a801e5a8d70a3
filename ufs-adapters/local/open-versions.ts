/**
 * Reading one version of a file, and only that version.
 *
 * - A file replaced by rename (how this adapter, rsync and most tools write) keeps its old inode
 *   alive for whoever holds it open. The handle a read opened for a version is therefore kept for
 *   a short while, and the next reads of that same version (the following pages of the same GET,
 *   keyed by ETag) are served from it: a GET racing overwrites gets one complete version instead
 *   of failing with "changed since it was looked up".
 * - A file rewritten in place (cp onto it, rsync --inplace, an application writing into it)
 *   changes under any handle. Every read re-checks the open file (fstat: size, mtime, inode)
 *   after each chunk; a difference fails the read with PreconditionFailed before the
 *   chunk is handed on, so a body mixing two versions is never served (the cache re-resolves the
 *   object, a response already started is aborted). Caveat: a rewrite that keeps the size and
 *   falls within one tick of the file system's timestamps is invisible to any stat; Linux 6.13+
 *   (multigrain timestamps) makes such ticks nanoseconds for files someone stats.
 */
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { ufsError } from '../errors';

/** What identifies the bytes of an open file: any change to them changes one of these. */
/** (Not ctime: it changes when a file replaced by rename loses its last link, bytes untouched.) */
interface Stamp {
  size: number;
  mtimeMs: number;
  ino: number;
}

const stampOf = (stats: Stats): Stamp => ({ size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino });
const sameStamp = (a: Stamp, b: Stamp): boolean => a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;

const changedWhileRead = (): Error => ufsError('PreconditionFailed', 'the object was modified in place while it was read');

/** An open file of one version (its ETag), shared by the reads of that version. */
export class OpenVersion {
  private users = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Once a change is seen, or after close: never handed out again. */
  private retired = false;
  private closed = false;

  constructor(
    readonly handle: FileHandle,
    readonly etag: string,
    stats: Stats,
    private readonly onRetire: (version: OpenVersion) => void = () => undefined,
  ) {
    this.stamp = stampOf(stats);
  }

  private readonly stamp: Stamp;

  get size(): number {
    return this.stamp.size;
  }

  get usable(): boolean {
    return !this.retired;
  }

  /** Throws PreconditionFailed (and retires this handle) if the file is not the version opened. */
  async check(): Promise<void> {
    let now: Stats;
    try {
      now = await this.handle.stat();
    } catch (err) {
      this.retire();
      throw ufsError('Unavailable', 'the open object could not be checked', err);
    }
    if (!sameStamp(this.stamp, stampOf(now))) {
      this.retire();
      throw changedWhileRead();
    }
  }

  acquire(): void {
    this.users++;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Done with it: closed at once if retired, else after `idleMs` without another user. */
  release(idleMs: number): void {
    this.users--;
    if (this.users > 0) return;
    if (this.retired || idleMs <= 0) {
      this.retire();
      return;
    }
    this.idleTimer = setTimeout(() => this.retire(), idleMs).unref();
  }

  /** No new users; the handle closes once the last one is done. */
  retire(): void {
    if (!this.retired) {
      this.retired = true;
      this.onRetire(this);
    }
    if (this.users === 0 && !this.closed) {
      this.closed = true;
      if (this.idleTimer) clearTimeout(this.idleTimer);
      void this.handle.close().catch(() => undefined);
    }
  }
}

/**
 * Handles kept per file path, a few versions each (readers of an old version go on while readers
 * of the new one start), closed when unused for `idleMs`.
 */
export class OpenVersions {
  private readonly byPath = new Map<string, OpenVersion[]>();
  private kept = 0;

  constructor(
    /** How long an unused handle stays open for the next page of the same version. */
    private readonly idleMs = 2000,
    /** At most this many kept handles (file descriptors) per adapter ... */
    private readonly maxOpen = 256,
    /** ... and per file (the oldest is let go first). */
    private readonly maxPerPath = 4,
  ) {}

  /** The kept handle of version `etag` of `path`, acquired; undefined when none is kept. */
  take(path: string, etag: string): OpenVersion | undefined {
    const version = this.byPath.get(path)?.find((v) => v.etag === etag && v.usable);
    version?.acquire();
    return version;
  }

  /** A freshly opened version, acquired once; kept for later reads when `keep` and there is room. */
  adopt(path: string, handle: FileHandle, etag: string, stats: Stats, keep: boolean): OpenVersion {
    const version = new OpenVersion(handle, etag, stats, (v) => this.forget(path, v));
    version.acquire();
    const versions = this.byPath.get(path) ?? [];
    if (!keep || (versions.length === 0 && this.kept >= this.maxOpen)) {
      version.retire(); // closes when this one read is done
      return version;
    }
    // The same version opened again (a kept one retired by a change is no longer in the list).
    for (const old of versions.filter((v) => v.etag === etag)) old.retire();
    const current = this.byPath.get(path) ?? [];
    current.push(version);
    this.kept++;
    this.byPath.set(path, current);
    if (current.length > this.maxPerPath) current[0].retire();
    return version;
  }

  release(version: OpenVersion): void {
    version.release(this.idleMs);
  }

  closeAll(): void {
    for (const versions of [...this.byPath.values()]) for (const version of [...versions]) version.retire();
    this.byPath.clear();
  }

  private forget(path: string, version: OpenVersion): void {
    const versions = this.byPath.get(path);
    const index = versions?.indexOf(version) ?? -1;
    if (!versions || index === -1) return;
    versions.splice(index, 1);
    this.kept--;
    if (versions.length === 0) this.byPath.delete(path);
  }
}

/** Bytes read per positional read (and per re-check of the open file). */
const CHUNK_BYTES = 256 * 1024;

/**
 * Bytes `start`..`end` (inclusive, clamped to the version's size) of an open version, each chunk
 * re-checked before it is handed on; `done` runs once when the stream ends or is destroyed.
 */
export function versionStream(version: OpenVersion, start: number, end: number, done: () => void): Readable {
  const last = Math.min(end, version.size - 1);
  let position = start;
  let finished = false;
  const finish = (): void => {
    if (!finished) {
      finished = true;
      done();
    }
  };
  return new Readable({
    highWaterMark: CHUNK_BYTES,
    read() {
      void (async () => {
        try {
          if (position > last) {
            await version.check();
            this.push(null);
            return;
          }
          const length = Math.min(CHUNK_BYTES, last - position + 1);
          const chunk = Buffer.allocUnsafe(length);
          const { bytesRead } = await version.handle.read(chunk, 0, length, position);
          // Shorter than its size said: truncated (in place) since it was opened.
          if (bytesRead === 0) throw changedWhileRead();
          await version.check();
          position += bytesRead;
          this.push(bytesRead === length ? chunk : chunk.subarray(0, bytesRead));
        } catch (err) {
          this.destroy(err as Error);
        }
      })();
    },
    destroy(err, callback) {
      finish();
      callback(err);
    },
  }).once('end', finish);
}
