/**
 * Node-to-node authentication: every request one node sends another carries a hop marker,
 *
 *   x-ringcache-hop             sender id
 *   x-ringcache-hop-to          receiver id
 *   x-ringcache-hop-date        sender's clock, ms
 *   x-ringcache-hop-nonce       <boot>.<seq>: a random id of the sending process and a counter
 *   x-ringcache-hop-request-id  the request id the sender logged (forwarded S3 requests)
 *   x-ringcache-hop-body-sha256 the body's SHA-256 (internal calls with a body)
 *   x-ringcache-hop-signature   HMAC-SHA256 over all of the above, method and raw URL
 *
 * keyed with a key derived from `cluster.secret` for one **purpose** (forwarding an S3 request,
 * fetching a page, a preload batch, an invalidation, a job record, a bucket change): a marker
 * made for one purpose opens nothing else, and one made for one receiver is refused by every
 * other. Each receiver accepts each nonce once within the ±5 min the date allows
 * (`ReplayWindows`: per sending process, a sliding window of counters, the way IPsec refuses
 * replays; memory bounded by the number of sending processes, not by the request rate), so a
 * captured request can be neither replayed nor sent to another node.
 *
 * A request with a valid marker is served where it lands (never forwarded again); one with a
 * marker that does not verify is refused. Forwarded S3 requests do not sign their body: the
 * client's own SigV4 signature (payload hash or aws-chunked chunk signatures) covers it, and the
 * owner verifies it again. Internal calls with a body sign its SHA-256, which the receiver checks
 * against the bytes it read (`bodyMatchesMarker`).
 *
 * Answers can be signed too (`answerSignature`): a page handed off by a peer carries an HMAC
 * over the request's nonce, the page key and the page's SHA-256, so the receiver knows the bytes
 * are the ones a cluster node sent for this very request.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { LRUCache } from 'lru-cache';

export const HOP_HEADER = 'x-ringcache-hop';
const HOP_TO_HEADER = 'x-ringcache-hop-to';
const HOP_DATE_HEADER = 'x-ringcache-hop-date';
export const HOP_NONCE_HEADER = 'x-ringcache-hop-nonce';
export const HOP_REQUEST_ID_HEADER = 'x-ringcache-hop-request-id';
const HOP_SIGNATURE_HEADER = 'x-ringcache-hop-signature';
const HOP_BODY_HEADER = 'x-ringcache-hop-body-sha256';

/** Every header of the marker: never passed on by the forwarder, never part of a client's request. */
export const HOP_HEADERS: readonly string[] = [HOP_HEADER, HOP_TO_HEADER, HOP_DATE_HEADER, HOP_NONCE_HEADER, HOP_REQUEST_ID_HEADER, HOP_SIGNATURE_HEADER, HOP_BODY_HEADER];

/** Clocks of two nodes may differ by this much. */
export const MAX_SKEW_MS = 5 * 60_000;

/** What a marker allows; each has its own key. */
export type HopPurpose = 'forward' | 'page' | 'load' | 'invalidate' | 'jobs' | 'buckets' | 'job-ask' | 'agreement';

interface HopRequest {
  method: string;
  /** Path and query exactly as sent on the wire. */
  rawUrl: string;
  /** The receiving node's id. */
  to: string;
  /** Hex SHA-256 of the body of an internal call; signed when given. */
  bodySha256?: string;
  /** The sender's request id (forwarded S3 requests): the receiver answers and logs under it. */
  requestId?: string;
}

interface Marker extends HopRequest {
  from: string;
  date: string;
  nonce: string;
}

/** The key of one purpose, derived from the cluster secret. */
function purposeKey(secret: string, purpose: HopPurpose): Buffer {
  return createHmac('sha256', secret).update(`ringcache hop key v2: ${purpose}`).digest();
}

/** Header values hold no newline: the fields cannot run into each other. */
function mac(key: Buffer, purpose: HopPurpose, m: Marker): Buffer {
  return createHmac('sha256', key)
    .update(`ringcache-hop-v2\n${purpose}\n${m.method.toUpperCase()}\n${m.rawUrl}\n${m.from}\n${m.to}\n${m.date}\n${m.nonce}\n${m.requestId ?? ''}\n${m.bodySha256 ?? ''}`)
    .digest();
}

const NONCE = /^([0-9a-f]{16})\.(\d{1,15})$/;

/** Makes the markers of the requests this node sends. */
export class HopSigner {
  /** This process: new at every start, so counters never repeat under one boot id. */
  readonly boot = randomBytes(8).toString('hex');
  private seq = 0;
  private readonly keys = new Map<HopPurpose, Buffer>();

  constructor(
    private readonly selfId: string,
    private readonly secret: string,
    private readonly now: () => number = Date.now,
  ) {}

