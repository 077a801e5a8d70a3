/**
 * `ringcache purge BUCKET/KEY` and `ringcache purge --prefix BUCKET/PREFIX`: asks a running
 * gateway to drop cached metadata and pages (POST /_ringcache/cache/purge, signed; the key
 * needs write access to the bucket). Returns the gateway's answer, e.g. {"purged":1}.
 */
import { AdminClient } from './admin-client';
import type { ClientCredentials } from './client-settings';
import { UsageError } from './usage';

interface PurgeTarget {
  bucket: string;
  key?: string;
  prefix?: string;
}

/** "bucket/key" (or with --prefix "bucket/prefix", "bucket" alone meaning every object); UsageError otherwise. */
function parsePurgeTarget(target: string, prefix: boolean): PurgeTarget {
  const bare = target.replace(/^s3:\/\//, '');
  const slash = bare.indexOf('/');
  const bucket = slash === -1 ? bare : bare.slice(0, slash);
  const rest = slash === -1 ? '' : bare.slice(slash + 1);
  if (bucket === '') throw new UsageError(`purge: "${target}" names no bucket: give BUCKET/KEY, or --prefix BUCKET/PREFIX`);
  if (prefix) return { bucket, prefix: rest };
  if (rest === '') throw new UsageError(`purge: "${target}" names no key: give BUCKET/KEY, or --prefix BUCKET/PREFIX for everything under a prefix`);
  return { bucket, key: rest };
}

export async function purgeCommand(target: string, options: { prefix: boolean; endpoint: string; credentials: ClientCredentials }): Promise<string> {
  const { bucket, key, prefix } = parsePurgeTarget(target, options.prefix);
  const query: Record<string, string> = key !== undefined ? { bucket, key } : { bucket, prefix: prefix as string };
  return new AdminClient(options.endpoint, options.credentials).text({ method: 'POST', path: '/_ringcache/cache/purge', query });
}
