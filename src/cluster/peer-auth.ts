/**
 * Node-to-node authentication: a request from one node to another carries the sender's id
 * (the hop marker), a timestamp and an HMAC-SHA256 over method, raw URL, sender and time,
 * keyed with the shared cluster secret. A request with a valid marker is served where it
 * lands (never forwarded again); one with a marker that does not verify is refused.
 *
 * Forwarded S3 requests: the body is not in the MAC; the client's own SigV4 signature
 * (payload hash or aws-chunked chunk signatures) covers it, and the receiving node verifies
 * it again.
 *
 * Internal calls with a body (/load, /invalidate) also send the body's SHA-256
 * (`x-ringcache-hop-body-sha256`), which the MAC covers; the receiver checks it against the
 * bytes it read (`bodyMatchesMarker`). The internal endpoints also accept each marker once
 * (`ReplayGuard`), so a captured call can be neither replayed nor replayed with another body.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { LRUCache } from 'lru-cache';

export const HOP_HEADER = 'x-ringcache-hop';
export const HOP_DATE_HEADER = 'x-ringcache-hop-date';
export const HOP_SIGNATURE_HEADER = 'x-ringcache-hop-signature';
export const HOP_BODY_HEADER = 'x-ringcache-hop-body-sha256';

/** Clocks of two nodes may differ by this much. */
export const MAX_SKEW_MS = 5 * 60_000;

export interface PeerRequest {
  method: string;
  /** Path and query exactly as sent on the wire. */
  rawUrl: string;
  /** Hex SHA-256 of the body of an internal call; signed when given. */
  bodySha256?: string;
}

const mac = (secret: string, request: PeerRequest, from: string, date: string): Buffer => {
  // Header values hold no newline, so with and without a body hash the strings cannot collide.
  const body = request.bodySha256 === undefined ? '' : `\n${request.bodySha256}`;
  return createHmac('sha256', secret).update(`${request.method.toUpperCase()}\n${request.rawUrl}\n${from}\n${date}${body}`).digest();
};

/** The headers that mark a request as coming from node `from` (four with a body hash, else three). */
export function peerHeaders(secret: string, from: string, request: PeerRequest, now = Date.now()): Record<string, string> {
  const date = String(now);
  const headers: Record<string, string> = { [HOP_HEADER]: from, [HOP_DATE_HEADER]: date, [HOP_SIGNATURE_HEADER]: mac(secret, request, from, date).toString('hex') };
  if (request.bodySha256 !== undefined) headers[HOP_BODY_HEADER] = request.bodySha256;
  return headers;
}

/** `signature` and `sentAt` identify the marker, for a ReplayGuard. */
export type PeerCheck = { kind: 'none' } | { kind: 'peer'; from: string; signature: string; sentAt: number } | { kind: 'invalid'; reason: string };

const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? undefined : value);

export interface CheckedRequest {
  method: string;
  rawUrl: string;
  headers: IncomingHttpHeaders;
  /**
   * An internal call with a body: the marker must sign the body hash header (whether that
   * hash is the body's is `bodyMatchesMarker`'s question, once the body is read). Otherwise
   * (forwarded S3 requests) that header is not part of the marker.
   */
  signsBody?: boolean;
}

/** Whether the request carries a hop marker, and whether it verifies. */
export function checkPeer(secret: string | undefined, request: CheckedRequest, now = Date.now()): PeerCheck {
  const from = request.headers[HOP_HEADER];
  const date = single(request.headers[HOP_DATE_HEADER]);
  const signature = single(request.headers[HOP_SIGNATURE_HEADER]);
  if (from === undefined && date === undefined && signature === undefined) return { kind: 'none' };
  if (secret === undefined) return { kind: 'invalid', reason: 'this node has no cluster secret' };
  if (typeof from !== 'string' || date === undefined || signature === undefined) return { kind: 'invalid', reason: 'incomplete hop marker' };
  const bodySha256 = request.signsBody ? single(request.headers[HOP_BODY_HEADER]) : undefined;
  if (request.signsBody && bodySha256 === undefined) return { kind: 'invalid', reason: 'no body hash in the hop marker' };
  const sentAt = Number(date);
  if (!Number.isFinite(sentAt) || Math.abs(now - sentAt) > MAX_SKEW_MS) return { kind: 'invalid', reason: 'hop marker too old or from the future' };
  const expected = mac(secret, { method: request.method, rawUrl: request.rawUrl, bodySha256 }, from, date);
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { kind: 'invalid', reason: 'hop signature does not match' };
  return { kind: 'peer', from, signature: expected.toString('hex'), sentAt };
}

/** Whether the request's body hash header (signed: checkPeer with `signsBody`) is the hash of `body`. */
export function bodyMatchesMarker(headers: IncomingHttpHeaders, body: Uint8Array): boolean {
  const claimed = single(headers[HOP_BODY_HEADER]);
  if (claimed === undefined || !/^[0-9a-f]{64}$/.test(claimed)) return false;
  return timingSafeEqual(Buffer.from(claimed, 'hex'), createHash('sha256').update(body).digest());
}

/**
 * The markers already accepted, until they are too old to verify anyway (`MAX_SKEW_MS`
 * after their date). Bounded: past `max` markers in the window, the oldest are forgotten
 * and could be replayed; the default holds about 330 internal calls a second.
 */
export class ReplayGuard {
  private readonly seen: LRUCache<string, true>;

  constructor(
    max = 200_000,
    private readonly now: () => number = Date.now,
  ) {
    this.seen = new LRUCache<string, true>({ max, ttl: 2 * MAX_SKEW_MS, ttlResolution: 0, perf: { now } });
  }

  /** Whether the marker was accepted before (without accepting it). */
  has(check: { signature: string }): boolean {
    return this.seen.has(check.signature);
  }

  /** Accepts a marker once: false when it was accepted before. */
  claim(check: { signature: string; sentAt: number }): boolean {
    if (this.seen.has(check.signature)) return false;
    // Remembered until the marker can no longer verify (its date + the skew), at least 1 s.
    this.seen.set(check.signature, true, { ttl: Math.max(1000, check.sentAt + MAX_SKEW_MS - this.now() + 1000) });
    return true;
  }
}
