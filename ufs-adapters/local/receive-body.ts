/**
 * Receives a client body into a temp file while computing its MD5, and classifies what
 * went wrong when it fails:
 * - an error raised by the body stream itself (the S3 layer raises BadDigest and friends
 *   from inside it) is rethrown unchanged,
 * - an abort (signal, or the body closing early) becomes UfsError('Aborted'),
 * - a file-system error is mapped (ENOSPC and EACCES -> Unavailable, ...).
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { isUfsError, ufsError, type UfsErrorKind } from '../errors';
import { errnoCode, isAbortError, mapFsError } from './fs-errors';
import { throwIfAborted } from '../shared/abort';
import { isSinkFailure, writeNewFile, type NewFileResult } from './file-sink';

interface ReceivedBody extends NewFileResult {
  /** Binary MD5 of the bytes received. */
  md5: Buffer;
}

/**
 * Our own file errors are mapped; UFS errors pass through; aborts (the signal fired, or the
 * body closed before its end) become Aborted; any other error can only come from the body
 * stream and is rethrown as is. (Our own errors are tagged by file-sink.ts: event order
 * cannot tell them apart, since a failing stream destroys all the others with its error.)
 */
export function classifyBodyError(err: unknown, signal: AbortSignal | undefined, missingAs: UfsErrorKind): unknown {
  if (isSinkFailure(err)) return mapFsError(err, 'store uploaded data', missingAs);
  if (isUfsError(err)) return err;
  if (isAbortError(err) || errnoCode(err) === 'ERR_STREAM_PREMATURE_CLOSE') {
    return ufsError('Aborted', 'upload aborted', signal?.reason ?? err);
  }
  return err;
}

/**
 * Streams `body` into the new file `tempPath` (removed again on failure) and fsyncs it.
 * `missingAs` is the error kind for ENOENT (e.g. NoSuchUpload when the upload folder is gone).
 */
export async function receiveBody(
  body: Readable,
  tempPath: string,
  signal: AbortSignal | undefined,
  missingAs: UfsErrorKind = 'Unavailable',
): Promise<ReceivedBody> {
  throwIfAborted(signal);
  const hash = createHash('md5');
  try {
    const written = await writeNewFile(tempPath, body, { signal, onChunk: (chunk) => hash.update(chunk) });
    return { ...written, md5: hash.digest() };
  } catch (err) {
    throw classifyBodyError(err, signal, missingAs);
  }
}

/** ETag without its surrounding quotes (XML entities are the S3 layer's job, not ours). */
import { unquoteEtag as stripQuotes } from '../object-metadata';
export { stripQuotes };
