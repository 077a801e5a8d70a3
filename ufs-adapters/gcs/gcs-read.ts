/**
 * stat (objects.get) and read (objects.get?alt=media through file.createReadStream). A read
 * waits for its first chunk (or the end) before returning, so a missing object, a denied
 * request or an unreachable endpoint is a typed error before any byte reaches the caller.
 * With `ifMatch`, the ETag is checked on the current metadata and the read is pinned to
 * that metadata's generation: bytes of another version can never be returned.
 */
import { Readable, addAbortSignal } from 'node:stream';
import type { File, FileMetadata } from '@google-cloud/storage';
import { ufsError } from '../errors';
import type { ByteRange, ObjectInfo, ReadOptions } from '../types';
import type { GcsContext } from './gcs-context';
import { isAbortError, mapGcsError, type StatusOverrides } from './gcs-errors';
import { throwIfAborted } from '../shared/abort';
import { etagOf, objectInfoOf } from './gcs-metadata';

import { unquoteEtag as unquote } from '../object-metadata';

/**
 * Keeps a download off the library's shared keep-alive agent. When a download stream ends
 * with an error, including a consumer that stops early, @google-cloud/storage 7 calls
 * `agent.destroy()` on the request's agent; for the pooled agent (`forever: true`, the
 * default) that destroys every socket of the process's GCS requests, so cancelling one read
 * would break all concurrent ones. With `forever: false` the request uses Node's global agent
 * (keep-alive as well) and the library has no agent to destroy.
 */
type Interceptor = File['interceptors'][number];
const OWN_AGENT: Interceptor = { request: (options) => ({ ...options, forever: false }) as ReturnType<Interceptor['request']> };

/** A File handle for downloads (see OWN_AGENT). */
export function downloadHandle(ctx: GcsContext, name: string, generation?: string): File {
  const file = generation === undefined ? ctx.bucket.file(name) : ctx.bucket.file(name, { generation });
  file.interceptors.push(OWN_AGENT);
  return file;
}

/** The object resource of `name`; NotFound when missing. */
export async function getResource(ctx: GcsContext, name: string, action = 'stat object'): Promise<FileMetadata> {
  try {
    const [resource] = await ctx.bucket.file(name).getMetadata();
    return resource;
  } catch (err) {
    throw mapGcsError(err, action);
  }
}

export async function statObject(ctx: GcsContext, key: string, signal?: AbortSignal): Promise<ObjectInfo> {
  throwIfAborted(signal);
  const name = ctx.names.readableName(key);
  return objectInfoOf(key, await getResource(ctx, name));
}

interface DownloadGuard {
  /**
   * Longest wait for the next chunk while the consumer is reading. The library's HTTP layer
   * (node-fetch 2) never ends nor fails a Content-Length body whose connection drops, so a
   * broken download would otherwise hang forever.
   */
  idleTimeoutMs: number;
  /** The requested range; its length is what the download must deliver (else Content-Length). */
  range?: ByteRange;
}

/** Resolves like `promise`, or rejects with Unavailable after `ms` (calling `onTimeout`). */
function withinIdleTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(ufsError('Unavailable', `read object: no data from GCS for ${ms} ms`));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * Returns a byte stream that starts with `source`'s first chunk, which has already arrived:
 * errors before it are thrown here, errors after it are mapped and emitted by the stream.
 * A stall longer than `guard.idleTimeoutMs` or a body shorter than expected is Unavailable.
 * Destroying the returned stream destroys `source` (and its HTTP request).
 */
async function openAfterFirstChunk(
  source: Readable,
  signal: AbortSignal | undefined,
  mapError: (err: unknown) => Error,
  guard: DownloadGuard,
): Promise<Readable> {
  const { range } = guard;
  let expected = range ? range.end - range.start + 1 : undefined;
  // HTTP lets a server ignore Range and answer 200 with the whole object: then the range is
  // cut out of the full body here.
  let skip = 0;
  let cut: number | undefined;
  source.once('response', (response: { statusCode?: number; headers?: Record<string, unknown> }) => {
    if (range && response?.statusCode === 200) {
      skip = range.start;
      cut = expected;
    }
    const length = Number(response?.headers?.['content-length']);
    if (expected === undefined && Number.isSafeInteger(length) && length >= 0) expected = length;
  });
  const iterator = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const stop = (): void => {
    source.destroy();
  };
  const next = (): Promise<IteratorResult<Buffer>> => withinIdleTimeout(iterator.next(), guard.idleTimeoutMs, stop);
  const onAbort = (): void => {
    source.destroy(Object.assign(new Error('read aborted'), { name: 'AbortError' }));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  let first: IteratorResult<Buffer>;
  try {
    throwIfAborted(signal);
    first = await next();
  } catch (err) {
    source.destroy();
    if (signal?.aborted || isAbortError(err)) throw ufsError('Aborted', 'read aborted', signal?.reason ?? err);
    throw mapError(err);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  async function* rest(): AsyncGenerator<Buffer> {
    let received = 0;
    try {
      for (let chunk = first; !chunk.done; chunk = await next()) {
        let data = chunk.value;
        if (skip > 0) {
          const dropped = Math.min(skip, data.length);
          skip -= dropped;
          data = data.subarray(dropped);
        }
        if (cut !== undefined && data.length > cut - received) data = data.subarray(0, cut - received);
        received += data.length;
        if (data.length > 0) yield data;
        if (cut !== undefined && received === cut) break;
      }
    } catch (err) {
      throw mapError(err);
    } finally {
      // Early exit (the consumer destroyed the stream): stop the download.
      await iterator.return?.();
    }
    if (expected !== undefined && received !== expected) {
      throw ufsError('Unavailable', `read object: the download ended after ${received} of ${expected} bytes`);
    }
  }
  const stream = Readable.from(rest(), { objectMode: false });
  // Destroying the stream must stop the download now: the generator only sees it once its
  // pending read returns, which for a stalled download is after readIdleTimeoutMs.
  stream.once('close', stop);
  return signal ? addAbortSignal(signal, stream) : stream;
}

export async function readObject(ctx: GcsContext, key: string, range: ByteRange | undefined, options: ReadOptions = {}): Promise<Readable> {
  const { signal, ifMatch } = options;
  throwIfAborted(signal);
  const name = ctx.names.readableName(key);
  let file = downloadHandle(ctx, name);
  // A range the object no longer has means it changed since the caller's stat.
  const overrides: StatusOverrides = { 416: 'PreconditionFailed' };
  if (ifMatch !== undefined) {
    const resource = await getResource(ctx, name, 'read object');
    if (unquote(etagOf(resource)) !== unquote(ifMatch)) {
      throw ufsError('PreconditionFailed', 'the object changed since it was looked up');
    }
    // Pinned: if that generation is replaced (404) or fails a precondition (412) meanwhile,
    // the version the caller expects is gone.
    file = downloadHandle(ctx, name, String(resource.generation));
    overrides[404] = 'PreconditionFailed';
  }
  throwIfAborted(signal);
  const source = file.createReadStream({
    ...(range ? { start: range.start, end: range.end } : {}),
    validation: false,
    // Objects stored with Content-Encoding: gzip are served as stored, like S3 does.
    decompress: false,
  });
  return openAfterFirstChunk(source, signal, (err) => mapGcsError(err, 'read object', overrides), {
    idleTimeoutMs: ctx.readIdleTimeoutMs,
    range,
  });
}
