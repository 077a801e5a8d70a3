/**
 * Atomic uploads with a commit hook.
 *
 * The body is buffered up to `simpleUploadThreshold` (4 MiB by default). If it ends within
 * that, the hook runs (its metadata is merged) and one simple upload (uploadType=multipart:
 * resource + media, with md5Hash so GCS verifies the bytes; the client's `requestTimeoutMs`
 * bounds it) creates the object: nothing is visible before the hook ran.
 *
 * A larger body is streamed with a resumable upload to a temporary object
 * `<prefix>.ringcache-tmp/<uuid>`. GCS makes a resumable upload visible when its final chunk
 * arrives, and its metadata is fixed when the session starts, so the hook (which runs after
 * the body ended and may add metadata, e.g. trailer checksums) cannot run "before the final
 * chunk" through the library. Instead, after the upload finished and the hook succeeded, the
 * temporary object is rewritten into place with the final metadata (objects.rewrite in the
 * same bucket: a metadata-only server-side operation, md5Hash preserved) and then deleted.
 * Any error, abort or hook failure leaves at most the temporary object, which is deleted (or
 * swept later by cleanupAbandonedUploads), and the resumable session, which is cancelled: the
 * key never shows a partial or unvetted object.
 *
 * A server that finalises the session before the last chunk (the Firebase Storage emulator
 * does, on the first one) makes the library stop reading the body without ever finishing or
 * failing: every chunk answer is checked, and a finalised object that is not the whole body
 * fails the upload at once (Unavailable).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileMetadata } from '@google-cloud/storage';
import { isUfsError, ufsError } from '../errors';
import { deleteQuietly, type GcsContext } from './gcs-context';
import { httpStatusOf, isAbortError, mapGcsError } from './gcs-errors';
import { throwIfAborted } from '../shared/abort';
import { DEFAULT_GCS_CONTENT_TYPE, type GcsResource } from './gcs-metadata';
import { rewriteObject } from './gcs-requests';

interface PutRequest {
  /** Full object name. */
  name: string;
  body: Readable;
  /** Runs after the body ended, before the object becomes visible; returns the final resource. */
  commit: () => Promise<GcsResource> | GcsResource;
  signal?: AbortSignal;
  /** "upload object" / "upload part": used in error messages. */
  action: string;
}

interface PutResult {
  md5: Buffer;
  size: number;
  resource: FileMetadata;
}

/** Tags errors raised by the client body, so they are told apart from our own upload's errors. */
class BodyFailure extends Error {
  constructor(readonly error: unknown) {
    super('the request body failed');
  }
}

/**
 * Body errors: UFS errors pass through; aborts (signal, premature close) become Aborted; any
 * other error can only come from the body stream itself (the S3 layer raises BadDigest and
 * friends inside it) and is rethrown unchanged.
 */
function classifyBodyError(err: unknown, signal: AbortSignal | undefined): unknown {
  if (isUfsError(err)) return err;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (signal?.aborted || isAbortError(err) || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return ufsError('Aborted', 'upload aborted', signal?.reason ?? err);
  }
  return err;
}

const toBuffer = (chunk: unknown): Buffer =>
  Buffer.isBuffer(chunk) ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.from(String(chunk));

interface BodyHead {
  chunks: Buffer[];
  size: number;
  /** True when the body ended within the threshold. */
  ended: boolean;
  iterator: AsyncIterator<unknown>;
}

/** Reads the body until it ends or more than `limit` bytes arrived. Throws BodyFailure. */
async function readHead(body: Readable, limit: number): Promise<BodyHead> {
  const iterator = body[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    while (size <= limit) {
      const next = await iterator.next();
      if (next.done) return { chunks, size, ended: true, iterator };
      const chunk = toBuffer(next.value);
      chunks.push(chunk);
      size += chunk.length;
    }
  } catch (err) {
    throw new BodyFailure(err);
  }
  return { chunks, size, ended: false, iterator };
}

