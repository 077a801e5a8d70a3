/**
 * One generic wrapper around every store adapter: a bound on calls in flight, deadlines, idle
 * watchdogs on bodies, and metrics (calls by outcome, latency, bytes). Adapters stay free of
 * all of them.
 *
 * Every call gets an AbortSignal: the caller's, combined with the wrapper's own. When a
 * deadline passes or a watchdog trips, the wrapper aborts that signal (the adapter stops and
 * cleans up: aborts its upload, deletes its temporary object) and the caller gets UfsError
 * Unavailable at once. The call keeps its slot until the adapter's work has really settled, so
 * at most `maxConcurrency` store calls ever run, even when some overrun their deadline. A
 * caller whose signal fires while it waits for a slot leaves the queue (UfsError Aborted).
 *
 * Deadlines, per kind of call:
 * - metadata calls (stat, delete, createMultipartUpload, listParts, bucket settings, ...) and each page of a
 *   listing: answered within `timeoutMs`;
 * - read and readWithInfo: the stream opens within `timeoutMs`; then the store must keep sending while the
 *   consumer waits for data (no byte for `idleTimeoutMs`: the stream fails Unavailable). The
 *   slot is held until the stream opens, not while a client reads it at its own pace;
 * - write and uploadPart: the store must keep taking the body (no byte taken for
 *   `idleTimeoutMs` while bytes wait: Unavailable); once it has the whole body it must commit
 *   within `timeoutMs` plus one second per MiB of body (stores that spool a part before
 *   sending it need that time);
 * - copy, completeMultipartUpload, cleanupAbandonedUploads, sweepTempFiles: server-side work of any length;
 *   no deadline, only the caller's signal.
 */
import type { Readable } from 'node:stream';
import type {
  ByteRange,
  CompletedPart,
  CopyRequest,
  ListEntry,
  ListOptions,
  MultipartUpload,
  ObjectMetadata,
  ReadOptions,
  UfsAdapter,
  UploadPartRequest,
  WriteRequest,
} from '../../ufs-adapters/types';
import { isUfsError, ufsError, type UfsError } from '../../ufs-adapters/errors';
import type { Metrics } from '../admin/metrics';
import { Semaphore } from '../util/semaphore';
import { untilAborted } from '../util/until-aborted';
import type { StoreHealth } from './store-health';
import { watchDownload, watchUpload } from './store-watchdog';

interface InstrumentationSettings {
  /** A call not answered in this time fails with UfsError Unavailable (see the header for which). */
  timeoutMs: number;
  /** Calls in flight at once; more wait their turn. */
  maxConcurrency: number;
  /** A body that makes no progress for this long fails with UfsError Unavailable. Default `timeoutMs`. */
  idleTimeoutMs?: number;
  /** Told how each call ended (the dashboard's per-bucket store state). */
  health?: StoreHealth;
}

/** Handed to each call's work: the signal to pass to the adapter, and a way to fail the call. */
interface CallControl {
  signal: AbortSignal;
  /** Aborts the adapter's work with `error`, which the caller receives at once. */
  fail(error: UfsError): void;
}

interface CallOptions<T> {
  /** Deadline for an answer, in ms (none when undefined). */
  deadlineMs?: number;
  /** What to do with a result that arrives after the caller was answered (a stream to destroy). */
  onLate?: (value: T) => void;
}

const MiB = 1024 * 1024;

/** The caller's abort reason as a UFS error (a deadline or watchdog already is one). */
function asUfsError(reason: unknown, op: string): UfsError {
  return isUfsError(reason) ? reason : ufsError('Aborted', `${op}: aborted`, reason);
}

