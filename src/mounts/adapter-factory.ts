/**
 * Turns a mount URI into a UFS adapter. One place knows the URI schemes; each adapter's
 * settings come from the mount's `options` (see ufs-adapters/<kind>/README.md).
 */
import { fileURLToPath } from 'node:url';
import type { UfsAdapter } from '../../ufs-adapters/types';
import { LocalAdapter } from '../../ufs-adapters/local/local-adapter';
import { createS3AdapterFromUri } from '../../ufs-adapters/s3/s3-adapter';
import { createGcsAdapterFromUri } from '../../ufs-adapters/gcs/gcs-adapter';
import { createHdfsAdapterFromUri } from '../../ufs-adapters/hdfs/hdfs-adapter';
import { ConfigError } from '../config/load-config';

type Options = Readonly<Record<string, unknown>>;

export function createAdapter(uri: string, frozenOptions: Options = {}): UfsAdapter {
  const scheme = new URL(uri).protocol;
  // The configuration is frozen; SDKs annotate the objects they are given (credentials).
  const options = structuredClone(frozenOptions) as Record<string, unknown>;
  try {
    switch (scheme) {
      case 'file:':
        return new LocalAdapter({ root: fileURLToPath(uri) });
      case 's3:':
        return createS3AdapterFromUri(uri, options as Parameters<typeof createS3AdapterFromUri>[1]);
      case 'gs:':
        return createGcsAdapterFromUri(uri, options as Parameters<typeof createGcsAdapterFromUri>[1]);
      case 'hdfs:':
      case 'webhdfs:':
      case 'swebhdfs:':
        return createHdfsAdapterFromUri(uri, options as Parameters<typeof createHdfsAdapterFromUri>[1]);
      default:
        throw new ConfigError(`unknown scheme ${scheme}`);
    }
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`mount ${uri}: ${err.message}`);
    throw new ConfigError(`mount ${uri}: ${(err as Error).message}`);
  }
}
