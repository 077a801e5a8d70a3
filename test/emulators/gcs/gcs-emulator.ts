/**
 * A small, protocol-faithful Cloud Storage JSON API server for tests (node:http, in memory,
 * 127.0.0.1 only). It implements the endpoints @google-cloud/storage 7 calls for the
 * Ringcache GCS adapter; anything else is logged and answered 501 so gaps are visible.
 * See README.md for the documented shapes it follows and what it does not emulate.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { boundaryOf, parseMultipartRelated } from './multipart-related';
import {
  GcsStore,
  HttpError,
  checkPreconditions,
  compareNames,
  notFound,
  objectResource,
  patchResource,
  writableFrom,
  type StoredObject,
  type UploadSession,
  type WritableResource,
} from './object-store';

export interface RecordedRequest {
  method: string;
  /** Decoded path segments joined with '/', e.g. "storage/v1/b/bkt/o/a/b.txt" (object names may contain '/'). */
  route: string;
  /** Raw request path and query. */
  url: string;
  query: Record<string, string>;
  headers: http.IncomingHttpHeaders;
  /** Set once the response was sent. */
  status?: number;
  /** A stalled request: the body bytes read before the emulator stopped reading. */
  bodyBytesBeforeStall?: number;
  /** Set by a `finalizeEarly` fault on a resumable chunk. */
  finalizeEarly?: boolean;
  /** The connection closed before the answer was complete (the client gave up on a stalled request). */
  closedUnanswered?: boolean;
}

interface Fault {
  /** Which requests fail (all when absent). */
  match?: (request: RecordedRequest) => boolean;
  /** HTTP status of the error response; `network` destroys the socket instead of answering. */
  status?: number;
  network?: boolean;
  /** Answer normally but cut the connection after this many body bytes (a mid-download failure). */
  truncateBodyAfter?: number;
  /** Answer normally but ignore the Range header (200 with the whole object, as HTTP allows). */
  ignoreRange?: boolean;
  /** Read this many bytes of the request body, then stop reading and never answer (a store that hangs mid-upload). */
  stallBodyAfter?: number;
  /** Answer normally but send only this many bytes of the response body, then nothing (the connection stays open). */
  stallReplyAfter?: number;
  /**
   * A resumable upload chunk that is not the last one finalises the object with the bytes
   * received so far and answers 200 with its resource, as the Firebase Storage emulator does.
   */
  finalizeEarly?: boolean;
  reason?: string;
  /** How many matching requests fail (default 1). */
  times?: number;
}

interface GcsEmulatorOptions {
  /** Buckets that exist from the start (default ['test-bucket']). */
  buckets?: string[];
  /** Log unexpected routes to stderr (default true). */
  logUnexpected?: boolean;
}

const JSON_TYPE = 'application/json; charset=UTF-8';
const MAX_LIST_RESULTS = 1000;
const MAX_COMPOSE_SOURCES = 32;
const RESUMABLE_CHUNK_GRANULARITY = 256 * 1024;

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('request aborted')));
  });
}

/** A JSON request body; a non-empty one must say it is JSON (the JSON API refuses other media types). */
function parseJson(body: Buffer, contentType?: string | string[]): unknown {
  if (body.length === 0) return undefined;
  if (contentType !== undefined && !/^application\/json\b/i.test(String(contentType))) {
    throw new HttpError(400, 'invalid', `Unsupported content type for a JSON request body: ${String(contentType)}`);
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'parseError', 'Parse Error');
  }
}

const isNonEmptyObject = (value: unknown): boolean =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0;

export class GcsEmulator {
  readonly store = new GcsStore();
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  /** "METHOD url" of requests no route matched (answered 501). */
  readonly unexpected: string[] = [];
  /** Runs before each request is handled (after its body was read): tests use it to race writes. */
  onRequest?: (request: RecordedRequest) => void | Promise<void>;
  private readonly faults: Fault[] = [];
  /** Requests a stall fault left hanging (never answered, or answered in part). */
  readonly stalled: RecordedRequest[] = [];
  private readonly pausedBodies: http.IncomingMessage[] = [];
  private server?: http.Server;
  private baseUrl = '';

