/**
 * The calls nodes make of each other (internal JSON endpoints, page hand-off, job requests passed
 * on), on their own keep-alive pool per peer: a forwarded download holds its connection for as long
 * as the client takes to read it, so hand-off pages, preload batches, invalidations and job records
 * never queue behind forwarded S3 requests (those go through the Forwarder). Every call carries a
 * hop marker for its purpose (peer-auth.ts), addressed to the peer; calls with a body also sign
 * its SHA-256. Over https:// the peer's certificate is verified against cluster.tls.caFile, and
 * with mutual TLS this node presents its own.
 */
import { createHash } from 'node:crypto';
import { Agent, type Dispatcher } from 'undici';
import type { MemberInfo } from './membership';
import type { PeerTlsOptions } from './node-tls';
import { untilAborted } from '../util/until-aborted';
import { HOP_NONCE_HEADER, type HopPurpose, type HopSigner, type HopVerifier } from './peer-auth';

const CLUSTER_PATH = '/_ringcache/cluster';
export const PAGE_SIGNATURE_HEADER = 'x-ringcache-page-signature';
/** The sender's ring version (epoch) on every request between nodes; answers carry the receiver's as x-ringcache-ring. */
export const EPOCH_HEADER = 'x-ringcache-epoch';
const RING_HEADER = 'x-ringcache-ring';

interface PeerClientOptions {
  signer: HopSigner | undefined;
  verifier: HopVerifier;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  tls: PeerTlsOptions;
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

/** Connections per peer for internal calls. */
export const INTERNAL_CONNECTIONS_PER_PEER = 16;

interface PeerRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path and query as sent. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** The request id the caller logged (passed on in the marker). */
  requestId?: string;
}

export class PeerClient {
  /** Internal calls: hand-off pages, preload batches, invalidations, job records and requests. */
  readonly agent: Agent;

  constructor(private readonly options: PeerClientOptions) {
    // Every call sets its own deadline (a signal, or headers/body timeouts per call).
    this.agent = new Agent({
      connections: INTERNAL_CONNECTIONS_PER_PEER,
      connect: { timeout: options.connectTimeoutMs, ...options.tls },
      headersTimeout: options.headersTimeoutMs,
      keepAliveTimeout: 30_000,
    });
  }

  /** The hop-marker headers of a request to `target` (its body's SHA-256 signed when there is one). */
  markerFor(purpose: HopPurpose, target: MemberInfo, method: string, rawUrl: string, body?: string | Uint8Array, requestId?: string): Record<string, string> {
    if (!this.options.signer) throw new PeerError('cluster.secret is not configured: nodes cannot talk to each other');
    const bodySha256 = body === undefined ? undefined : createHash('sha256').update(body).digest('hex');
    const headers = this.options.signer.headers(purpose, { method, rawUrl, to: target.id, bodySha256, requestId });
    if (this.options.stamp) headers[EPOCH_HEADER] = this.options.stamp();
    return headers;
  }

  /** Tells heardOf about the ring version an answer from `target` carries (forwarded answers too). */
  noteEpoch(target: MemberInfo, headers: Record<string, string | string[] | undefined>): void {
    const value = headers[RING_HEADER];
    const epoch = typeof value === 'string' ? Number(value) : NaN;
    if (Number.isSafeInteger(epoch) && epoch > (this.options.epoch?.() ?? 0)) this.options.heardOf?.(epoch, target);
  }

  /**
   * A call given up as soon as `signal` aborts. undici applies a request's signal only once the
   * request has a connection, so a call queued behind a busy pool would wait past its deadline;
   * a response that still comes after the abort is discarded.
   */
  request(target: MemberInfo, purpose: HopPurpose, request: PeerRequest, signal: AbortSignal, timeoutMs?: number): Promise<Dispatcher.ResponseData> {
    const headers = { ...request.headers, ...this.markerFor(purpose, target, request.method, request.path, request.body, request.requestId) };
    const pending = this.agent.request({
      origin: new URL(target.url).origin,
      method: request.method,
      path: request.path,
      headers,
      body: request.body,
      signal,
      ...(timeoutMs === undefined ? {} : { headersTimeout: timeoutMs, bodyTimeout: timeoutMs }),
    }).then((response) => {
      this.noteEpoch(target, response.headers);
      return response;
    });
    return untilAborted(pending, signal, (late) => late.body.destroy());
  }

  /**
   * POSTs JSON to an internal endpoint and returns the JSON answer; rejects on errors or
   * non-2xx, and when the whole exchange takes longer than `deadlineMs` (default 30 s; the
   * answer may come only after long work, so the pool's headers timeout does not apply).
   */
  async postJson<T>(target: MemberInfo, purpose: HopPurpose, path: string, body: unknown, signal?: AbortSignal, deadlineMs = 30_000): Promise<T> {
    const deadline = AbortSignal.timeout(deadlineMs);
    const response = await this.request(
      target,
      purpose,
      { method: 'POST', path: `${CLUSTER_PATH}${path}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
      signal ? AbortSignal.any([signal, deadline]) : deadline,
      deadlineMs,
    );
    const text = await response.body.text();
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw new PeerError(`${target.id} answered ${response.statusCode} to ${path}: ${text.slice(0, 200)}`, response.statusCode);
    }
    return JSON.parse(text) as T;
  }

  /** GETs JSON from an internal endpoint. */
  async getJson<T>(target: MemberInfo, purpose: HopPurpose, path: string, deadlineMs = 5000): Promise<T> {
    const response = await this.request(target, purpose, { method: 'GET', path: `${CLUSTER_PATH}${path}` }, AbortSignal.timeout(deadlineMs), deadlineMs);
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new PeerError(`${target.id} answered ${response.statusCode} to ${path}: ${text.slice(0, 200)}`, response.statusCode);
    return JSON.parse(text) as T;
  }

  /**
   * A cached page from a peer, or undefined when it does not hold it (or cannot be reached in
   * time, or its answer does not verify: the peer signs the page with the request's nonce, so
   * bytes altered on the way, or an answer to another request, are refused).
   */
  async page(target: MemberInfo, pageKey: string, length: number, timeoutMs: number): Promise<Buffer | undefined> {
    const path = `${CLUSTER_PATH}/page?key=${encodeURIComponent(pageKey)}`;
    const marker = this.markerFor('page', target, 'GET', path);
    const signal = AbortSignal.timeout(timeoutMs);
    const pending = this.agent.request({ origin: new URL(target.url).origin, method: 'GET', path, headers: marker, signal });
    const response = await untilAborted(pending, signal, (late) => late.body.destroy());
    if (response.statusCode !== 200) {
      await response.body.dump();
      return undefined;
    }
    const data = Buffer.from(await response.body.arrayBuffer());
    const signature = response.headers[PAGE_SIGNATURE_HEADER];
    if (data.length !== length) return undefined;
    if (!this.options.verifier.answerMatches('page', marker[HOP_NONCE_HEADER], pageKey, data, typeof signature === 'string' ? signature : undefined)) {
      throw new PeerError(`${target.id} sent a page whose signature does not verify`);
    }
    return data;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
