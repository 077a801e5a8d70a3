/**
 * The HTTP client between nodes, with two keep-alive pools per peer origin: one for forwarded
 * S3 requests (`dispatch`), one for the calls nodes make of each other (internal JSON
 * endpoints, page hand-off). A forwarded download holds its connection for as long as the
 * client takes to read it, so slow readers can fill the forwarding pool; hand-off pages,
 * preload batches and invalidations never queue behind them. Every call carries the hop
 * marker (peer-auth.ts); internal calls with a body also sign its SHA-256.
 */
import { createHash } from 'node:crypto';
import { Agent, type Dispatcher } from 'undici';
import type { MemberInfo } from './membership';
import { untilAborted } from '../util/until-aborted';
import { peerHeaders } from './peer-auth';

export const CLUSTER_PATH = '/_ringcache/cluster';
/** The sender's ring version (epoch) on every request between nodes; answers carry the receiver's as x-ringcache-ring. */
export const EPOCH_HEADER = 'x-ringcache-epoch';
const RING_HEADER = 'x-ringcache-ring';

export interface PeerClientOptions {
  selfId: string;
  secret: string | undefined;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  connectionsPerPeer: number;
  /** This node's ring version (epoch), compared with the answers' x-ringcache-ring. */
  epoch?: () => number;
  /** What every request carries as x-ringcache-epoch (the epoch and the ring's tag). */
  stamp?: () => string;
  /** An answer carried a ring version newer than ours (the receiver's x-ringcache-ring). */
  heardOf?: (epoch: number, from: MemberInfo) => void;
}

/** Errors that mean the node could not be reached at all (as opposed to slow, or answering an error). */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

export function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code !== undefined && CONNECT_ERRORS.has(code);
}

export class PeerError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Connections per peer for internal calls (pages, /load, /invalidate), apart from forwarding. */
export const INTERNAL_CONNECTIONS_PER_PEER = 16;

export class PeerClient {
  /** Forwarded S3 requests (`cluster.forward.connectionsPerPeer` connections per peer). */
  readonly agent: Agent;
  /** Internal calls: hand-off pages, preload batches, invalidations. */
  readonly internalAgent: Agent;

  constructor(private readonly options: PeerClientOptions) {
    this.agent = new Agent({
      connections: options.connectionsPerPeer,
      connect: { timeout: options.connectTimeoutMs },
      headersTimeout: options.headersTimeoutMs,
      // Object bodies may pause for as long as the client reading them does.
      bodyTimeout: 0,
      keepAliveTimeout: 30_000,
    });
    // Every internal call sets its own deadline (a signal, or headers/body timeouts per call).
    this.internalAgent = new Agent({
      connections: INTERNAL_CONNECTIONS_PER_PEER,
      connect: { timeout: options.connectTimeoutMs },
      headersTimeout: options.headersTimeoutMs,
      keepAliveTimeout: 30_000,
    });
  }

  /**
   * The hop-marker headers for a request this node sends. With `body` (internal calls), the
   * marker also signs its SHA-256, so it cannot be replayed with another body.
   */
  markerFor(method: string, rawUrl: string, body?: string | Uint8Array): Record<string, string> {
    if (this.options.secret === undefined) throw new PeerError('cluster.secret is not configured: nodes cannot talk to each other');
    const bodySha256 = body === undefined ? undefined : createHash('sha256').update(body).digest('hex');
    const headers = peerHeaders(this.options.secret, this.options.selfId, { method, rawUrl, bodySha256 });
    if (this.options.stamp) headers[EPOCH_HEADER] = this.options.stamp();
    return headers;
  }

  /** Tells heardOf about the ring version an answer from `target` carries. */
  private noteEpoch(target: MemberInfo, response: Dispatcher.ResponseData): void {
    const value = response.headers[RING_HEADER];
    const epoch = typeof value === 'string' ? Number(value) : NaN;
    if (Number.isSafeInteger(epoch) && epoch > (this.options.epoch?.() ?? 0)) this.options.heardOf?.(epoch, target);
  }

  /** A forwarded S3 request, on the forwarding pool. */
  dispatch(target: MemberInfo, request: Omit<Dispatcher.RequestOptions, 'origin'>): Promise<Dispatcher.ResponseData> {
    return this.agent.request({ ...request, origin: new URL(target.url).origin }).then((response) => {
      this.noteEpoch(target, response);
      return response;
    });
  }

  /**
   * An internal call, given up as soon as `signal` aborts. undici applies a request's signal
   * only once the request has a connection, so a call queued behind a busy pool would wait
   * past its deadline; a response that still comes after the abort is discarded.
   */
  private internal(target: MemberInfo, request: Omit<Dispatcher.RequestOptions, 'origin' | 'signal'>, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    const pending = this.internalAgent.request({ ...request, origin: new URL(target.url).origin, signal }).then((response) => {
      this.noteEpoch(target, response);
      return response;
    });
    return untilAborted(pending, signal, (late) => late.body.destroy());
  }

  /**
   * POSTs JSON to an internal endpoint and returns the JSON answer; rejects on errors or
   * non-2xx, and when the whole exchange takes longer than `deadlineMs` (default 30 s; the
   * answer may come only after long work, so the pool's headers timeout does not apply).
   */
  async postJson<T>(target: MemberInfo, path: string, body: unknown, signal?: AbortSignal, deadlineMs = 30_000): Promise<T> {
    const rawUrl = `${CLUSTER_PATH}${path}`;
    const deadline = AbortSignal.timeout(deadlineMs);
    const json = JSON.stringify(body);
    const response = await this.internal(
      target,
      {
        method: 'POST',
        path: rawUrl,
        headers: { 'content-type': 'application/json', ...this.markerFor('POST', rawUrl, json) },
        body: json,
        headersTimeout: deadlineMs,
        bodyTimeout: deadlineMs,
      },
      signal ? AbortSignal.any([signal, deadline]) : deadline,
    );
    const text = await response.body.text();
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw new PeerError(`${target.id} answered ${response.statusCode} to ${path}: ${text.slice(0, 200)}`, response.statusCode);
    }
    return JSON.parse(text) as T;
  }

  /** A cached page from a peer, or undefined when it does not hold it (or cannot be reached in time). */
  async page(target: MemberInfo, pageKey: string, length: number, timeoutMs: number): Promise<Buffer | undefined> {
    const rawUrl = `${CLUSTER_PATH}/page?key=${encodeURIComponent(pageKey)}`;
    const response = await this.internal(target, { method: 'GET', path: rawUrl, headers: this.markerFor('GET', rawUrl) }, AbortSignal.timeout(timeoutMs));
    if (response.statusCode !== 200) {
      await response.body.dump();
      return undefined;
    }
    const data = Buffer.from(await response.body.arrayBuffer());
    return data.length === length ? data : undefined;
  }

  async close(): Promise<void> {
    await Promise.all([this.agent.close(), this.internalAgent.close()]);
  }
}
