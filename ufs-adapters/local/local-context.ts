/**
 * State shared by the operations of one LocalAdapter: the layout, the root's real path
 * (for symlink containment checks) and the per-key commit lock.
 */
import { realpath } from 'node:fs/promises';
import { KeyedMutex } from './keyed-mutex';
import { layoutFor, type LocalLayout } from './local-layout';

export interface LocalContext {
  readonly layout: LocalLayout;
  /** realpath(root); rejects (ENOENT) while the root does not exist. */
  realRoot(): Promise<string>;
  readonly locks: KeyedMutex;
}

export function createLocalContext(root: string): LocalContext {
  const layout = layoutFor(root);
  let cached: string | undefined;
  return {
    layout,
    locks: new KeyedMutex(),
    async realRoot() {
      cached ??= await realpath(layout.root);
      return cached;
    },
  };
}
