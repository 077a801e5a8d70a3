/**
 * Forwards an S3 request to the node that owns its key, byte-faithfully, and answers the client
 * with the owner's answer.
 *
 * - **Signed headers arrive as signed.** The request goes out with node:http, which sends the
 *   headers it is given: every header of the client's request (Host and the SigV4 Authorization
 *   included, duplicates kept, `Content-Length: 0` on a GET/HEAD/DELETE, `Expect`) except the
 *   connection-level ones no signer covers (Connection, Keep-Alive, TE, Trailer, Upgrade,
 *   Proxy-*). The owner verifies the very same signature. (undici drops `Content-Length: 0` on
 *   bodiless methods and refuses `Expect`.)
 * - **The client's body is not touched until the owner is known to be there.** A request with a
 *   body goes out with `Expect: 100-continue` (the client's, or added: an unsigned header does not
 *   change a signature) and its body flows only after the owner's `100 Continue`. Any failure
 *   before that (refused, reset, no interim answer in time) leaves the body unread, so the router
 *   can send the request to the next owner or serve it here, whatever its size: nothing is
 *   buffered, nothing is lost, and no other node is blamed for a body that is gone.
 * - **A wedged owner costs seconds.** Connecting is bounded (`connectTimeoutMs`), and so is the
 *   owner's first byte (`firstByteTimeoutMs`): a live owner answers at once with an interim
 *   response (100 Continue before a body; 102 Processing otherwise, sent by `Forwarder.acknowledge`). An
 *   owner that accepts connections but answers nothing (stalled, blackholed) is marked suspect.
 *   The final answer's headers may take up to `headersTimeoutMs` (the owner's store may be slow).
 * - **The answer goes through `reply.send(stream)`**: an owner whose body fails before its first
 *   byte becomes a 503 XML error (fastify runs the error handler), one that fails later cuts the
 *   response (the client sees a failure, never a short object).
 * - The request id travels in the hop marker; the owner answers and logs under the same id.
 *
 * Requests to one peer in flight at once are bounded (`connectionsPerPeer`); each gets its hop
 * marker when it leaves (so its nonce reaches the owner in order with the others).
 */
import { Readable } from 'node:stream';
import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import https from 'node:https';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { s3Error } from '../s3/errors';
import { Semaphore } from '../util/semaphore';
import type { MemberInfo } from './membership';
import type { PeerTlsOptions } from './node-tls';
import { HOP_HEADERS, type HopSigner } from './peer-auth';
import { EPOCH_HEADER } from './peer-client';

/** Connection-level request headers (RFC 9110, 7.6.1) and the hop marker: never passed on. */
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'upgrade', ...HOP_HEADERS]);
/** Answer headers the forwarding node sets itself, or that belong to one connection. */
const NOT_RETURNED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'x-amz-request-id', 'x-amz-id-2', 'x-ringcache-ring', 'date']);

interface ForwarderOptions {
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  headersTimeoutMs: number;
  connectionsPerPeer: number;
  tls: PeerTlsOptions;
  /** This node's ring version, sent with every forwarded request (x-ringcache-epoch; the owner admits it or answers 503). */
  stamp?: () => string;
  /** The owner's answer headers arrived (they carry its ring version, x-ringcache-ring). */
  answered?: (owner: MemberInfo, headers: IncomingHttpHeaders) => void;
}

/**
 * - answered: the owner's answer is (being) sent to the client;
 * - unreachable: the owner did not take the request (nothing of it can have run there, the
 *   client's body is unread): the caller may send it elsewhere. `suspect` says whether the owner
 *   is to blame (it refused, timed out, stalled) rather than, say, a pooled connection it had
 *   closed.
 */
type ForwardOutcome = { kind: 'answered' } | { kind: 'unreachable'; suspect: boolean; reason: string };

/** Why an attempt failed before the owner answered anything. */
class HopFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The owner is to blame: refused, stalled, reset a fresh connection. */
    readonly suspect: boolean,
    /** Something of the request may have run on the owner (its body was sent, or it acknowledged it). */
    readonly started: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Errors of a connection to a node that is not there (or not reachable). */
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'ETIMEDOUT']);

interface Peer {
  agent: http.Agent;
  slots: Semaphore;
  url: URL;
}

export class Forwarder {
  private readonly peers = new Map<string, Peer>();

  constructor(
    private readonly signer: HopSigner | undefined,
    private readonly options: ForwarderOptions,
  ) {}