export async function putObject(ctx: GcsContext, request: PutRequest): Promise<PutResult> {
  const { body, signal } = request;
  throwIfAborted(signal);
  const onAbort = (): void => {
    body.destroy(Object.assign(new Error('upload aborted'), { name: 'AbortError' }));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const head = await readHead(body, ctx.simpleUploadThreshold);
    return head.ended ? await simpleUpload(ctx, request, head) : await resumableUpload(ctx, request, head);
  } catch (err) {
    if (err instanceof BodyFailure) throw classifyBodyError(err.error, signal);
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

async function simpleUpload(ctx: GcsContext, request: PutRequest, head: BodyHead): Promise<PutResult> {
  const data = Buffer.concat(head.chunks, head.size);
  const md5 = createHash('md5').update(data).digest();
  const resource = await request.commit();
  throwIfAborted(request.signal);
  const file = ctx.bucket.file(request.name);
  for (let attempt = 0; ; attempt++) {
    throwIfAborted(request.signal);
    try {
      await file.save(data, {
        resumable: false,
        validation: false,
        // GCS rejects the upload if the bytes do not match (no object is created then).
        metadata: { ...resource, contentType: resource.contentType ?? DEFAULT_GCS_CONTENT_TYPE, md5Hash: md5.toString('base64') },
      });
      return { md5, size: data.length, resource: file.metadata };
    } catch (err) {
      // The library does not retry an upload without a precondition; the bytes are in memory
      // and a PUT may be repeated, so 408, 429, 5xx and network failures are retried here.
      if (attempt >= ctx.uploadRetries || request.signal?.aborted || !isTransient(err)) throw mapGcsError(err, request.action);
      await backoff(attempt, request.signal);
    }
  }
}

function isTransient(err: unknown): boolean {
  const status = httpStatusOf(err);
  if (status !== undefined) return status === 408 || status === 429 || (status >= 500 && status !== 501);
  return mapGcsError(err, 'upload').kind === 'Unavailable';
}

/** Exponential backoff with full jitter (100 ms base, 5 s cap); an abort ends it early. */
function backoff(attempt: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.random() * Math.min(5000, 100 * 2 ** (attempt + 1)));
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

async function resumableUpload(ctx: GcsContext, request: PutRequest, head: BodyHead): Promise<PutResult> {
  const { signal } = request;
  const tempName = ctx.names.newTemp();
  let bodyEnded = false;
  let sessionUri: string | undefined;
  const cleanups: Array<() => void> = [];
  const temp = ctx.bucket.file(tempName);
  // The session's requests get a connection pool of their own: a failed or abandoned upload
  // closes it, which is the only way to cancel a chunk request the server stopped reading
  // (destroying the library's upload stream does not abort its request).
  const agent = newAgent(ctx);
  // The interceptor's options reach gaxios, which takes `agent`; the typings only know teeny-request's.
  type Interceptor = (typeof temp.interceptors)[number];
  const withAgent: Interceptor = { request: (options) => ({ ...options, agent }) as unknown as ReturnType<Interceptor['request']> };
  temp.interceptors.push(withAgent);
  cleanups.push(() => agent.destroy());
  const hash = createHash('md5');
  let size = 0;

  async function* bytes(): AsyncGenerator<Buffer> {
    // Hand the buffered head over chunk by chunk, so it is not held for the whole upload.
    for (let chunk = head.chunks.shift(); chunk !== undefined; chunk = head.chunks.shift()) {
      hash.update(chunk);
      size += chunk.length;
      yield chunk;
    }
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await head.iterator.next();
      } catch (err) {
        throw new BodyFailure(err);
      }
      if (next.done) {
        bodyEnded = true;
        return;
      }
      const chunk = toBuffer(next.value);
      hash.update(chunk);
      size += chunk.length;
      yield chunk;
    }
  }
  try {
    const upload: Writable = temp.createWriteStream({
      resumable: true,
      chunkSize: ctx.resumableChunkSize,
      validation: false,
      metadata: { contentType: DEFAULT_GCS_CONTENT_TYPE },
      // A fresh name: the precondition makes every chunk request safely retryable.
      preconditionOpts: { ifGenerationMatch: 0 },
    });
    // Destroying the body ends the upload only while the library is pulling from it; an abort
    // destroys the upload itself too (its chunk request is closed with the agent, below).
    const onAbort = (): void => {
      upload.destroy(ufsError('Aborted', `${request.action}: aborted`, signal?.reason));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    cleanups.push(() => signal?.removeEventListener('abort', onAbort));
    upload.on('uri', (uri: unknown) => {
      if (typeof uri === 'string') sessionUri = uri;
    });
    upload.on('response', (response: ChunkResponse) => {
      const finalised = response?.config?.method === 'PUT' && (response.status === 200 || response.status === 201);
      if (!finalised) return;
      // Only the last chunk may finalise, and only with every byte of the body.
      const stored = Number(response.data?.size);
      if (!bodyEnded || stored !== size) {
        upload.destroy(ufsError('Unavailable', `${request.action}: GCS finalised the upload with ${Number.isFinite(stored) ? stored : '?'} bytes before the body was sent`));
      }
    });
    try {
      await pipeline(Readable.from(bytes(), { objectMode: false }), upload);
    } catch (err) {
      if (err instanceof BodyFailure) throw err;
      if (signal?.aborted) throw ufsError('Aborted', 'upload aborted', signal.reason);
      throw mapGcsError(err, request.action);
    }
    const md5 = hash.digest();
    const uploaded = temp.metadata;
    if (Number(uploaded.size) !== size || uploaded.md5Hash !== md5.toString('base64')) {
      throw ufsError('Unavailable', `${request.action}: GCS stored other bytes than were sent`);
    }
    const resource = await request.commit();
    throwIfAborted(signal);
    let final: FileMetadata;
    try {
      final = await rewriteObject(ctx, tempName, request.name, { sourceGeneration: String(uploaded.generation), resource, signal });
    } catch (err) {
      throw mapGcsError(err, request.action);
    }
    return { md5, size, resource: final };
  } catch (err) {
    if (sessionUri !== undefined) await cancelSession(ctx, tempName, sessionUri);
    throw err;
  } finally {
    for (const cleanup of cleanups) cleanup();
    // Committed or not, the temporary object goes (a failed delete is swept later).
    await deleteQuietly(ctx, [tempName]);
  }
}

/** A keep-alive agent for the protocol of the API endpoint. */
function newAgent(ctx: GcsContext): http.Agent {
  return ctx.storage.apiEndpoint.startsWith('http://') ? new http.Agent({ keepAlive: true }) : new https.Agent({ keepAlive: true });
}

/** What the library hands to 'response' listeners for each chunk request (a gaxios response). */
interface ChunkResponse {
  status?: number;
  config?: { method?: string };
  data?: { size?: unknown };
}

/**
 * Cancels a resumable session (DELETE on its URI; GCS answers 499), so a failed upload leaves
 * no session behind. Best effort: an unfinished session expires on its own after a week.
 */
async function cancelSession(ctx: GcsContext, name: string, sessionUri: string): Promise<void> {
  try {
    await ctx.bucket.file(name).request({ method: 'DELETE', uri: sessionUri });
  } catch {
    // 499 is the documented answer; anything else is left to the session's expiry
  }
}