export function instrumentAdapter(inner: UfsAdapter, metrics: Metrics, settings: InstrumentationSettings): UfsAdapter {
  const kind = inner.kind;
  const slots = new Semaphore(settings.maxConcurrency);
  const idleMs = settings.idleTimeoutMs ?? settings.timeoutMs;
  const bytesIn = metrics.ufsBytes.labels(kind, 'in');
  const bytesOut = metrics.ufsBytes.labels(kind, 'out');
  const outcome = (op: string, err?: unknown): void => {
    metrics.ufsCalls.labels(kind, op, err === undefined ? 'ok' : isUfsError(err) ? err.kind : 'error').inc();
    settings.health?.record(err);
  };

  async function call<T>(op: string, callerSignal: AbortSignal | undefined, work: (control: CallControl) => Promise<T>, options: CallOptions<T> = {}): Promise<T> {
    const stopTimer = metrics.ufsCallSeconds.labels(kind, op).startTimer();
    const controller = new AbortController();
    const signal = callerSignal ? AbortSignal.any([callerSignal, controller.signal]) : controller.signal;
    const control: CallControl = { signal, fail: (error) => controller.abort(error) };
    let deadline: NodeJS.Timeout | undefined;
    try {
      let release: () => void;
      try {
        release = await slots.acquire(callerSignal);
      } catch (reason) {
        throw ufsError('Aborted', `${op}: the caller left while the call waited for a slot`, reason);
      }
      if (options.deadlineMs !== undefined) {
        const ms = options.deadlineMs;
        deadline = setTimeout(() => control.fail(ufsError('Unavailable', `the store did not answer ${op} within ${ms} ms`)), ms);
      }
      const running = Promise.resolve().then(() => work(control));
      // The slot is the store's: it is given back when the work settles, not when we stop waiting.
      void running.then(release, release);
      const result = await untilAborted(running, signal, options.onLate).catch((err: unknown) => {
        throw signal.aborted ? asUfsError(signal.reason, op) : err;
      });
      outcome(op);
      return result;
    } catch (err) {
      outcome(op, err);
      throw err;
    } finally {
      clearTimeout(deadline);
      stopTimer();
    }
  }

  /**
   * A listing: counted as one call, but each page fetch (a `next()` that does not return at
   * once) takes a slot and must be answered within `timeoutMs`.
   */
  async function* listing<T>(op: string, callerSignal: AbortSignal | undefined, open: (signal: AbortSignal) => AsyncIterable<T>): AsyncGenerator<T> {
    const stopTimer = metrics.ufsCallSeconds.labels(kind, op).startTimer();
    const controller = new AbortController();
    const signal = callerSignal ? AbortSignal.any([callerSignal, controller.signal]) : controller.signal;
    const iterator = open(signal)[Symbol.asyncIterator]();
    let pending = false;
    try {
      for (;;) {
        const release = await slots.acquire(callerSignal).catch((reason: unknown) => {
          throw ufsError('Aborted', `${op}: the caller left while the listing waited for a slot`, reason);
        });
        const deadline = setTimeout(() => controller.abort(ufsError('Unavailable', `the store did not answer ${op} within ${settings.timeoutMs} ms`)), settings.timeoutMs);
        pending = true;
        const next = iterator.next();
        void next.then(
          () => {
            pending = false;
            release();
          },
          () => {
            pending = false;
            release();
          },
        );
        let step: IteratorResult<T>;
        try {
          step = await untilAborted(next, signal).catch((err: unknown) => {
            throw signal.aborted ? asUfsError(signal.reason, op) : err;
          });
        } finally {
          clearTimeout(deadline);
        }
        if (step.done) break;
        yield step.value;
      }
      outcome(op);
    } catch (err) {
      outcome(op, err);
      throw err;
    } finally {
      stopTimer();
      // A page fetch still running (it overran its deadline) must not be waited for.
      if (pending) void Promise.resolve(iterator.return?.()).catch(() => undefined);
      else await iterator.return?.().catch(() => undefined);
    }
  }

  /**
   * Runs a body-moving call (write, uploadPart): `body` goes through an upload watchdog, and
   * once the store has all of it, the commit deadline starts.
   */
  function upload<T>(op: string, body: Readable, callerSignal: AbortSignal | undefined, work: (body: Readable, signal: AbortSignal) => Promise<T>): Promise<T> {
    return call(op, callerSignal, (control) => {
      let commitDeadline: NodeJS.Timeout | undefined;
      const watched = watchUpload(body, idleMs, {
        onBytes: (n) => bytesOut.inc(n),
        onStall: () => control.fail(ufsError('Unavailable', `the store took no data for ${idleMs} ms`)),
        onEnd: (bytes) => {
          const ms = settings.timeoutMs + Math.round((bytes / MiB) * 1000);
          commitDeadline = setTimeout(() => control.fail(ufsError('Unavailable', `the store did not commit ${op} within ${ms} ms of receiving the body`)), ms);
        },
      });
      return work(watched, control.signal).finally(() => clearTimeout(commitDeadline));
    });
  }

  const answered = { deadlineMs: settings.timeoutMs };

  const wrapped: UfsAdapter = {
    kind,
    capabilities: inner.capabilities,
    stat: (key, signal) => call('stat', signal, (c) => inner.stat(key, c.signal), answered),
    read: (key: string, range: ByteRange | undefined, options: ReadOptions = {}): Promise<Readable> =>
      call(
        'read',
        options.signal,
        async (c) => watchDownload(await inner.read(key, range, { ...options, signal: c.signal }), idleMs, (n) => bytesIn.inc(n)),
        { ...answered, onLate: (stream) => stream.destroy() },
      ),
    ...(inner.readWithInfo
      ? {
          readWithInfo: (key: string, range: ByteRange, options: { signal?: AbortSignal } = {}) =>
            call(
              'readWithInfo',
              options.signal,
              async (c) => {
                const { info, body } = await (inner.readWithInfo as NonNullable<UfsAdapter['readWithInfo']>)(key, range, { signal: c.signal });
                return { info, body: watchDownload(body, idleMs, (n) => bytesIn.inc(n)) };
              },
              { ...answered, onLate: (answer) => answer.body.destroy() },
            ),
        }
      : {}),
    list: (options: ListOptions): AsyncIterable<ListEntry> => listing('list', options.signal, (signal) => inner.list({ ...options, signal })),
    write: (request: WriteRequest) => upload('write', request.body, request.signal, (body, signal) => inner.write({ ...request, body, signal })),
    delete: (key, signal) => call('delete', signal, (c) => inner.delete(key, c.signal), answered),
    copy: (request: CopyRequest) => call('copy', request.signal, (c) => inner.copy({ ...request, signal: c.signal })),
    createMultipartUpload: (key: string, metadata: ObjectMetadata, signal?: AbortSignal) =>
      call('createMultipartUpload', signal, (c) => inner.createMultipartUpload(key, metadata, c.signal), answered),
    uploadPart: (request: UploadPartRequest) => upload('uploadPart', request.body, request.signal, (body, signal) => inner.uploadPart({ ...request, body, signal })),
    listParts: (key: string, uploadId: string, signal?: AbortSignal) => call('listParts', signal, (c) => inner.listParts(key, uploadId, c.signal), answered),
    completeMultipartUpload: (key: string, uploadId: string, parts: CompletedPart[], signal?: AbortSignal, late?: Partial<ObjectMetadata>) =>
      call('completeMultipartUpload', signal, (c) => inner.completeMultipartUpload(key, uploadId, parts, c.signal, late)),
    abortMultipartUpload: (key: string, uploadId: string, signal?: AbortSignal) =>
      call('abortMultipartUpload', signal, (c) => inner.abortMultipartUpload(key, uploadId, c.signal), answered),
    listMultipartUploads: (prefix: string, signal?: AbortSignal): AsyncIterable<MultipartUpload> =>
      listing('listMultipartUploads', signal, (s) => inner.listMultipartUploads(prefix, s)),
    getMultipartUpload: (key: string, uploadId: string, signal?: AbortSignal) =>
      call('getMultipartUpload', signal, (c) => inner.getMultipartUpload(key, uploadId, c.signal), answered),
    close: () => inner.close(),
  };
  if (inner.getBucketSetting && inner.putBucketSetting) {
    const get = inner.getBucketSetting.bind(inner);
    const put = inner.putBucketSetting.bind(inner);
    wrapped.getBucketSetting = (name, signal) => call('getBucketSetting', signal, (c) => get(name, c.signal), answered);
    wrapped.putBucketSetting = (name, value, signal) => call('putBucketSetting', signal, (c) => put(name, value, c.signal), answered);
  }
  if (inner.cleanupAbandonedUploads) {
    const cleanup = inner.cleanupAbandonedUploads.bind(inner);
    wrapped.cleanupAbandonedUploads = (olderThanMs: number, signal?: AbortSignal) => call('cleanupAbandonedUploads', signal, (c) => cleanup(olderThanMs, c.signal));
  }
  if (inner.sweepTempFiles) {
    const sweep = inner.sweepTempFiles.bind(inner);
    wrapped.sweepTempFiles = (staleAfterMs: number, signal?: AbortSignal) => call('sweepTempFiles', signal, (c) => sweep(staleAfterMs, c.signal));
  }
  return wrapped;
}