  async forward(request: FastifyRequest, reply: FastifyReply, target: MemberInfo, signal: AbortSignal): Promise<ForwardOutcome> {
    if (!this.signer) throw s3Error('InternalError', 'cluster.secret is not configured: this node cannot forward requests');
    const peer = this.peer(target);
    const release = await peer.slots.acquire(signal);
    let response: IncomingMessage;
    try {
      response = await this.send(request, target, peer, signal).catch(async (err: unknown) => {
        // A pooled connection the owner had already closed: once more on a fresh one.
        if (err instanceof HopFailure && err.code === 'ERETRY' && !signal.aborted) return this.send(request, target, peer, signal);
        throw err;
      });
    } catch (err) {
      release();
      if (signal.aborted) throw err;
      if (err instanceof HopFailure && !err.started) return { kind: 'unreachable', suspect: err.suspect, reason: err.message };
      const code = err instanceof HopFailure ? err.code : ((err as { code?: string }).code ?? (err as Error).message);
      // The owner had the request (or part of its body): it may have run, so it is not sent elsewhere.
      throw s3Error('ServiceUnavailable', `The node that owns this key did not complete the request (${code}); retry.`, err);
    }
    response.once('close', release);
    await this.answer(request, reply, response);
    return { kind: 'answered' };
  }

  /** Interim answer of an owner to a forwarded request without a body: "alive, working on it". */
  static acknowledge(reply: FastifyReply): void {
    if (!reply.raw.headersSent && !reply.raw.writableEnded) reply.raw.writeProcessing();
  }

  async close(): Promise<void> {
    for (const peer of this.peers.values()) peer.agent.destroy();
    this.peers.clear();
  }

  private peer(target: MemberInfo): Peer {
    let peer = this.peers.get(target.url);
    if (!peer) {
      const url = new URL(target.url);
      const settings = { keepAlive: true, keepAliveMsecs: 30_000, maxSockets: Infinity, scheduling: 'lifo' as const };
      const agent = url.protocol === 'https:' ? new https.Agent({ ...settings, ...this.options.tls }) : new http.Agent(settings);
      peer = { agent, slots: new Semaphore(this.options.connectionsPerPeer), url };
      this.peers.set(target.url, peer);
    }
    return peer;
  }

  /** One attempt: resolves with the owner's answer (its headers), or rejects with a HopFailure before any. */
  private send(request: FastifyRequest, target: MemberInfo, peer: Peer, signal: AbortSignal): Promise<IncomingMessage> {
    const raw = request.raw;
    const rawUrl = raw.url ?? '/';
    const hasBody = raw.headers['transfer-encoding'] !== undefined || (raw.headers['content-length'] !== undefined && raw.headers['content-length'] !== '0');
    const headers = clientHeaders(raw.rawHeaders);
    if (hasBody && raw.headers.expect === undefined) headers['Expect'] = '100-continue';
    const marker = (this.signer as HopSigner).headers('forward', { method: raw.method ?? 'GET', rawUrl, to: target.id, requestId: String(request.id) });
    Object.assign(headers, marker);
    if (this.options.stamp) headers[EPOCH_HEADER] = this.options.stamp();
    const { connectTimeoutMs, firstByteTimeoutMs, headersTimeoutMs } = this.options;
    const client = (peer.url.protocol === 'https:' ? https : http).request({
      protocol: peer.url.protocol,
      host: peer.url.hostname.replace(/^\[|\]$/g, ''),
      port: peer.url.port || (peer.url.protocol === 'https:' ? 443 : 80),
      servername: peer.url.protocol === 'https:' && isIP(peer.url.hostname.replace(/^\[|\]$/g, '')) === 0 ? peer.url.hostname : undefined,
      method: raw.method,
      path: rawUrl,
      headers,
      setHost: false,
      agent: peer.agent,
    });

    return new Promise<IncomingMessage>((resolve, reject) => {
      let acknowledged = false;
      let bodyStarted = false;
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const clear = (): void => {
        for (const t of timers) clearTimeout(t);
        signal.removeEventListener('abort', onAbort);
      };
      const fail = (failure: HopFailure): void => {
        if (settled) return;
        settled = true;
        clear();
        stopBody();
        client.destroy(failure);
        reject(failure);
      };
      const onAbort = (): void => {
        if (settled) return;
        settled = true;
        clear();
        stopBody();
        client.destroy();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });

      const onBodyError = (): void => fail(new HopFailure('EBODY', 'the client body failed', false, true));
      const stopBody = (): void => {
        raw.unpipe(client);
        raw.off('error', onBodyError);
      };
      const startBody = (): void => {
        if (bodyStarted || settled) return;
        bodyStarted = true;
        raw.once('error', onBodyError);
        raw.pipe(client);
      };

      timers.push(
        setTimeout(() => fail(new HopFailure('EFIRSTBYTE', `no interim answer within ${firstByteTimeoutMs} ms: the owner is stalled`, true, bodyStarted)), firstByteTimeoutMs),
        setTimeout(() => fail(new HopFailure('EHEADERS', `no answer within ${headersTimeoutMs} ms`, false, true)), headersTimeoutMs),
      );
      client.once('socket', (socket) => {
        const connecting = (socket as { connecting?: boolean }).connecting === true;
        if (!connecting) return;
        const timer = setTimeout(() => fail(new HopFailure('ECONNECTTIMEOUT', `no connection within ${connectTimeoutMs} ms`, true, false)), connectTimeoutMs);
        timers.push(timer);
        socket.once(peer.url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(timer));
      });
      const firstByte = (): void => {
        if (acknowledged) return;
        acknowledged = true;
        clearTimeout(timers[0]);
      };
      client.on('information', firstByte);
      client.once('continue', () => {
        firstByte();
        startBody();
      });
      client.once('response', (response) => {
        if (settled) {
          response.destroy();
          return;
        }
        settled = true;
        clear();
        // An early final answer (the owner refused the upload before reading it): the body is
        // not sent; this connection cannot be reused with a half-sent request.
        if (hasBody && !bodyStarted) response.once('end', () => client.destroy());
        this.options.answered?.(target, response.headers);
        resolve(response);
      });
      client.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        const code = err.code ?? 'ERROR';
        const reused = client.reusedSocket;
        if (!acknowledged && !bodyStarted && reused && (code === 'ECONNRESET' || code === 'EPIPE')) {
          fail(new HopFailure('ERETRY', 'a pooled connection was closed by the owner', false, false, { cause: err }));
          return;
        }
        const refused = CONNECT_FAILURES.has(code) || code.startsWith('ERR_TLS') || code.startsWith('CERT_') || code.includes('SSL');
        // A reset before any answer: the owner is gone (reset a fresh connection) or dying.
        const gone = refused || code === 'ECONNRESET' || code === 'EPIPE';
        fail(new HopFailure(code, err.message, gone, acknowledged || bodyStarted, { cause: err }));
      });
      if (!hasBody) client.end();
      else client.flushHeaders();
    });
  }

  /** Sends the owner's answer to the client through fastify (its stream handling, its error handler); resolves once sent. */
  private async answer(request: FastifyRequest, reply: FastifyReply, response: IncomingMessage): Promise<void> {
    reply.code(response.statusCode ?? 502);
    const returned: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined && !NOT_RETURNED.has(name)) returned[name] = value;
    }
    reply.headers(returned);
    const bodiless = request.method === 'HEAD' || response.statusCode === 204 || response.statusCode === 304;
    if (bodiless) {
      response.resume();
      await reply.send();
      return;
    }
    await reply.send(ownerBody(response, this.options.headersTimeoutMs));
  }
}

