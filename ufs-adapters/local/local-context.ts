/**
 * State shared by the operations of one LocalAdapter: the layout, the root's real path
 * (for symlink containment checks), the root's availability check, the per-key commit lock and
 * the open files of versions being read.
 */
import { realpath } from 'node:fs/promises';
import { ufsError } from '../errors';
import { errnoCode } from './fs-errors';
import { KeyedMutex } from '../shared/keyed-mutex';
import { layoutFor, type LocalLayout } from './local-layout';
import { assertRootAvailable } from './mount-root';
import { OpenVersions } from './open-versions';

export interface LocalContext {
  readonly layout: LocalLayout;
  /** realpath(root); Unavailable while the root cannot be resolved. */
  realRoot(): Promise<string>;
  /** Throws Unavailable while the root is missing or unreadable (see mount-root.ts). */
  assertRoot(): Promise<void>;
  readonly locks: KeyedMutex;
  /** Open files of versions being read, kept for the next reads of the same version. */
  readonly versions: OpenVersions;
}

export function createLocalContext(root: string): LocalContext {
  const layout = layoutFor(root);
  let cached: string | undefined;
  return {
    layout,
    locks: new KeyedMutex(),
    versions: new OpenVersions(),
    async realRoot() {
      if (cached === undefined) {
        try {
          cached = await realpath(layout.root);
        } catch (err) {
          throw ufsError('Unavailable', `the mount root cannot be resolved (${errnoCode(err) ?? 'error'}): the store is unavailable`, err);
        }
      }
      return cached;
    },
    assertRoot: () => assertRootAvailable(layout.root),
  };
}
