/**
 * Mount URIs, checked when the configuration is loaded: a malformed one is refused with the
 * mount's name, the problem and the accepted forms, instead of failing later inside an adapter.
 * Pure: each store's own URI parser (the one its adapter uses) decides, nothing is opened.
 */
import { fileURLToPath } from 'node:url';
import { parseGcsUri } from '../../ufs-adapters/gcs/gcs-uri';
import { parseHdfsUri } from '../../ufs-adapters/hdfs/hdfs-uri';
import { parseS3Uri } from '../../ufs-adapters/s3/s3-config';

export const ACCEPTED_MOUNT_URIS =
  'file:///absolute/path (local disk or NFS), s3://bucket[/prefix][?endpoint=…&region=…&pathStyle=true], ' +
  'gs://bucket[/prefix], hdfs://namenode[:9870]/path[?user=…] (also webhdfs://, swebhdfs://)';

/** The URI schemes createAdapter knows. */
const MOUNT_SCHEMES = ['file:', 's3:', 'gs:', 'hdfs:', 'webhdfs:', 'swebhdfs:'] as const;

/** What is wrong with a mount URI, in one sentence, or undefined when it is well formed. */
export function mountUriProblem(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'not a URI';
  }
  if (!(MOUNT_SCHEMES as readonly string[]).includes(url.protocol)) return `unknown scheme "${url.protocol.slice(0, -1)}"`;
  try {
    switch (url.protocol) {
      case 'file:':
        return fileUriProblem(uri, url);
      case 's3:':
        parseS3Uri(uri);
        return undefined;
      case 'gs:':
        parseGcsUri(uri);
        return undefined;
      default:
        parseHdfsUri(uri);
        return undefined;
    }
  } catch (err) {
    return (err as Error).message;
  }
}

/** The local path of a well-formed file:// mount URI. */
export function mountRootPath(uri: string): string {
  return fileURLToPath(uri);
}

function fileUriProblem(uri: string, url: URL): string | undefined {
  if (url.hostname !== '' && url.hostname !== 'localhost') {
    const tail = url.pathname === '/' ? '' : url.pathname;
    return `a file:// URI is a path on this machine, but this one names the host "${url.hostname}" (two slashes); write file:///${url.hostname}${tail} or file:///srv/${url.hostname}${tail} (three slashes)`;
  }
  if (url.search || url.hash) return 'a file:// URI takes no query (?) or fragment (#)';
  try {
    fileURLToPath(uri);
  } catch (err) {
    if ((err as Error).name === 'URIError') return `its path "${url.pathname}" is not valid percent-encoding (write % as %25)`;
    if ((err as NodeJS.ErrnoException).code === 'ERR_INVALID_FILE_URL_PATH') return `its path "${url.pathname}" contains an encoded "/" (%2F)`;
    return (err as Error).message;
  }
  return undefined;
}
