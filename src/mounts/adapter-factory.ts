/**
 * Turns a mount URI into a UFS adapter. One place knows the URI schemes.
 */
import { fileURLToPath } from 'node:url';
import type { UfsAdapter } from '../../ufs-adapters/types';
import { LocalAdapter } from '../../ufs-adapters/local/local-adapter';
import { ConfigError } from '../config/load-config';

export function createAdapter(uri: string, _options: Readonly<Record<string, unknown>> = {}): UfsAdapter {
  const scheme = new URL(uri).protocol;
  switch (scheme) {
    case 'file:':
      return new LocalAdapter({ root: fileURLToPath(uri) });
    case 's3:':
    case 'gs:':
    case 'hdfs:':
    case 'webhdfs:':
      throw new ConfigError(`mount ${uri}: the ${scheme.slice(0, -1)} adapter is not available in this version (only file:// mounts are)`);
    default:
      throw new ConfigError(`mount ${uri}: unknown scheme ${scheme}`);
  }
}