  constructor(private readonly options: GcsEmulatorOptions = {}) {
    for (const bucket of options.buckets ?? ['test-bucket']) this.store.createBucket(bucket);
  }

  /** http://127.0.0.1:<port>, to pass as `apiEndpoint`. */
  get endpoint(): string {
    return this.baseUrl;
  }

  async start(): Promise<this> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.sendError(res, new HttpError(500, 'backendError', String(err)));
        else res.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Makes the next matching request(s) fail. */
  inject(fault: Fault): void {
    this.faults.push({ times: 1, ...fault });
  }

  /** Drops the injected faults not used up yet. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Test helper: stores an object directly (no HTTP round trip). */
  putObject(bucket: string, name: string, data: Buffer | string, resource: WritableResource = {}): StoredObject {
    return this.store.put(bucket, name, Buffer.from(data), resource);
  }

  getObject(bucket: string, name: string): StoredObject | undefined {
    return this.store.get(bucket, name);
  }

  objectNames(bucket: string): string[] {
    return this.store.sortedNames(bucket);
  }

  private takeFault(request: RecordedRequest): Fault | undefined {
    const index = this.faults.findIndex((f) => !f.match || f.match(request));
    if (index < 0) return undefined;
    const fault = this.faults[index];
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) this.faults.splice(index, 1);
    return fault;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const segments = url.pathname.split('/').slice(1).map((s) => decodeURIComponent(s));
    const request: RecordedRequest = {
      method: req.method ?? 'GET',
      route: segments.join('/'),
      url: req.url ?? '/',
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
    };
    this.requests.push(request);
    res.on('finish', () => (request.status = res.statusCode));
    res.on('close', () => {
      if (!res.writableFinished) request.closedUnanswered = true;
    });
    const fault = this.takeFault(request);
    if (fault?.stallBodyAfter !== undefined) {
      this.stallBody(req, request, fault.stallBodyAfter);
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      return; // the client went away mid-body: nothing is stored
    }
    await this.onRequest?.(request);
    if (fault?.truncateBodyAfter !== undefined || fault?.stallReplyAfter !== undefined) {
      const limit = (fault.truncateBodyAfter ?? fault.stallReplyAfter) as number;
      const cut = fault.truncateBodyAfter !== undefined;
      res.end = ((chunk?: unknown) => {
        const bytes = Buffer.isBuffer(chunk) ? chunk : typeof chunk === 'string' ? Buffer.from(chunk) : undefined;
        if (bytes) res.write(bytes.subarray(0, limit));
        if (cut) setImmediate(() => res.socket?.destroy());
        else this.stalled.push(request);
        return res;
      }) as typeof res.end;
    } else if (fault?.finalizeEarly) {
      request.finalizeEarly = true;
    } else if (fault && !fault.ignoreRange) {
      if (fault.network) {
        req.socket.destroy();
        return;
      }
      this.sendError(res, new HttpError(fault.status ?? 503, fault.reason ?? 'injected', `injected fault (${fault.status ?? 503})`));
      return;
    }
    let routed = request;
    if (fault?.ignoreRange) {
      const { range: _ignored, ...headers } = request.headers;
      routed = { ...request, headers };
    }
    try {
      await this.route(routed, segments, url.searchParams, body, res);
    } catch (err) {
      if (err instanceof HttpError) this.sendError(res, err);
      else throw err;
    }
  }

  /** Reads `limit` bytes of the request body, then stops reading; the request is never answered. */
  private stallBody(req: http.IncomingMessage, request: RecordedRequest, limit: number): void {
    let received = 0;
    this.pausedBodies.push(req);
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received >= limit) {
        req.pause();
        req.removeListener('data', onData);
        request.bodyBytesBeforeStall = received;
        this.stalled.push(request);
      }
    };
    req.on('data', onData);
    req.on('end', () => {
      // The whole body fitted under the limit: hang all the same.
      request.bodyBytesBeforeStall = received;
      if (!this.stalled.includes(request)) this.stalled.push(request);
    });
  }

  /**
   * Reads (and drops) what the stalled uploads send from now on, still without answering. A
   * socket whose reading is paused never notices that the client closed it; once read again, a
   * connection the client gave up on closes at once (`closedUnanswered`), and one the client
   * still holds stays open.
   */
  drainStalledUploads(): void {
    for (const req of this.pausedBodies.splice(0)) {
      req.on('data', () => undefined);
      req.resume();
    }
  }

  /** Resumable sessions neither finalised nor cancelled (a client that gave up should cancel its session). */
  openSessions(): UploadSession[] {
    return [...this.store.sessions.values()].filter((session) => !session.result && !session.cancelled);
  }

  private async route(request: RecordedRequest, s: string[], query: URLSearchParams, body: Buffer, res: http.ServerResponse): Promise<void> {
    const { method } = request;
    if (s[0] === 'storage' && s[1] === 'v1' && s[2] === 'b' && s.length >= 4) {
      const bucket = s[3];
      if (s.length === 4 && method === 'GET') return this.getBucket(bucket, res);
      if (s[4] === 'o') {
        if (s.length === 5 && method === 'GET') return this.sendJson(res, 200, this.list(bucket, query));
        if (s.length === 6) {
          const name = s[5];
          if (method === 'GET') return this.getObjectRoute(request, bucket, name, query, res);
          if (method === 'DELETE') {
            this.store.delete(bucket, name, query);
            res.writeHead(204).end();
            return;
          }
          if (method === 'PATCH' || method === 'PUT') {
            // PUT (objects.update) is treated as a patch: the adapter never uses it.
            return this.sendJson(res, 200, this.resource(this.store.patch(bucket, name, parseJson(body, request.headers['content-type'] ?? ''), query)));
          }
        }
        const json = (): unknown => parseJson(body, request.headers['content-type'] ?? '');
        if (s.length === 7 && s[6] === 'compose' && method === 'POST') return this.compose(bucket, s[5], query, json(), res);
        if (s.length === 11 && (s[6] === 'rewriteTo' || s[6] === 'copyTo') && s[7] === 'b' && s[9] === 'o' && method === 'POST') {
          return this.rewrite(s[6], bucket, s[5], s[8], s[10], query, json(), res);
        }
      }
    }
    if (s[0] === 'upload' && s[1] === 'storage' && s[2] === 'v1' && s[3] === 'b' && s[5] === 'o' && s.length === 6) {
      const bucket = s[4];
      if (method === 'POST') return this.insert(request, bucket, query, body, res);
      if (method === 'PUT' && query.get('upload_id')) return this.resumableChunk(request, query.get('upload_id') as string, body, res);
      if (method === 'DELETE' && query.get('upload_id')) return this.cancelSession(query.get('upload_id') as string, res);
    }
    const line = `${method} ${request.url}`;
    this.unexpected.push(line);
    if (this.options.logUnexpected !== false) process.stderr.write(`[gcs-emulator] unexpected route: ${line}\n`);
    this.sendError(res, new HttpError(501, 'notImplemented', `The GCS emulator does not implement ${method} ${request.route}`));
  }

  private resource(object: StoredObject): Record<string, unknown> {
    return objectResource(object, this.baseUrl);
  }

  private getBucket(bucket: string, res: http.ServerResponse): void {
    if (!this.store.hasBucket(bucket)) throw new HttpError(404, 'notFound', 'The specified bucket does not exist.');
    this.sendJson(res, 200, {
      kind: 'storage#bucket',
      id: bucket,
      name: bucket,
      location: 'US',
      storageClass: 'STANDARD',
      metageneration: '1',
    });
  }

  // ---- objects.get (metadata or media) ----

  private getObjectRoute(request: RecordedRequest, bucket: string, name: string, query: URLSearchParams, res: http.ServerResponse): void {
    const object = this.store.getExisting(bucket, name, query.get('generation'));
    checkPreconditions(object, query);
    if (query.get('alt') === 'media') return this.sendMedia(request, object, res);
    this.sendJson(res, 200, this.resource(object));
  }

  private sendMedia(request: RecordedRequest, object: StoredObject, res: http.ServerResponse): void {
    const headers: Record<string, string> = {
      'content-type': object.contentType ?? 'application/octet-stream',
      'accept-ranges': 'bytes',
      etag: `"${Buffer.from(object.md5Hash ?? object.crc32c, 'base64').toString('hex')}"`,
      'last-modified': new Date(object.updated).toUTCString(),
      'x-goog-generation': object.generation,
      'x-goog-metageneration': String(object.metageneration),
      'x-goog-hash': [`crc32c=${object.crc32c}`, ...(object.md5Hash ? [`md5=${object.md5Hash}`] : [])].join(','),
      'x-goog-stored-content-length': String(object.data.length),
      'x-goog-stored-content-encoding': object.contentEncoding ?? 'identity',
    };
    let data = object.data;
    const acceptsGzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
    if (object.contentEncoding === 'gzip' && !acceptsGzip) {
      // Decompressive transcoding: served decompressed, Range ignored.
      data = gunzipSync(data);
      res.writeHead(200, { ...headers, 'content-length': String(data.length) }).end(data);
      return;
    }
    if (object.contentEncoding) headers['content-encoding'] = object.contentEncoding;
    const range = request.headers.range;
    if (typeof range === 'string') {
      const parsed = parseRange(range, data.length);
      if (parsed === 'unsatisfiable') {
        throw new HttpError(416, 'requestedRangeNotSatisfiable', 'The requested range cannot be satisfied.', {
          'content-range': `bytes */${data.length}`,
        });
      }
      if (parsed) {
        const slice = data.subarray(parsed.start, parsed.end + 1);
        res
          .writeHead(206, { ...headers, 'content-length': String(slice.length), 'content-range': `bytes ${parsed.start}-${parsed.end}/${data.length}` })
          .end(slice);
        return;
      }
    }
    res.writeHead(200, { ...headers, 'content-length': String(data.length) }).end(data);
  }

  // ---- objects.list ----

  private list(bucket: string, query: URLSearchParams): Record<string, unknown> {
    const prefix = query.get('prefix') ?? '';
    const delimiter = query.get('delimiter') || undefined;
    const startOffset = query.get('startOffset') || undefined;
    const endOffset = query.get('endOffset') || undefined;
    const includeTrailingDelimiter = query.get('includeTrailingDelimiter') === 'true';
    const requested = Number(query.get('maxResults') ?? MAX_LIST_RESULTS);
    const maxResults = Number.isInteger(requested) && requested > 0 ? Math.min(requested, MAX_LIST_RESULTS) : MAX_LIST_RESULTS;
    const token = decodeToken(query.get('pageToken'));
    const objects = this.store.objects(bucket);

    const items: Record<string, unknown>[] = [];
    const prefixes: string[] = [];
    let count = 0;
    let lastName: string | undefined;
    let lastPrefix: string | undefined = token?.skipPrefix;
    let nextPageToken: string | undefined;
    for (const name of this.store.sortedNames(bucket)) {
      if (!name.startsWith(prefix)) continue;
      if (startOffset !== undefined && compareNames(name, startOffset) < 0) continue;
      if (endOffset !== undefined && compareNames(name, endOffset) >= 0) break;
      if (token && compareNames(name, token.after) <= 0) continue;
      if (lastPrefix !== undefined && name.startsWith(lastPrefix)) continue;
      const cut = delimiter === undefined ? -1 : name.indexOf(delimiter, prefix.length);
      if (count >= maxResults) {
        nextPageToken = encodeToken({ after: lastName as string, skipPrefix: lastPrefix });
        break;
      }
      count++;
      lastName = name;
      if (cut >= 0) {
        const common = name.slice(0, cut + (delimiter as string).length);
        prefixes.push(common);
        lastPrefix = common;
        if (includeTrailingDelimiter && name === common) items.push(this.resource(objects.get(name) as StoredObject));
        continue;
      }
      items.push(this.resource(objects.get(name) as StoredObject));
    }
    const response: Record<string, unknown> = { kind: 'storage#objects' };
    if (nextPageToken) response.nextPageToken = nextPageToken;
    if (prefixes.length > 0) response.prefixes = prefixes;
    if (items.length > 0) response.items = items;
    return response;
  }

  // ---- uploads (objects.insert) ----

  private insert(request: RecordedRequest, bucket: string, query: URLSearchParams, body: Buffer, res: http.ServerResponse): void {
    const uploadType = query.get('uploadType');
    if (uploadType === 'media') {
      const name = query.get('name');
      if (!name) throw new HttpError(400, 'required', 'Required parameter: name');
      const contentType = request.headers['content-type'];
      const object = this.store.put(bucket, name, body, contentType ? { contentType } : {}, { preconditions: query });
      return this.sendJson(res, 200, this.resource(object));
    }
    if (uploadType === 'multipart') {
      const boundary = boundaryOf(request.headers['content-type']);
      if (!boundary) throw new HttpError(400, 'invalid', 'multipart upload without a boundary');
      let parts;
      try {
        parts = parseMultipartRelated(body, boundary);
      } catch (err) {
        throw new HttpError(400, 'invalid', `malformed multipart body: ${(err as Error).message}`);
      }
      if (parts.length !== 2) throw new HttpError(400, 'invalid', 'a multipart upload has exactly two parts: metadata and media');
      const raw = parseJson(parts[0].body) as Record<string, unknown> | undefined;
      const resource = writableFrom(raw);
      if (!resource.contentType && parts[1].headers['content-type']) resource.contentType = parts[1].headers['content-type'];
      const name = query.get('name') || (typeof raw?.name === 'string' ? raw.name : undefined);
      if (!name) throw new HttpError(400, 'required', 'Required parameter: name');
      const object = this.store.put(bucket, name, Buffer.from(parts[1].body), resource, {
        preconditions: query,
        md5Hash: typeof raw?.md5Hash === 'string' ? raw.md5Hash : undefined,
        crc32c: typeof raw?.crc32c === 'string' ? raw.crc32c : undefined,
      });
      return this.sendJson(res, 200, this.resource(object));
    }
    if (uploadType === 'resumable') {
      const raw = parseJson(body, request.headers['content-type'] ?? '') as Record<string, unknown> | undefined;
      const resource = writableFrom(raw);
      const uploadContentType = request.headers['x-upload-content-type'];
      if (!resource.contentType && typeof uploadContentType === 'string') resource.contentType = uploadContentType;
      const name = query.get('name') || (typeof raw?.name === 'string' ? raw.name : undefined);
      if (!name) throw new HttpError(400, 'required', 'Required parameter: name');
      const preconditions = new URLSearchParams();
      for (const key of ['ifGenerationMatch', 'ifGenerationNotMatch', 'ifMetagenerationMatch', 'ifMetagenerationNotMatch']) {
        const value = query.get(key);
        if (value !== null) preconditions.set(key, value);
      }
      const session = this.store.newSession(bucket, name, resource, preconditions);
      const location = `${this.baseUrl}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${session.id}`;
      res.writeHead(200, { location, 'x-guploader-uploadid': session.id, 'content-length': '0' }).end();
      return;
    }
    throw new HttpError(400, 'invalid', `Invalid uploadType: ${uploadType}`);
  }

  private resumableChunk(request: RecordedRequest, uploadId: string, body: Buffer, res: http.ServerResponse): void {
    const session = this.store.sessions.get(uploadId);
    if (!session) throw new HttpError(404, 'notFound', 'No such upload session.');
    if (session.cancelled) throw new HttpError(499, 'clientClosedRequest', 'The upload session was cancelled.');
    if (session.result) return this.sendJson(res, 200, this.resource(session.result));
    const header = String(request.headers['content-range'] ?? '');
    const match = /^bytes (?:\*|(\d+)-(\d+|\*))\/(\*|\d+)$/.exec(header.trim());
    if (!match) throw new HttpError(400, 'invalid', `Invalid Content-Range: ${header}`);
    const [, first, last, totalText] = match;
    const total = totalText === '*' ? undefined : Number(totalText);

    if (first !== undefined) {
      const start = Number(first);
      if (start > session.received) throw new HttpError(400, 'invalid', `Content-Range starts at ${start} but only ${session.received} bytes were persisted.`);
      if (last !== '*' && Number(last) - start + 1 !== body.length) {
        throw new HttpError(400, 'invalid', `Content-Range ${header} does not match the ${body.length} bytes sent.`);
      }
      // "Each chunk except the last must be a multiple of 256 KiB" (resumable uploads, chunked transfer).
      const closesUpload = total !== undefined && Number(last) + 1 === total;
      if (last !== '*' && !closesUpload && body.length % RESUMABLE_CHUNK_GRANULARITY !== 0) {
        throw new HttpError(400, 'invalid', `A chunk that is not the last must be a multiple of ${RESUMABLE_CHUNK_GRANULARITY} bytes (got ${body.length}).`);
      }
      // Bytes the server already has (a retried chunk) are ignored.
      const fresh = body.subarray(Math.min(body.length, session.received - start));
      session.chunks.push(Buffer.from(fresh));
      session.received += fresh.length;
    } else if (body.length > 0) {
      throw new HttpError(400, 'invalid', 'A "bytes */..." request must have an empty body.');
    }

    if (total !== undefined && session.received > total) throw new HttpError(400, 'invalid', 'More bytes were sent than the declared total size.');
    // Final when the total is known and reached, or when a "bytes N-*/*" request (one streaming
    // request of unknown length) arrived complete.
    const final = (total !== undefined ? session.received === total : first !== undefined && last === '*') || request.finalizeEarly === true;
    if (!final) {
      const headers: Record<string, string> = { 'content-length': '0' };
      if (session.received > 0) headers.range = `bytes=0-${session.received - 1}`;
      res.writeHead(308, headers).end();
      return;
    }
    this.finishSession(session, res);
  }

  private finishSession(session: UploadSession, res: http.ServerResponse): void {
    const data = Buffer.concat(session.chunks);
    const object = this.store.put(session.bucket, session.name, data, session.resource, { preconditions: session.preconditions });
    session.result = object;
    session.chunks = [];
    this.sendJson(res, 200, this.resource(object));
  }

  private cancelSession(uploadId: string, res: http.ServerResponse): void {
    const session = this.store.sessions.get(uploadId);
    if (!session) throw new HttpError(404, 'notFound', 'No such upload session.');
    session.cancelled = true;
    session.chunks = [];
    res.writeHead(499, { 'content-length': '0' }).end();
  }

  // ---- objects.rewrite / objects.copy ----

  private rewrite(
    kind: string,
    sourceBucket: string,
    sourceName: string,
    destinationBucket: string,
    destinationName: string,
    query: URLSearchParams,
    raw: unknown,
    res: http.ServerResponse,
  ): void {
    const source = this.store.getExisting(sourceBucket, sourceName, query.get('sourceGeneration'));
    checkPreconditions(source, query, 'ifSource');
    // Storage-testbench semantics: the destination starts from the source's metadata and the
    // request body (when not empty) is applied to it like a patch.
    const base = writableFrom(source);
    const resource = isNonEmptyObject(raw) ? patchResource(base, raw) : base;
    const object = this.store.put(destinationBucket, destinationName, source.data, resource, {
      preconditions: query,
      componentCount: source.componentCount,
    });
    if (kind === 'copyTo') return this.sendJson(res, 200, this.resource(object));
    this.sendJson(res, 200, {
      kind: 'storage#rewriteResponse',
      totalBytesRewritten: String(object.data.length),
      objectSize: String(object.data.length),
      done: true,
      resource: this.resource(object),
    });
  }

  // ---- objects.compose ----

  private compose(bucket: string, destinationName: string, query: URLSearchParams, json: unknown, res: http.ServerResponse): void {
    const raw = json as { sourceObjects?: unknown; destination?: unknown } | undefined;
    const sources = raw?.sourceObjects;
    if (!Array.isArray(sources) || sources.length === 0) throw new HttpError(400, 'required', 'Required field: sourceObjects');
    if (sources.length > MAX_COMPOSE_SOURCES) {
      throw new HttpError(400, 'invalid', `The number of source components provided (${sources.length}) exceeds the maximum (${MAX_COMPOSE_SOURCES}).`);
    }
    const datas: Buffer[] = [];
    let componentCount = 0;
    for (const entry of sources as Array<{ name?: unknown; generation?: unknown; objectPreconditions?: { ifGenerationMatch?: unknown } }>) {
      if (typeof entry?.name !== 'string') throw new HttpError(400, 'required', 'Required field: sourceObjects[].name');
      const generation = entry.generation === undefined ? undefined : String(entry.generation);
      const source = this.store.get(bucket, entry.name);
      if (!source || (generation !== undefined && source.generation !== generation)) throw notFound(bucket, entry.name);
      const expected = entry.objectPreconditions?.ifGenerationMatch;
      if (expected !== undefined && String(expected) !== source.generation) {
        throw new HttpError(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');
      }
      datas.push(source.data);
      componentCount += source.componentCount ?? 1;
    }
    const object = this.store.put(bucket, destinationName, Buffer.concat(datas), writableFrom(raw?.destination), {
      preconditions: query,
      componentCount,
    });
    this.sendJson(res, 200, this.resource(object));
  }

  // ---- responses ----

  private sendJson(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': JSON_TYPE, 'content-length': String(Buffer.byteLength(text)) }).end(text);
  }

  /** The JSON API error body: { error: { code, message, errors: [{ domain, reason, message }] } }. */
  private sendError(res: http.ServerResponse, err: HttpError): void {
    const text = JSON.stringify({
      error: { code: err.status, message: err.message, errors: [{ domain: 'global', reason: err.reason, message: err.message }] },
    });
    res.writeHead(err.status, { ...err.headers, 'content-type': JSON_TYPE, 'content-length': String(Buffer.byteLength(text)) }).end(text);
  }
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n`; undefined when the header is not a single byte range (ignored, as HTTP allows). */
function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

interface PageToken {
  /** Resume strictly after this name... */
  after: string;
  /** ...skipping the names of the common prefix the last page ended in. */
  skipPrefix?: string;
}

const encodeToken = (token: PageToken): string => Buffer.from(JSON.stringify(token)).toString('base64url');

function decodeToken(value: string | null): PageToken | undefined {
  if (!value) return undefined;
  try {
    const token = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as PageToken;
    if (typeof token.after === 'string') return token;
  } catch {
    // fall through
  }
  throw new HttpError(400, 'invalid', 'Invalid page token.');
}

export async function startGcsEmulator(options: GcsEmulatorOptions = {}): Promise<GcsEmulator> {
  return new GcsEmulator(options).start();
}
