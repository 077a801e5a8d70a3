/**
 * UploadPart. It needs a Content-Length and the gateway hands parts over as streams of unknown
 * length (up to 5 GiB), so each part is first spooled to a temp file (MD5 on the way), then
 * uploaded from that file with Content-Length and Content-MD5. The SDK does not retry stream
 * bodies, so these uploads are retried here, each attempt with a fresh file stream.
 */
import { UploadPartCommand, type UploadPartCommandOutput } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { isUfsError, ufsError } from '../errors';
import { MAX_PART_NUMBER, type PartInfo, type UploadPartRequest } from '../types';
import { quoteEtag, type S3Context } from './s3-context';
import { throwIfAborted } from '../shared/abort';
import { describeSdkError, isAbortLike } from './s3-errors';
import { knownEtag } from './s3-read';
import { assertUploadId, uploadCall } from './s3-upload-calls';
import { rememberPartChecksums, type MultipartContext } from './s3-upload-memory';

const TEMP_PART_PREFIX = 'part-';

function assertPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw ufsError('InvalidPart', `part numbers must be integers from 1 to ${MAX_PART_NUMBER}`);
  }
}

interface SpooledPart {
  path: string;
  size: number;
  md5: Buffer;
}

/**
 * Streams `body` into a new temp file. Body errors are rethrown unchanged (the S3 layer
 * raises BadDigest inside it), aborts become Aborted, file errors Unavailable.
 */
async function spoolBody(ctx: S3Context, body: Readable, signal: AbortSignal | undefined): Promise<SpooledPart> {
  try {
    await mkdir(ctx.config.tmpDir, { recursive: true });
  } catch (err) {
    throw ufsError('Unavailable', 'upload part: cannot create the temp directory', err);
  }
  const file = path.join(ctx.config.tmpDir, `${TEMP_PART_PREFIX}${randomBytes(12).toString('hex')}`);
  const hash = createHash('md5');
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  const sink = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  // Whichever side fails first is the cause: pipeline then destroys the other side with the
  // same error, so the error object alone cannot tell a body error from a disk error.
  let firstFailure: 'body' | 'sink' | undefined;
  const onBodyError = () => (firstFailure ??= 'body');
  body.once('error', onBodyError);
  sink.once('error', () => (firstFailure ??= 'sink'));
  try {
    await pipeline(body, counter, sink, { signal });
    return { path: file, size, md5: hash.digest() };
  } catch (err) {
    await rm(file, { force: true }).catch(() => undefined);
    if (signal?.aborted) throw ufsError('Aborted', 'upload part: aborted', signal.reason ?? err);
    if (firstFailure === 'sink') throw ufsError('Unavailable', 'upload part: cannot write the temp file', err);
    if (isUfsError(err)) throw err;
    const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
    if (isAbortLike(err) || code === 'ERR_STREAM_PREMATURE_CLOSE') throw ufsError('Aborted', 'upload part: the body ended early', err);
    throw err;
  } finally {
    body.removeListener('error', onBodyError);
  }
}

/**
 * Sends one UploadPart from `file`, retrying like the SDK's standard mode (exponential
 * backoff with full jitter, longer for throttling) with a fresh file stream per attempt:
 * the SDK itself never retries a request whose body is a stream.
 */
async function sendPartFromFile(
  ctx: S3Context,
  action: string,
  file: string,
  signal: AbortSignal | undefined,
  command: (body: ReadStream) => UploadPartCommand,
): Promise<UploadPartCommandOutput> {
  for (let attempt = 1; ; attempt++) {
    const stream = createReadStream(file);
    try {
      return await uploadCall(ctx, action, signal, () => ctx.client.send(command(stream), { abortSignal: signal }));
    } catch (err) {
      if (attempt >= ctx.config.maxAttempts || !isRetryable(err)) throw err;
      const base = isUfsError(err, 'Throttled') ? 500 : 100;
      try {
        await sleep(Math.floor(Math.random() * Math.min(20_000, base * 2 ** attempt)), undefined, { signal });
      } catch (abort) {
        throw ufsError('Aborted', `${action}: aborted`, abort);
      }
    } finally {
      stream.destroy();
    }
  }
}

/** Throttling, 5xx, 408 and network errors are worth another attempt; other 4xx are not. */
function isRetryable(err: unknown): boolean {
  if (isUfsError(err, 'Throttled')) return true;
  if (!isUfsError(err, 'Unavailable')) return false;
  const { status, code } = describeSdkError(err.cause);
  if (code === 'NoSuchBucket') return false;
  return status === undefined || status >= 500 || status === 408;
}

export async function uploadPart(ctx: MultipartContext, request: UploadPartRequest): Promise<PartInfo> {
  assertPartNumber(request.partNumber);
  assertUploadId(request.uploadId);
  const storeKey = ctx.storeKey(request.key);
  const { signal } = request;
  throwIfAborted(signal, 'upload part');
  const spooled = await spoolBody(ctx, request.body, signal);
  try {
    const late = await request.beforeCommit?.();
    const checksums = late?.checksums && Object.keys(late.checksums).length > 0 ? { ...late.checksums } : undefined;
    throwIfAborted(signal, 'upload part');
    const out = await sendPartFromFile(ctx, `upload part ${request.partNumber}`, spooled.path, signal, (body) =>
      new UploadPartCommand({
        Bucket: ctx.bucket,
        Key: storeKey,
        UploadId: request.uploadId,
        PartNumber: request.partNumber,
        Body: body,
        ContentLength: spooled.size,
        ContentMD5: spooled.md5.toString('base64'),
      }),
    );
    const etag = quoteEtag(knownEtag(out.ETag) ? out.ETag : spooled.md5.toString('hex'));
    if (checksums) rememberPartChecksums(ctx, request.uploadId, request.key, request.partNumber, etag, checksums);
    return { partNumber: request.partNumber, etag, size: spooled.size, lastModified: new Date(), ...(checksums ? { checksums } : {}) };
  } finally {
    await rm(spooled.path, { force: true }).catch(() => undefined);
  }
}


/** Removes temp part files (left by a crash) not modified since `cutoff`; returns how many. */
export async function removeStaleTempParts(ctx: S3Context, cutoff: number): Promise<number> {
  let removed = 0;
  let names: string[] = [];
  try {
    names = await readdir(ctx.config.tmpDir);
  } catch {
    names = [];
  }
  for (const name of names) {
    if (!name.startsWith(TEMP_PART_PREFIX)) continue;
    const file = path.join(ctx.config.tmpDir, name);
    try {
      if ((await stat(file)).mtimeMs < cutoff) {
        await rm(file, { force: true });
        removed++;
      }
    } catch {
      // raced with its owner: fine
    }
  }
  return removed;
}