  headers(purpose: HopPurpose, request: HopRequest): Record<string, string> {
    const marker: Marker = { ...request, from: this.selfId, date: String(this.now()), nonce: `${this.boot}.${++this.seq}` };
    const headers: Record<string, string> = {
      [HOP_HEADER]: marker.from,
      [HOP_TO_HEADER]: marker.to,
      [HOP_DATE_HEADER]: marker.date,
      [HOP_NONCE_HEADER]: marker.nonce,
      [HOP_SIGNATURE_HEADER]: mac(this.key(purpose), purpose, marker).toString('hex'),
    };
    if (request.bodySha256 !== undefined) headers[HOP_BODY_HEADER] = request.bodySha256;
    if (request.requestId !== undefined) headers[HOP_REQUEST_ID_HEADER] = request.requestId;
    return headers;
  }

  /** Signs an answer to a request whose nonce was `nonce` (the receiver checks it with `HopVerifier.answerMatches`). */
  answerSignature(purpose: HopPurpose, nonce: string, subject: string, body: Uint8Array): string {
    return answerMac(this.key(purpose), nonce, subject, body).toString('hex');
  }

  key(purpose: HopPurpose): Buffer {
    let key = this.keys.get(purpose);
    if (!key) this.keys.set(purpose, (key = purposeKey(this.secret, purpose)));
    return key;
  }
}

function answerMac(key: Buffer, nonce: string, subject: string, body: Uint8Array): Buffer {
  return createHmac('sha256', key).update(`ringcache-answer-v2\n${nonce}\n${subject}\n`).update(createHash('sha256').update(body).digest()).digest();
}

/** A verified marker; `nonce` is accepted once (`HopVerifier.accept`). */
export interface PeerMarker {
  kind: 'peer';
  from: string;
  nonce: string;
  requestId: string | undefined;
  sentAt: number;
}

type PeerCheck = { kind: 'none' } | PeerMarker | { kind: 'invalid'; reason: string };

interface CheckedRequest {
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

const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? undefined : value);

/** Whether a request carries any part of a hop marker. */
export const hasHopMarker = (headers: IncomingHttpHeaders): boolean =>
  headers[HOP_HEADER] !== undefined || headers[HOP_SIGNATURE_HEADER] !== undefined || headers[HOP_DATE_HEADER] !== undefined || headers[HOP_NONCE_HEADER] !== undefined;

/** Checks the markers of requests this node receives. */
export class HopVerifier {
  private readonly keys = new Map<HopPurpose, Buffer>();
  readonly replays: ReplayWindows;

  constructor(
    private readonly selfId: string,
    private readonly secret: string | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.replays = new ReplayWindows(now);
  }

