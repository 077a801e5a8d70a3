/**
 * The HTTP client between nodes: one undici keep-alive pool per peer origin, and the calls
 * nodes make of each other besides forwarded S3 requests (internal JSON endpoints and page
 * hand-off). Every call carries the hop marker (peer-auth.ts).
 */
import { Agent, type Dispatcher } from 'undici';
import type { MemberInfo } from './membership';
import { peerHeaders } from './peer-auth';

export const CLUSTER_PATH = '/_ringcache/cluster';

export interface PeerClientOptions {
  selfId: string;
  secret: string | undefined;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  connectionsPerPeer: number;
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

export class PeerClient {
  readonly agent: Agent;

  constructor(private readonly options: PeerClientOptions) {
    this.agent = new Agent({
      connections: options.connectionsPerPeer,
      connect: { timeout: options.connectTimeoutMs },
      headersTimeout: options.headersTimeoutMs,
      // Object bodies may pause for as long as the client reading them does.
      bodyTimeout: 0,
      keepAliveTimeout: 30_000,
    });
  }

  /** The hop-marker headers for a request this node sends. */
  markerFor(method: string, rawUrl: string): Record<string, string> {
    if (this.options.secret === undefined) throw new PeerError('cluster.secret is not configured: nodes cannot talk to each other');
    return peerHeaders(this.options.secret, this.options.selfId, { method, rawUrl });
  }

  dispatch(target: MemberInfo, request: Omit<Dispatcher.RequestOptions, 'origin'>): Promise<Dispatcher.ResponseData> {
    return this.agent.request({ ...request, origin: new URL(target.url).origin });
  }

  /**
   * POSTs JSON to an internal endpoint and returns the JSON answer; rejects on errors or
   * non-2xx, and when the whole exchange takes longer than `deadlineMs` (default 30 s; the
   * answer may come only after long work, so the pool's headers timeout does not apply).
   */
  async postJson<T>(target: MemberInfo, path: string, body: unknown, signal?: AbortSignal, deadlineMs = 30_000): Promise<T> {
    const rawUrl = `${CLUSTER_PATH}${path}`;
    const deadline = AbortSignal.timeout(deadlineMs);
    const response = await this.dispatch(target, {
      method: 'POST',
      path: rawUrl,
      headers: { 'content-type': 'application/json', ...this.markerFor('POST', rawUrl) },
      body: JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
      headersTimeout: deadlineMs,
      bodyTimeout: deadlineMs,
    });
    const text = await response.body.text();
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw new PeerError(`${target.id} answered ${response.statusCode} to ${path}: ${text.slice(0, 200)}`, response.statusCode);
    }
    return JSON.parse(text) as T;
  }

  /** A cached page from a peer, or undefined when it does not hold it (or cannot be reached in time). */
  async page(target: MemberInfo, pageKey: string, length: number, timeoutMs: number): Promise<Buffer | undefined> {
    const rawUrl = `${CLUSTER_PATH}/page?key=${encodeURIComponent(pageKey)}`;
    const response = await this.dispatch(target, {
      method: 'GET',
      path: rawUrl,
      headers: this.markerFor('GET', rawUrl),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.statusCode !== 200) {
      await response.body.dump();
      return undefined;
    }
    const data = Buffer.from(await response.body.arrayBuffer());
    return data.length === length ? data : undefined;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