/** The client's headers as they came (names as sent, repeated headers kept), minus those of one connection. */
function clientHeaders(rawHeaders: string[]): OutgoingHttpHeaders {
  const byName = new Map<string, { name: string; values: string[] }>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const lower = rawHeaders[i].toLowerCase();
    if (NOT_FORWARDED.has(lower)) continue;
    const entry = byName.get(lower);
    if (entry) entry.values.push(rawHeaders[i + 1]);
    else byName.set(lower, { name: rawHeaders[i], values: [rawHeaders[i + 1]] });
  }
  const headers: OutgoingHttpHeaders = {};
  for (const { name, values } of byName.values()) headers[name] = values.length === 1 ? values[0] : values;
  return headers;
}

/**
 * The owner's body; a failure of it is a 503 for the client (as an S3 error, rendered if nothing
 * was sent yet). An owner that sends nothing for `idleMs` while the client waits for bytes (it
 * stalled mid-body) fails it too; a client that reads slowly never does.
 */
function ownerBody(response: IncomingMessage, idleMs: number): Readable {
  let idle: NodeJS.Timeout | undefined;
  const body = new Readable({
    read() {
      idle ??= setTimeout(() => failed(Object.assign(new Error(`the owner sent nothing for ${idleMs} ms`), { code: 'EOWNERIDLE' })), idleMs);
      response.resume();
    },
    destroy(err, callback) {
      clearTimeout(idle);
      response.destroy();
      callback(err);
    },
  });
  response.on('data', (chunk: Buffer) => {
    clearTimeout(idle);
    idle = undefined;
    if (!body.push(chunk)) response.pause();
  });
  response.once('end', () => {
    clearTimeout(idle);
    body.push(null);
  });
  const failed = (err?: Error): void => {
    if (!body.destroyed) body.destroy(s3Error('ServiceUnavailable', 'The node that owns this key failed while sending the object; retry.', err));
  };
  response.once('error', failed);
  response.once('aborted', () => failed());
  response.once('close', () => {
    if (!response.complete) failed();
  });
  return body;
}
