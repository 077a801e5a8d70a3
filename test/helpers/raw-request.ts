/**
 * Signed requests with an exact request target (no URL normalisation: "%2e%2e" and ".."
 * reach the server as written), over node:http. For the cases a high-level client cannot
 * express: traversal keys, malformed bodies, killed uploads.
 */
import http from 'node:http';
import https from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { NodeSha256 } from '../../src/s3/auth/sha256';
import { ADMIN } from './gateway';
import { escapeUri } from './sigv4';

export interface RawRequestOptions {
  method: string;
  /** Path as sent, already encoded, e.g. "/bucket/%2e%2e/x". */
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  signingDate?: Date;
  /** For https:// URLs: the CA that signed the server's certificate (and a client certificate, if any). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  /** Sends the request unsigned (headers as given, plus host). */
  unsigned?: boolean;
  /** The agent to send it with (default: Node's global agent of the protocol). */
  agent?: http.Agent;
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** For https:// URLs: whether the connection resumed an earlier TLS session. */
  tlsSessionReused?: boolean;
}

function canonicalPath(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => {
      try {
        return escapeUri(decodeURIComponent(segment));
      } catch {
        return segment;
      }
    })
    .join('/');
}

export async function signRequest(url: string, opts: RawRequestOptions): Promise<{ path: string; headers: Record<string, string> }> {
  const { hostname, port, host, protocol } = new URL(url);
  const body = opts.body ?? '';
  const signer = new SignatureV4({
    service: 's3',
    region: 'us-east-1',
    credentials: opts.credentials ?? ADMIN,
    sha256: NodeSha256,
    uriEscapePath: false,
  });
  const request = new HttpRequest({
    method: opts.method,
    protocol,
    hostname,
    port: Number(port),
    // Sign the canonical path (each segment decoded once, re-encoded the AWS way), as a real
    // client would; the request itself goes out with the path exactly as written.
    path: canonicalPath(opts.path),
    query: opts.query ?? {},
    headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...opts.headers },
    body,
  });
  const signed = await signer.sign(request, { signingDate: opts.signingDate });
  const search = new URLSearchParams(opts.query ?? {}).toString().replace(/\+/g, '%20');
  return { path: opts.path + (search ? `?${search}` : ''), headers: signed.headers };
}

export async function rawRequest(url: string, opts: RawRequestOptions): Promise<RawResponse> {
  const { hostname, port, protocol, host } = new URL(url);
  const { path, headers } = opts.unsigned
    ? { path: opts.path + (opts.query ? `?${new URLSearchParams(opts.query).toString().replace(/\+/g, '%20')}` : ''), headers: { host, ...opts.headers } }
    : await signRequest(url, opts);
  const client = protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request({ host: hostname, port, method: opts.method, path, headers, ...opts.tls, ...(opts.agent ? { agent: opts.agent } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      const socket = res.socket as Partial<import('node:tls').TLSSocket>;
      const tlsSessionReused = typeof socket.isSessionReused === 'function' ? socket.isSessionReused() : undefined;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), tlsSessionReused }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body ?? '');
  });
}
