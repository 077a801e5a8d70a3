/**
 * HDFS mount URIs: `hdfs://namenode:9870/path?user=alice` (also `webhdfs://`, and `swebhdfs://`
 * for HTTPS). Pure parsing, so the configuration can check a URI without loading the adapter.
 */
import { normaliseRoot } from './hdfs-layout';

/** What a mount URI says: where the NameNode is, the root path, the user. */
export interface HdfsMount {
  nameNodeUrl: string;
  root: string;
  user?: string;
}

const SCHEMES: Record<string, { protocol: 'http' | 'https'; defaultPort: number }> = {
  'hdfs:': { protocol: 'http', defaultPort: 9870 },
  'webhdfs:': { protocol: 'http', defaultPort: 9870 },
  'swebhdfs:': { protocol: 'https', defaultPort: 9871 },
};

/**
 * `hdfs://namenode:9870/path/root?user=alice` -> { nameNodeUrl: "http://namenode:9870",
 * root: "/path/root", user: "alice" }. The port is the NameNode's HTTP (WebHDFS) port, not
 * its RPC port; it defaults to 9870 (9871 for swebhdfs://, HTTPS). Throws TypeError.
 */
export function parseHdfsUri(uri: string): HdfsMount {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new TypeError(`invalid HDFS mount URI: ${uri}`);
  }
  const scheme = SCHEMES[url.protocol];
  if (!scheme) throw new TypeError(`HDFS mount URIs start with hdfs://, webhdfs:// or swebhdfs://, not ${url.protocol}//`);
  if (!url.hostname) throw new TypeError('an HDFS mount URI needs the NameNode host: hdfs://namenode:9870/path');
  if (url.username || url.password) {
    throw new TypeError('credentials in an HDFS mount URI are not supported: use ?user=<name>, or the delegationToken option');
  }
  let user: string | undefined;
  for (const [name, value] of url.searchParams) {
    if (name === 'user' || name === 'user.name') user = value;
    else throw new TypeError(`unknown HDFS mount URI parameter "${name}" (supported: user)`);
  }
  let segments: string[];
  try {
    segments = url.pathname
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    throw new TypeError(`invalid percent-encoding in the HDFS mount path: ${url.pathname}`);
  }
  const port = url.port || String(scheme.defaultPort);
  return {
    nameNodeUrl: `${scheme.protocol}://${url.hostname}:${port}`,
    root: normaliseRoot(`/${segments.join('/')}`),
    ...(user ? { user } : {}),
  };
}
