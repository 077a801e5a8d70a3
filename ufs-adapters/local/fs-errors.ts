/**
 * Maps Node fs errors to typed UFS errors. Messages never contain filesystem paths
 * (they can reach clients); the original error travels in `cause`.
 */
import { isUfsError, ufsError, type UfsError, type UfsErrorKind } from '../errors';
import { errorCode as errnoCode } from '../shared/error-code';

export { errnoCode };

/** The path (or one of its parents) does not exist, or a parent is not a directory. */
export const isMissing = (err: unknown): boolean => {
  const code = errnoCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
};

/** Errors meaning "something of the other kind (file vs directory) is in the way". */
export const isConflict = (err: unknown): boolean => {
  const code = errnoCode(err);
  return code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'ENOTEMPTY';
};

/** Not `instanceof`: errors from Node internals may come from another realm (e.g. under jest). */
export const isAbortError = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && ((err as { name?: unknown }).name === 'AbortError' || errnoCode(err) === 'ABORT_ERR');

export const isJsonSyntaxError = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'SyntaxError';

/**
 * `action` is a short client-safe description ("read object"). `missingAs` is the kind used
 * for ENOENT/ENOTDIR: NotFound for reads, Unavailable or NoSuchUpload where a missing
 * path means something else.
 */
export function mapFsError(err: unknown, action: string, missingAs: UfsErrorKind = 'NotFound'): UfsError {
  if (isUfsError(err)) return err;
  const code = errnoCode(err);
  if (isAbortError(err)) return ufsError('Aborted', `${action}: aborted`, err);
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return ufsError(missingAs, `${action}: not found`, err);
  // The gateway's own access to its store was refused: the operator's to fix, not the client's.
  if (code === 'EACCES' || code === 'EPERM') return ufsError('Unavailable', `${action}: permission denied by the file system`, err);
  if (code === 'ENAMETOOLONG') return ufsError('InvalidKey', `${action}: key too long for the file system`, err);
  return ufsError('Unavailable', `${action}: file system error${code ? ` (${code})` : ''}`, err);
}

