/**
 * Ring-aware routing for @aws-sdk/client-s3 (the job the Alluxio Dora client does). Any node
 * serves any request by forwarding object requests to the key's owner; a client that knows
 * the ring sends them to the owner itself and saves that hop.
 *
 * - The ring is fetched lazily (first object request) from the configured endpoint
 *   (`GET /_ringcache/cluster/ring`, signed with the client's own credentials and region: the
 *   ring view needs an admin key, one with "*": "write") and built with the nodes' own
 *   `buildRing` and `ringKey`, so client and nodes always pick the same owner.
 * - One middleware, placed just before the signer (`httpSigningMiddleware`, which itself
 *   follows `retryMiddleware`), rewrites protocol, host and port of requests whose input has a
 *   Bucket and a Key. The signature is computed for the owner's host, and every SDK retry
 *   goes through the routing again. Bucket-level requests (listing, CreateBucket,
 *   DeleteObjects) go to the configured endpoint untouched.
 * - Every response carries `x-ringcache-ring: <version>`: a version other than the one held
 *   starts a refresh (single-flight, at most one a second). The ring is also refreshed every
 *   `refreshIntervalMs`.
 * - A request to an owner that fails without an HTTP response (refused, reset, timeout)
 *   marks that owner bad for `badMemberMs` and starts a refresh, whatever happens next. It is
 *   sent once more to the configured endpoint (which forwards as usual) only when that
 *   cannot run it twice: the connection was never made (refused, DNS, connect timeout:
 *   nothing was sent) and the body can be sent again (none, bytes, or a stream not read yet),
 *   or it is a GET/HEAD (after a reset or timeout the owner may have run anything else
 *   already). Otherwise the error is thrown, as without this client.
 * - No ring (fetch failed): requests go to the configured endpoint. The ring is an
 *   optimisation, never the reason a request fails.
 *
 * Requires an explicit `endpoint` and path-style addressing (`forcePathStyle: true`).
 */
import { Readable } from 'node:stream';
import type { S3Client, ServiceInputTypes, ServiceOutputTypes } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../s3/auth/sha256';
import type { FinalizeHandlerOutput, FinalizeRequestMiddleware } from '@smithy/types';
import { ringKey } from '../cluster/cluster-node';
import type { RingView } from '../cluster/ring-view';
import { buildRing, type Ring } from '../cluster/ring';

export interface RingAwareOptions {
  /** Periodic ring refresh (default 30 s). */
  refreshIntervalMs?: number;
  /** How long an owner that did not answer is skipped (default 5 s). */
  badMemberMs?: number;
  /** Timeout of one ring fetch (default 2 s). */
  fetchTimeoutMs?: number;
  log?: { warn(obj: object, msg: string): void };
}

export interface RingAwareStats {
  /** Object requests sent straight to their owner (the configured endpoint included). */
  direct: number;
  /** Object requests sent to the configured endpoint for lack of a usable owner (no ring, owner bad). */
  viaEndpoint: number;
  /** Requests re-sent to the configured endpoint after their owner did not answer. */
  fallbacks: number;
  /** Ring fetches that succeeded. */
  refreshes: number;
}

export interface RingAwareHandle {
  /** Version of the ring held (undefined before the first successful fetch). */
  readonly version: string | undefined;
  /** Member ids of the ring held, sorted. */
  members(): readonly string[];
  /** The member this object's requests go to now (undefined: the configured endpoint). */
  ownerOf(bucket: string, key: string): string | undefined;
  /** Fetches the ring now (joins a fetch in flight). */
  refresh(): Promise<void>;
  stats(): RingAwareStats;
  /** Stops the periodic refresh and removes the middleware. */
  close(): void;
}

interface Held {
  version: string;
  ring: Ring;
  urls: Map<string, URL>;
}

const MIDDLEWARE = 'ringAwareMiddleware';
const MIN_REFRESH_GAP_MS = 1000;

