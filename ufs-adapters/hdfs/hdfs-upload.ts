/**
 * A body streamed into a new HDFS file (CREATE: NameNode 307 -> DataNode) while it is hashed,
 * temp files under `.ringcache/tmp/`, and the checks of what was stored. PUT, copy and upload
 * parts all send their bytes through here.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isUfsError, ufsError, type UfsErrorKind } from '../errors';
import type { HdfsContext } from './hdfs-context';
import { hdfsError, isAbortError } from './hdfs-errors';
import { throwIfAborted } from '../shared/abort';
import type { FileStatus } from './webhdfs-client';
import { errorCode } from '../shared/error-code';

export const newTempPath = (ctx: HdfsContext): string => `${ctx.layout.tmpDir}/${randomUUID()}`;

export async function deleteQuietly(ctx: HdfsContext, hdfsPath: string): Promise<void> {
  await ctx.client.delete(hdfsPath, true).catch(() => undefined);
}

export interface Received {
  size: number;
  /** Binary MD5 of the bytes sent. */
  md5: Buffer;
}

/**
 * Streams `body` into the new file `hdfsPath` while computing its MD5. On failure the
 * (partial) file is deleted and the error classified: an error of the body stream itself
 * is rethrown unchanged (the S3 layer raises BadDigest and friends inside it), a fired
 * signal or a body that closed early is Aborted, a WebHDFS or network failure is mapped
 * (`overrides` re-map exception names, e.g. a missing upload folder).
 */
export async function uploadBody(
  ctx: HdfsContext,
  hdfsPath: string,
  body: Readable,
  signal: AbortSignal | undefined,
  options: { createParent?: boolean; overrides?: Partial<Record<string, UfsErrorKind>> } = {},
): Promise<Received> {
  throwIfAborted(signal);
  const hash = createHash('md5');
  let size = 0;
  let bodyError: unknown;
  let bodyClosedEarly = false;
  let cancelling = false;
  const onError = (err: unknown): void => {
    bodyError ??= err;
  };
  const onClose = (): void => {
    if (!body.readableEnded && !cancelling) bodyClosedEarly = true;
  };
  body.on('error', onError);
  body.once('close', onClose);
  const meter = new Transform({
    transform(chunk: Buffer | string, _encoding, callback) {
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      size += bytes.length;
      hash.update(bytes);
      callback(null, bytes);
    },
  });
  // undici destroys a request's body with the request's error (a refused DataNode connection,
  // a reset), and the pipeline hands that error on to `body`: it must not be taken for an error
  // of the body itself. Whichever side fails first is the cause.
  let requestSideFailed = false;
  meter.once('error', () => {
    if (bodyError === undefined) requestSideFailed = true;
  });
  const piping = pipeline(body, meter).catch(() => undefined);
  let requestError: unknown;
  try {
    await ctx.client.create(hdfsPath, meter, { overwrite: false, createparent: options.createParent }, signal);
  } catch (err) {
    requestError = err;
    cancelling = true;
    meter.destroy();
  }
  await piping;
  body.off('error', onError);
  body.off('close', onClose);
  if (requestError === undefined && bodyError === undefined && !bodyClosedEarly) return { size, md5: hash.digest() };

  await deleteQuietly(ctx, hdfsPath);
  if (signal?.aborted) throw ufsError('Aborted', 'upload aborted', signal.reason);
  if (requestSideFailed) throw hdfsError(requestError ?? bodyError, 'store uploaded data', { FileNotFoundException: 'Unavailable', ...options.overrides });
  if (bodyError !== undefined) {
    if (isUfsError(bodyError)) throw bodyError;
    if (isAbortError(bodyError) || errorCode(bodyError) === 'ERR_STREAM_PREMATURE_CLOSE') throw ufsError('Aborted', 'upload aborted', bodyError);
    throw bodyError;
  }
  if (bodyClosedEarly) throw ufsError('Aborted', 'upload aborted: the body ended early', requestError);
  throw hdfsError(requestError, 'store uploaded data', { FileNotFoundException: 'Unavailable', ...options.overrides });
}

/** What an empty body's failure is: UFS errors pass, a fired signal or an early close is Aborted, the rest is the body's own. */
export function classifyBodyError(err: unknown, signal: AbortSignal | undefined): unknown {
  if (isUfsError(err)) return err;
  if (isAbortError(err) || errorCode(err) === 'ERR_STREAM_PREMATURE_CLOSE') return ufsError('Aborted', 'upload aborted', signal?.reason ?? err);
  return err;
}

/** Status of a freshly written file (what its record must match). */
export async function writtenStatus(ctx: HdfsContext, hdfsPath: string, expectedSize: number, signal?: AbortSignal): Promise<FileStatus> {
  let status: FileStatus;
  try {
    status = await ctx.client.getFileStatus(hdfsPath, signal);
  } catch (err) {
    throw hdfsError(err, 'store uploaded data', { FileNotFoundException: 'Unavailable' });
  }
  if (status.length !== expectedSize) throw ufsError('Unavailable', `HDFS stored ${status.length} of the ${expectedSize} bytes sent`);
  return status;
}
