/**
 * Bucket settings (the bucket's ACL, its CORS rules) as JSON files under the reserved folder:
 *   <root>/.ringcache/settings/<name>.json
 * On the mount's own file system, so every node that mounts the export reads the same files;
 * written atomically (temp file, fsync, rename). Never listed, and no key can name them (the
 * reserved folder is not a key).
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { BucketSettingName } from '../types';
import { isMissing, mapFsError } from './fs-errors';
import { throwIfAborted } from '../shared/abort';
import type { LocalLayout } from './local-layout';
import { writeJsonAtomic } from './temp-files';

const settingPath = (layout: LocalLayout, name: BucketSettingName): string => path.join(layout.reservedDir, 'settings', `${name}.json`);

export async function getBucketSetting(layout: LocalLayout, name: BucketSettingName, signal?: AbortSignal): Promise<unknown> {
  throwIfAborted(signal);
  let text: string;
  try {
    text = await readFile(settingPath(layout, name), 'utf8');
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw mapFsError(err, 'read bucket settings', 'Unavailable');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw mapFsError(err, 'read bucket settings (not JSON)', 'Unavailable');
  }
}

export async function putBucketSetting(layout: LocalLayout, name: BucketSettingName, value: unknown, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  try {
    if (value === undefined) await rm(settingPath(layout, name), { force: true });
    else await writeJsonAtomic(layout.root, layout.tmpDir, settingPath(layout, name), value);
  } catch (err) {
    throw mapFsError(err, 'write bucket settings', 'Unavailable');
  }
}
