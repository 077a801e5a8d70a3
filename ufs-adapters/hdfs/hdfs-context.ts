/**
 * State shared by the operations of one HdfsAdapter: the WebHDFS client, the layout, the
 * in-process locks, and what was learned about the server (rename2 and LISTSTATUS_BATCH
 * support), probed once.
 */
import { randomUUID } from 'node:crypto';
import { KeyedMutex } from '../shared/keyed-mutex';
import { hdfsError, isRemote } from './hdfs-errors';
import type { HdfsLayout } from './hdfs-layout';
import type { WebHdfsClient } from './webhdfs-client';

export type RenameMode = 'rename2' | 'legacy';

export interface HdfsContext {
  readonly client: WebHdfsClient;
  readonly layout: HdfsLayout;
  /** Per key (commits) and per directory (folder markers vs. pruning) within this process. */
  readonly locks: KeyedMutex;
  /** Entries resolved ahead of a list consumer (GETXATTRS per object). */
  readonly lookahead: number;
  /** rename2 (RENAME with renameoptions) when the server honours it, else the old rename. */
  renameMode(signal?: AbortSignal): Promise<RenameMode>;
  /** false once the server refused LISTSTATUS_BATCH (LISTSTATUS is used instead). */
  listStatusBatch: boolean;
}

export function createHdfsContext(client: WebHdfsClient, layout: HdfsLayout, lookahead: number): HdfsContext {
  let mode: Promise<RenameMode> | undefined;
  return {
    client,
    layout,
    locks: new KeyedMutex(),
    lookahead,
    listStatusBatch: true,
    renameMode(signal?: AbortSignal): Promise<RenameMode> {
      // rename2 of a path that does not exist: FileNotFoundException. A server that ignores
      // `renameoptions` runs the old rename instead and answers {"boolean": false}.
      mode ??= (async (): Promise<RenameMode> => {
        const probe = `${layout.tmpDir}/rename-probe-${randomUUID()}`;
        try {
          const answer = await client.rename(probe, `${probe}-target`, 'NONE', signal);
          return answer === undefined ? 'rename2' : 'legacy';
        } catch (err) {
          if (isRemote(err, 'FileNotFoundException')) return 'rename2';
          throw hdfsError(err, 'probe the HDFS rename semantics');
        }
      })();
      mode.catch(() => {
        mode = undefined;
      });
      return mode;
    },
  };
}
