/**
 * WebHDFS failures -> typed UFS errors. The NameNode and DataNodes answer errors as
 * `{"RemoteException": {"exception", "javaClassName", "message"}}`; the HTTP status only
 * says which Java class family it was (any IOException is 403), so the mapping goes by the
 * exception name. Messages of the UfsErrors never contain HDFS paths (they can reach S3
 * clients); the WebHdfsError with the server's full message travels in `cause`.
 */
import { isUfsError, ufsError, type UfsError, type UfsErrorKind } from '../errors';
import { errorCode } from '../shared/error-code';

/** A non-success answer of the NameNode or a DataNode. */
export class WebHdfsError extends Error {
  constructor(
    /** The WebHDFS op, e.g. "GETFILESTATUS". */
    readonly op: string,
    readonly status: number,
    /** Simple class name from the RemoteException ("FileNotFoundException"); undefined for non-JSON answers. */
    readonly exception: string | undefined,
    readonly javaClassName: string | undefined,
    readonly remoteMessage: string | undefined,
  ) {
    super(`WebHDFS ${op}: HTTP ${status}${exception ? ` ${exception}` : ''}${remoteMessage ? `: ${remoteMessage}` : ''}`);
    this.name = 'WebHdfsError';
  }
}

/** Exception class (simple name) -> kind. Anything unlisted is Unavailable. */
const KIND_BY_EXCEPTION: Record<string, UfsErrorKind> = {
  FileNotFoundException: 'NotFound',
  AccessControlException: 'Denied',
  AuthorizationException: 'Denied',
  SecurityException: 'Denied',
  AuthenticationException: 'Denied',
  InvalidToken: 'Denied',
  SafeModeException: 'Unavailable',
  StandbyException: 'Unavailable',
  ObserverRetryOnActiveException: 'Unavailable',
  RetriableException: 'Throttled',
  FileAlreadyExistsException: 'PathConflict',
  ParentNotDirectoryException: 'PathConflict',
  PathIsNotEmptyDirectoryException: 'PathConflict',
  InvalidPathException: 'InvalidKey',
  PathComponentTooLongException: 'InvalidKey',
  MaxDirectoryItemsExceededException: 'Unavailable',
  NSQuotaExceededException: 'Unavailable',
  DSQuotaExceededException: 'Unavailable',
  QuotaByStorageTypeExceededException: 'Unavailable',
  // The server does not support the operation (an older NameNode, or HttpFS).
  UnsupportedOperationException: 'NotImplemented',
};

function kindByStatus(status: number): UfsErrorKind {
  if (status === 401 || status === 403) return 'Denied';
  if (status === 429) return 'Throttled';
  if (status === 501) return 'NotImplemented'; // a retry cannot succeed
  return 'Unavailable';
}

/** Simple class name of a RemoteException (InvalidToken arrives as "SecretManager$InvalidToken" in javaClassName). */
function exceptionName(err: WebHdfsError): string | undefined {
  if (err.exception) return err.exception.slice(err.exception.lastIndexOf('$') + 1);
  if (err.javaClassName) return err.javaClassName.slice(Math.max(err.javaClassName.lastIndexOf('.'), err.javaClassName.lastIndexOf('$')) + 1);
  return undefined;
}

export const isRemote = (err: unknown, ...exceptions: string[]): err is WebHdfsError =>
  err instanceof WebHdfsError && exceptions.includes(exceptionName(err) ?? '');

export const isAbortError = (err: unknown): boolean =>
  typeof err === 'object' &&
  err !== null &&
  ((err as { name?: unknown }).name === 'AbortError' || errorCode(err) === 'ABORT_ERR' || errorCode(err) === 'UND_ERR_ABORTED');

/**
 * Maps any failure of a WebHDFS call. `action` is a short, path-free description
 * ("read object"); `overrides` re-map exception names for the context (e.g. a missing
 * upload folder is NoSuchUpload, not NotFound).
 */
export function hdfsError(err: unknown, action: string, overrides: Partial<Record<string, UfsErrorKind>> = {}): UfsError {
  if (isUfsError(err)) return err;
  if (err instanceof WebHdfsError) {
    const name = exceptionName(err);
    const kind = (name && (overrides[name] ?? KIND_BY_EXCEPTION[name])) || kindByStatus(err.status);
    return ufsError(kind, `${action}: ${name ?? `HTTP ${err.status}`} from HDFS`, err);
  }
  if (isAbortError(err)) return ufsError('Aborted', `${action}: aborted`, err);
  const code = errorCode(err);
  return ufsError('Unavailable', `${action}: HDFS is unreachable${code ? ` (${code})` : ''}`, err);
}

