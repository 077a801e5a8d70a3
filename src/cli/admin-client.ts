/**
 * The one client of a gateway's admin endpoints (/_ringcache/...) for the CLI: requests are
 * SigV4-signed like S3 requests (the payload's SHA-256 covered by the signature), answers are
 * read whole (they are small JSON or text documents), and every failure becomes an
 * AdminRequestError with a one-line message: unreachable gateway, timeout, HTTP error.
 */
import { createHash } from 'node:crypto';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../s3/auth/sha256';
import type { ClientCredentials } from './client-settings';

export class AdminRequestError extends Error {
  override name = 'AdminRequestError';

  constructor(
    /** HTTP status, or 0 when no answer came (unreachable, timeout). */
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface AdminRequest {
  method?: string;
  path: string;
  query?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
}

/** RFC 3986 query encoding, as SigV4 canonicalises it (URLSearchParams would write spaces as "+"). */
const encode = (value: string): string => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export class AdminClient {
  readonly origin: string;
  private readonly url: URL;
  private readonly signer: SignatureV4;

  constructor(
    endpoint: string,
    credentials: ClientCredentials,
    private readonly timeoutMs = 30_000,
  ) {
    this.url = new URL(endpoint);
    this.origin = this.url.origin;
    this.signer = new SignatureV4({ service: 's3', region: credentials.region, credentials, sha256: NodeSha256, uriEscapePath: false });
  }

  /** The answer parsed as JSON. */
  async json<T>(request: AdminRequest): Promise<T> {
    const { status, text } = await this.send(request);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new AdminRequestError(status, 'InvalidResponse', `${request.method ?? 'GET'} ${request.path}: HTTP ${status}, not JSON: ${oneLine(text).slice(0, 200)}`);
    }
  }

  /** The answer as text. */
  async text(request: AdminRequest): Promise<string> {
    return (await this.send(request)).text;
  }

  private async send(request: AdminRequest): Promise<{ status: number; text: string }> {
    const method = request.method ?? 'GET';
    const payload = request.body === undefined ? '' : JSON.stringify(request.body);
    const headers: Record<string, string> = {
      host: this.url.host,
      'x-amz-content-sha256': createHash('sha256').update(payload).digest('hex'),
    };
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    const signed = await this.signer.sign(
      new HttpRequest({
        method,
        protocol: this.url.protocol,
        hostname: this.url.hostname,
        port: this.url.port ? Number(this.url.port) : undefined,
        path: request.path,
        query: request.query,
        headers,
        body: payload,
      }),
    );
    const search = Object.entries(request.query ?? {})
      .map(([k, v]) => `${encode(k)}=${encode(v)}`)
      .join('&');
    const target = `${this.origin}${request.path}${search ? `?${search}` : ''}`;
    let res: Response;
    try {
      res = await fetch(target, { method, headers: signed.headers, body: request.body === undefined ? undefined : payload, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw unreachable(this.origin, err, this.timeoutMs);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw unreachable(this.origin, err, this.timeoutMs);
    }
    if (!res.ok) throw httpError(method, request.path, res.status, text);
    return { status: res.status, text };
  }
}

/** fetch's "TypeError: fetch failed" names the real cause only in `cause`. */
function unreachable(origin: string, err: unknown, timeoutMs: number): AdminRequestError {
  const e = err as Error & { cause?: Error & { code?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return new AdminRequestError(0, 'Timeout', `${origin} did not answer within ${timeoutMs / 1000} s`);
  }
  const cause = e.cause;
  const why = cause?.code ?? cause?.message ?? e.message;
  return new AdminRequestError(0, 'Unreachable', `cannot reach the gateway at ${origin} (${why}): is it running? Set --endpoint or RINGCACHE_ENDPOINT`);
}

/** Admin errors are JSON ({error, message} or {error}); anything else is shown as text. */
function httpError(method: string, path: string, status: number, text: string): AdminRequestError {
  try {
    const { error, message } = JSON.parse(text) as { error?: string; message?: string };
    if (error !== undefined || message !== undefined) {
      const code = error ?? `HTTP ${status}`;
      return new AdminRequestError(status, error ?? 'Error', message ? `${code}: ${oneLine(message)}` : `${method} ${path}: HTTP ${status}: ${oneLine(code)}`);
    }
  } catch {
    // not JSON: below
  }
  return new AdminRequestError(status, 'Error', `${method} ${path}: HTTP ${status}${text ? `: ${oneLine(text).slice(0, 200)}` : ''}`);
}

const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim();
