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

  /** POSTs JSON to an internal endpoint and returns the JSON answer; rejects on errors or non-2xx. */
  async postJson<T>(target: MemberInfo, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const rawUrl = `${CLUSTER_PATH}${path}`;
    const response = await this.dispatch(target, {
      method: 'POST',
      path: rawUrl,
      headers: { 'content-type': 'application/json', ...this.markerFor('POST', rawUrl) },
      body: JSON.stringify(body),
      signal,
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