export function withRingAwareness(client: S3Client, options: RingAwareOptions = {}): RingAwareHandle {
  const { refreshIntervalMs = 30_000, badMemberMs = 5_000, fetchTimeoutMs = 2_000, log } = options;
  const config = client.config as {
    endpoint?: () => Promise<{ protocol: string; hostname: string; port?: number; path: string }>;
    forcePathStyle?: unknown;
    credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
    region: () => Promise<string>;
    requestHandler?: { handle(request: HttpRequest, options?: { abortSignal?: AbortSignal }): Promise<{ response: { statusCode: number; body: unknown } }> };
  };
  if (!config.endpoint) throw new Error('withRingAwareness: the S3Client needs an explicit endpoint (any cluster node)');
  if (config.forcePathStyle !== true) throw new Error('withRingAwareness: the S3Client needs forcePathStyle: true');
  const endpoint = config.endpoint;

  let held: Held | undefined;
  let inFlight: Promise<void> | undefined;
  let lastAttempt = 0;
  const bad = new Map<string, number>();
  const stats: RingAwareStats = { direct: 0, viaEndpoint: 0, fallbacks: 0, refreshes: 0 };

  /** GET /_ringcache/cluster/ring, SigV4-signed, through the client's own HTTP handler (its TLS settings). */
  async function fetchRing(): Promise<void> {
    const e = await endpoint();
    const host = `${e.hostname}${e.port ? `:${e.port}` : ''}`;
    const signer = new SignatureV4({ service: 's3', region: await config.region(), credentials: config.credentials, sha256: NodeSha256, uriEscapePath: false });
    const request = new HttpRequest({
      method: 'GET',
      protocol: e.protocol,
      hostname: e.hostname,
      port: e.port,
      path: `${e.path.replace(/\/$/, '')}/_ringcache/cluster/ring`,
      headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
    });
    const signed = (await signer.sign(request)) as HttpRequest;
    if (!config.requestHandler) throw new Error('the S3Client has no request handler');
    const { response } = await config.requestHandler.handle(signed, { abortSignal: AbortSignal.timeout(fetchTimeoutMs) });
    const text = await bodyText(response.body);
    if (response.statusCode !== 200) throw new Error(`ring fetch answered ${response.statusCode}: ${text.slice(0, 200)}`);
    const view = JSON.parse(text) as RingView;
    held = { version: view.version, ring: buildRing(view.members.map((m) => m.id)), urls: new Map(view.members.map((m) => [m.id, new URL(m.url)])) };
    for (const id of bad.keys()) if (!held.urls.has(id)) bad.delete(id);
    stats.refreshes++;
  }

  /** Single-flight; a failure leaves the ring held as it was. */
  function refresh(): Promise<void> {
    lastAttempt = Date.now();
    inFlight ??= fetchRing()
      .catch((error: unknown) => log?.warn({ err: error }, 'ring fetch failed; object requests go to the configured endpoint'))
      .finally(() => (inFlight = undefined));
    return inFlight;
  }

  /** The owner of an object and its URL; undefined: send it to the configured endpoint. */
  function ownerOf(bucket: string, key: string): { id: string; url: URL } | undefined {
    const id = held?.ring.owner(ringKey(bucket, key));
    const url = id === undefined ? undefined : held?.urls.get(id);
    if (id === undefined || url === undefined || Date.now() < (bad.get(id) ?? 0)) return undefined;
    return { id, url };
  }

  function noteVersion(response: unknown): void {
    const headers = (response as { headers?: Record<string, string> } | undefined)?.headers;
    const version = headers?.['x-ringcache-ring'];
    if (version && version !== held?.version && Date.now() - lastAttempt >= MIN_REFRESH_GAP_MS) void refresh();
  }

  const middleware: FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> =
    (next) =>
    async (args): Promise<FinalizeHandlerOutput<ServiceOutputTypes>> => {
      const input = args.input as { Bucket?: unknown; Key?: unknown };
      const send = async (request: unknown): Promise<FinalizeHandlerOutput<ServiceOutputTypes>> => {
        try {
          const result = await next({ ...args, request });
          noteVersion(result.response);
          return result;
        } catch (error) {
          noteVersion((error as { $response?: unknown } | undefined)?.$response);
          throw error;
        }
      };
      if (!HttpRequest.isInstance(args.request) || typeof input.Bucket !== 'string' || typeof input.Key !== 'string') return send(args.request);
      if (!held) await (inFlight ?? (Date.now() - lastAttempt >= MIN_REFRESH_GAP_MS ? refresh() : undefined));
      const owner = ownerOf(input.Bucket, input.Key);
      const original = args.request;
      const originalHost = `${original.hostname}${original.port ? `:${original.port}` : ''}`;
      if (!owner) stats.viaEndpoint++;
      else stats.direct++;
      if (!owner || owner.url.host === originalHost) return send(original);

      const routed = HttpRequest.clone(original);
      routed.protocol = owner.url.protocol;
      routed.hostname = owner.url.hostname;
      routed.port = owner.url.port ? Number(owner.url.port) : undefined;
      routed.headers.host = owner.url.host;
      try {
        return await send(routed);
      } catch (error) {
        const answered = error !== null && typeof error === 'object' && '$response' in error;
        if (answered || (error as Error | undefined)?.name === 'AbortError') throw error;
        // No answer: later requests skip this owner, and the ring is learnt again, whether or
        // not this one can be sent elsewhere.
        bad.set(owner.id, Date.now() + badMemberMs);
        void refresh();
        if (!mayResend(error, original)) {
          log?.warn({ owner: owner.id, err: error }, 'owner did not answer; not re-sent (it may have run there, or its body was consumed)');
          throw error;
        }
        log?.warn({ owner: owner.id, err: error }, 'owner did not answer; retrying through the configured endpoint');
        stats.fallbacks++;
        return send(original);
      }
    };

  client.middlewareStack.addRelativeTo(middleware, { name: MIDDLEWARE, relation: 'before', toMiddleware: 'httpSigningMiddleware', override: true });
  const timer = setInterval(() => void refresh(), refreshIntervalMs);
  timer.unref();

  return {
    get version() {
      return held?.version;
    },
    members: () => held?.ring.members ?? [],
    ownerOf: (bucket, key) => ownerOf(bucket, key)?.id,
    refresh,
    stats: () => ({ ...stats }),
    close() {
      clearInterval(timer);
      client.middlewareStack.remove(MIDDLEWARE);
    },
  };
}

