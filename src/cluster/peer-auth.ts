/**
 * Node-to-node authentication: a request from one node to another carries the sender's id
 * (the hop marker), a timestamp and an HMAC-SHA256 over method, raw URL, sender and time,
 * keyed with the shared cluster secret. A request with a valid marker is served where it
 * lands (never forwarded again); one with a marker that does not verify is refused.
 *
 * The body is not covered: forwarded S3 requests keep the client's own SigV4 signature
 * (payload hash or aws-chunked chunk signatures), which the receiving node verifies again;
 * internal JSON calls are small and travel with the same marker over the same connection.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const HOP_HEADER = 'x-ringcache-hop';
export const HOP_DATE_HEADER = 'x-ringcache-hop-date';
export const HOP_SIGNATURE_HEADER = 'x-ringcache-hop-signature';

/** Clocks of two nodes may differ by this much. */
const MAX_SKEW_MS = 5 * 60_000;

export interface PeerRequest {
  method: string;
  /** Path and query exactly as sent on the wire. */
  rawUrl: string;
}

const mac = (secret: string, request: PeerRequest, from: string, date: string): Buffer =>
  createHmac('sha256', secret).update(`${request.method.toUpperCase()}\n${request.rawUrl}\n${from}\n${date}`).digest();

/** The three headers that mark a request as coming from node `from`. */
export function peerHeaders(secret: string, from: string, request: PeerRequest, now = Date.now()): Record<string, string> {
  const date = String(now);
  return { [HOP_HEADER]: from, [HOP_DATE_HEADER]: date, [HOP_SIGNATURE_HEADER]: mac(secret, request, from, date).toString('hex') };
}

export type PeerCheck = { kind: 'none' } | { kind: 'peer'; from: string } | { kind: 'invalid'; reason: string };

const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? undefined : value);

/** Whether the request carries a hop marker, and whether it verifies. */
export function checkPeer(secret: string | undefined, request: PeerRequest & { headers: IncomingHttpHeaders }, now = Date.now()): PeerCheck {
  const from = request.headers[HOP_HEADER];
  const date = single(request.headers[HOP_DATE_HEADER]);
  const signature = single(request.headers[HOP_SIGNATURE_HEADER]);
  if (from === undefined && date === undefined && signature === undefined) return { kind: 'none' };
  if (secret === undefined) return { kind: 'invalid', reason: 'this node has no cluster secret' };
  if (typeof from !== 'string' || date === undefined || signature === undefined) return { kind: 'invalid', reason: 'incomplete hop marker' };
  const sentAt = Number(date);
  if (!Number.isFinite(sentAt) || Math.abs(now - sentAt) > MAX_SKEW_MS) return { kind: 'invalid', reason: 'hop marker too old or from the future' };
  const expected = mac(secret, request, from, date);
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { kind: 'invalid', reason: 'hop signature does not match' };
  return { kind: 'peer', from };
}