  /** Whether the request carries a marker for `purpose` addressed to this node, and whether it verifies (its nonce is not consumed). */
  check(purpose: HopPurpose, request: CheckedRequest): PeerCheck {
    const { headers } = request;
    if (!hasHopMarker(headers)) return { kind: 'none' };
    if (this.secret === undefined) return { kind: 'invalid', reason: 'this node has no cluster secret' };
    const from = single(headers[HOP_HEADER]);
    const to = single(headers[HOP_TO_HEADER]);
    const date = single(headers[HOP_DATE_HEADER]);
    const nonce = single(headers[HOP_NONCE_HEADER]);
    const signature = single(headers[HOP_SIGNATURE_HEADER]);
    const requestId = single(headers[HOP_REQUEST_ID_HEADER]);
    if (from === undefined || to === undefined || date === undefined || nonce === undefined || signature === undefined) return { kind: 'invalid', reason: 'incomplete hop marker' };
    const bodySha256 = request.signsBody ? single(headers[HOP_BODY_HEADER]) : undefined;
    if (request.signsBody && bodySha256 === undefined) return { kind: 'invalid', reason: 'no body hash in the hop marker' };
    if (to !== this.selfId) return { kind: 'invalid', reason: `hop marker addressed to ${to}, not to this node` };
    const sentAt = Number(date);
    if (!/^\d{1,16}$/.test(date) || Math.abs(this.now() - sentAt) > MAX_SKEW_MS) return { kind: 'invalid', reason: 'hop marker too old or from the future' };
    if (!NONCE.test(nonce)) return { kind: 'invalid', reason: 'malformed hop nonce' };
    let key = this.keys.get(purpose);
    if (!key) this.keys.set(purpose, (key = purposeKey(this.secret, purpose)));
    const expected = mac(key, purpose, { method: request.method, rawUrl: request.rawUrl, from, to, date, nonce, requestId, bodySha256 });
    const given = Buffer.from(signature, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { kind: 'invalid', reason: `hop signature does not match (or was not made for ${purpose})` };
    if (this.replays.seen(nonce, sentAt)) return { kind: 'invalid', reason: 'hop marker already used' };
    return { kind: 'peer', from, nonce, requestId, sentAt };
  }

  /** Accepts a verified marker's nonce once: false when it was accepted before (a replay). */
  accept(marker: PeerMarker): boolean {
    return this.replays.accept(marker.nonce, marker.sentAt);
  }

  /** check() then accept(): a request served as soon as its marker verifies. */
  verify(purpose: HopPurpose, request: CheckedRequest): PeerCheck {
    const check = this.check(purpose, request);
    if (check.kind === 'peer' && !this.accept(check)) return { kind: 'invalid', reason: 'hop marker already used' };
    return check;
  }

  /** Whether `signature` is a peer's answer to the request of `nonce` about `subject` with `body`. */
  answerMatches(purpose: HopPurpose, nonce: string, subject: string, body: Uint8Array, signature: string | undefined): boolean {
    if (this.secret === undefined || signature === undefined || !/^[0-9a-f]{64}$/.test(signature)) return false;
    let key = this.keys.get(purpose);
    if (!key) this.keys.set(purpose, (key = purposeKey(this.secret, purpose)));
    return timingSafeEqual(Buffer.from(signature, 'hex'), answerMac(key, nonce, subject, body));
  }
}

/** Whether the request's body hash header (signed: check with `signsBody`) is the hash of `body`. */
export function bodyMatchesMarker(headers: IncomingHttpHeaders, body: Uint8Array): boolean {
  const claimed = single(headers[HOP_BODY_HEADER]);
  if (claimed === undefined || !/^[0-9a-f]{64}$/.test(claimed)) return false;
  return timingSafeEqual(Buffer.from(claimed, 'hex'), createHash('sha256').update(body).digest());
}

/** Counters of one sending process that may still arrive out of order. */
export const WINDOW = 16_384;

interface Window {
  /** Highest counter accepted. */
  top: number;
  /** Bit (seq % WINDOW) set: seq accepted, for seq in (top - WINDOW, top]. */
  bits: Uint32Array;
}

/**
 * The nonces accepted, per sending process (boot id): the highest counter and a bitmap of the
 * WINDOW counters below it. A counter already set, or older than the window, is refused. A
 * window is dropped once no marker of its process could still verify (MAX_SKEW_MS after its
 * last use). At most `maxProcesses` windows: past that (thousands of processes within minutes:
 * an attack, not a cluster) the least recently used are dropped, and from then on a marker from
 * an unknown process must be dated after the last drop, so a dropped window's markers stay refused.
 */
export class ReplayWindows {
  private readonly windows: LRUCache<string, Window>;
  /** Markers of processes without a window must be dated after this (the last eviction). */
  private floor = 0;

  constructor(
    private readonly now: () => number = Date.now,
    maxProcesses = 4096,
  ) {
    this.windows = new LRUCache<string, Window>({
      max: maxProcesses,
      ttl: 2 * MAX_SKEW_MS + 60_000,
      updateAgeOnGet: true,
      ttlAutopurge: false,
      perf: { now },
      dispose: (_window, _boot, reason) => {
        if (reason === 'evict') this.floor = this.now();
      },
    });
  }

  /** Whether the nonce was accepted before (or can no longer be told apart from a replay). */
  seen(nonce: string, sentAt: number): boolean {
    const parsed = NONCE.exec(nonce);
    if (!parsed) return true;
    const seq = Number(parsed[2]);
    const window = this.windows.get(parsed[1]);
    if (!window) return sentAt <= this.floor;
    if (seq > window.top) return false;
    if (window.top - seq >= WINDOW) return true;
    return (window.bits[(seq % WINDOW) >>> 5] & (1 << (seq & 31))) !== 0;
  }

  /** Accepts a nonce once: false for a replay (or a counter too far behind its process's newest). */
  accept(nonce: string, sentAt: number): boolean {
    if (this.seen(nonce, sentAt)) return false;
    const [, boot, seqText] = NONCE.exec(nonce) as RegExpExecArray;
    const seq = Number(seqText);
    let window = this.windows.get(boot);
    if (!window) {
      window = { top: seq, bits: new Uint32Array(WINDOW / 32) };
      this.windows.set(boot, window);
    } else if (seq > window.top) {
      // Slide: the counters between the old top and the new one were never seen.
      if (seq - window.top >= WINDOW) window.bits.fill(0);
      else for (let s = window.top + 1; s < seq; s++) window.bits[(s % WINDOW) >>> 5] &= ~(1 << (s & 31));
      window.top = seq;
    }
    window.bits[(seq % WINDOW) >>> 5] |= 1 << (seq & 31);
    return true;
  }

  /** Sending processes tracked (tests, metrics). */
  get size(): number {
    return this.windows.size;
  }
}