/** Errors of a connection that was never made: nothing of the request reached the owner. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

function neverConnected(error: unknown): boolean {
  const { code, name, message } = (error ?? {}) as { code?: string; name?: string; message?: string };
  if (code !== undefined && NOT_CONNECTED.has(code)) return true;
  // @smithy/node-http-handler's connectionTimeout error has no code; its text is all that
  // tells it from a request or socket timeout (after which the owner may have run the request).
  return name === 'TimeoutError' && code === undefined && /did not establish a connection/.test(message ?? '');
}

/**
 * Whether a request its owner did not answer may be sent to the configured endpoint: never
 * sent and its body can be sent again (none, bytes, or a stream nobody read), or a read
 * (GET, HEAD), which may run twice.
 */
function mayResend(error: unknown, request: HttpRequest): boolean {
  if (neverConnected(error)) return resendable(request.body);
  const method = request.method.toUpperCase();
  return (method === 'GET' || method === 'HEAD') && resendable(request.body);
}

/** Bodies that can be sent again: none, strings, bytes, and streams not read yet. */
function resendable(body: unknown): boolean {
  if (body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array || body instanceof ArrayBuffer) return true;
  return body instanceof Readable && !body.readableDidRead && !body.destroyed;
}

/** The whole (small) body of a response from the client's HTTP handler. */
async function bodyText(body: unknown): Promise<string> {
  if (body instanceof Readable) {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
    return Buffer.concat(chunks).toString('utf8');
  }
  if (body === undefined || body === null) return '';
  return Buffer.from(body as Uint8Array).toString('utf8');
}
