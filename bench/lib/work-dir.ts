/**
 * The temp folder of a benchmark run and the servers started in it: `cleanup` stops every child
 * and removes the folder (once, however often it is called); if the process exits first, the
 * children are killed and the folder removed synchronously; on SIGINT / SIGTERM (when `signals`
 * is set) it cleans up and exits 130 / 143.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { killAllNow, stopAll } from './processes';

export interface WorkDir {
  readonly path: string;
  /** Set when a signal started the cleanup: the run's failures are the shutdown's. */
  readonly interrupted: boolean;
  cleanup(): Promise<void>;
  /** The run is over and cleaned up: the exit hook is no longer needed. */
  release(): void;
}

export interface WorkDirOptions {
  /** Keep the folder (BENCH_KEEP_DATA=1); `log` says where it is. */
  keep: boolean;
  log?: (line: string) => void;
  /** Clean up and exit on SIGINT / SIGTERM; a string is logged first. */
  signals?: (signal: NodeJS.Signals, folder: string) => string | undefined;
}

export function openWorkDir(parent: string, prefix: string, options: WorkDirOptions): WorkDir {
  const folder = mkdtempSync(path.join(parent, prefix));
  let cleaning: Promise<void> | undefined;
  let interrupted = false;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      await stopAll();
      if (options.keep) options.log?.(`temp files kept in ${folder}`);
      else await rm(folder, { recursive: true, force: true });
    })());
  const onExit = (): void => {
    killAllNow();
    if (!options.keep) rmSync(folder, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const { signals } = options;
  if (signals) {
    const onSignal = (signal: NodeJS.Signals): void => {
      interrupted = true;
      const line = signals(signal, folder);
      if (line !== undefined) options.log?.(line);
      void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  return {
    path: folder,
    get interrupted() {
      return interrupted;
    },
    cleanup,
    release: () => void process.removeListener('exit', onExit),
  };
}
