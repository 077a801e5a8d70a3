/**
 * One generic wrapper around every store adapter: a per-call timeout, a bound on calls in
 * flight, and metrics (calls by outcome, latency, bytes). Adapters stay free of all three.
 *
 * Streams are counted as they flow; the timeout covers opening a read and the whole of a
 * write or a metadata call, not the time a slow client takes to consume a read.
 */
import { Transform, pipeline, type Readable } from 'node:stream';
import type { UfsAdapter, ReadOptions, ByteRange, ListOptions, ListEntry, MultipartUpload } from '../../ufs-adapters/types';
import { isUfsError, ufsError } from '../../ufs-adapters/errors';
import type { Metrics } from '../admin/metrics';
import { Semaphore } from '../util/semaphore';

export interface InstrumentationSettings {
  /** A call not answered in this time fails with UfsError Unavailable. */
  timeoutMs: number;
  /** Calls in flight at once; more wait their turn. */
  maxConcurrency: number;
}

/**
 * `source` through a byte-counting stage. pipeline (not pipe) keeps error listeners on both
 * from the start: an error raised before the consumer attaches is stored, not unhandled,
 * and the consumer still receives it.
 */
function counted(source: Readable, onBytes: (n: number) => void): Readable {
  return pipeline(source, counting(onBytes), () => undefined);
}

function counting(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, callback) {
      onBytes(chunk.length);
      callback(null, chunk);
    },
  });
}

export function instrumentAdapter(inner: UfsAdapter, metrics: Metrics, settings: InstrumentationSettings): UfsAdapter {
  const kind = inner.kind;
  const slots = new Semaphore(settings.maxConcurrency);

  async function call<T>(op: string, work: () => Promise<T>, timeout = true): Promise<T> {
    const release = await slots.acquire();
    const stop = metrics.ufsCallSeconds.labels(kind, op).startTimer();
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await (timeout
        ? Promise.race([
            work(),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(ufsError('Unavailable', `the store did not answer ${op} within ${settings.timeoutMs} ms`)), settings.timeoutMs);
            }),
          ])
        : work());
      metrics.ufsCalls.labels(kind, op, 'ok').inc();
      return result;
    } catch (err) {
      metrics.ufsCalls.labels(kind, op, isUfsError(err) ? err.kind : 'error').inc();
      throw err;
    } finally {
      clearTimeout(timer);
      stop();
      release();
    }
  }

  async function* listing<T>(op: string, source: () => AsyncIterable<T>): AsyncGenerator<T> {
    // Each page fetch happens inside next(); count the listing as one call and its outcome.
    const stop = metrics.ufsCallSeconds.labels(kind, op).startTimer();
    try {
      yield* source();
      metrics.ufsCalls.labels(kind, op, 'ok').inc();
    } catch (err) {
      metrics.ufsCalls.labels(kind, op, isUfsError(err) ? err.kind : 'error').inc();
      throw err;
    } finally {
      stop();
    }
  }

  const bytesIn = metrics.ufsBytes.labels(kind, 'in');
  const bytesOut = metrics.ufsBytes.labels(kind, 'out');

  const wrapped: UfsAdapter = {
    kind,
    capabilities: inner.capabilities,
    stat: (key, signal) => call('stat', () => inner.stat(key, signal)),
    read: (key: string, range: ByteRange | undefined, options?: ReadOptions): Promise<Readable> =>
      call('read', async () => {
        const stream = await inner.read(key, range, options);
        return counted(stream, (n) => bytesIn.inc(n));
      }),
    list: (options: ListOptions): AsyncIterable<ListEntry> => listing('list', () => inner.list(options)),
    ...(inner.readWithInfo
      ? {
          readWithInfo: (key: string, range: ByteRange, options?: { signal?: AbortSignal }) =>
            call('readWithInfo', async () => {
              const { info, body } = await (inner.readWithInfo as NonNullable<UfsAdapter['readWithInfo']>)(key, range, options);
              return { info, body: counted(body, (n) => bytesIn.inc(n)) };
            }),
        }
      : {}),
    write: (request) =>
      call(
        'write',
        () => inner.write({ ...request, body: counted(request.body, (n) => bytesOut.inc(n)) }),
        false, // bounded by the client's upload, not by a fixed time
      ),
    delete: (key, signal) => call('delete', () => inner.delete(key, signal)),
    copy: (request) => call('copy', () => inner.copy(request), false),
    createMultipartUpload: (key, metadata) => call('createMultipartUpload', () => inner.createMultipartUpload(key, metadata)),
    uploadPart: (request) =>
      call(
        'uploadPart',
        () => inner.uploadPart({ ...request, body: counted(request.body, (n) => bytesOut.inc(n)) }),
        false,
      ),
    listParts: (key, uploadId) => call('listParts', () => inner.listParts(key, uploadId)),
    completeMultipartUpload: (key, uploadId, parts, signal) => call('completeMultipartUpload', () => inner.completeMultipartUpload(key, uploadId, parts, signal), false),
    abortMultipartUpload: (key, uploadId) => call('abortMultipartUpload', () => inner.abortMultipartUpload(key, uploadId)),
    listMultipartUploads: (prefix): AsyncIterable<MultipartUpload> => listing('listMultipartUploads', () => inner.listMultipartUploads(prefix)),
    getMultipartUpload: (key, uploadId) => call('getMultipartUpload', () => inner.getMultipartUpload(key, uploadId)),
    close: () => inner.close(),
  };
  if (inner.cleanupAbandonedUploads) {
    const cleanup = inner.cleanupAbandonedUploads.bind(inner);
    wrapped.cleanupAbandonedUploads = (olderThanMs) => call('cleanupAbandonedUploads', () => cleanup(olderThanMs), false);
  }
  return wrapped;
}
