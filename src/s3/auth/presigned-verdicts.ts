/**
 * Presigned GET and HEAD URLs whose signature verified, remembered by their exact inputs.
 *
 * A presigned URL is a bearer token that is fetched again and again (a page of thumbnails, a data
 * loader's epochs, a CDN's misses, a video player's ranges), and its signature verifies the same
 * way every time: the canonical request is a function of the method, the raw target (which holds
 * the signature) and the signed headers' values, and the signing key of the secret. So a warm hit
 * need not rebuild the canonical request and hash it again. A remembered verdict is used only when
 *  - the method and the raw target are byte for byte the ones verified,
 *  - every signed header has the value it had then (compared as received, before canonicalisation),
 *  - the access key still has the very secret it was verified with (a rotated or removed key
 *    falls through to the full check, which refuses it),
 *  - the URL is inside its validity window now (outside it the full check gives the error).
 * Unsigned x-amz-* headers are still checked on every request by the caller. Only successes are
 * kept, only for GET and HEAD (writes are verified in full every time), and at most `maxEntries`
 * (oldest first out), so a flood of distinct URLs costs a bounded amount of memory.
 */
import { headerValue, type HeaderRecord } from './http-headers';

export interface PresignedVerdict {
  accessKeyId: string;
  secretAccessKey: string;
  /** Lower-case names, in the client's order. */
  signedHeaders: readonly string[];
  /** payload hash of the URL (UNSIGNED-PAYLOAD for nearly all). */
  payloadHash: string;
  /** The first and last instant (ms since the epoch) the URL is accepted at. */
  validFrom: number;
  validUntil: number;
}

interface Entry extends PresignedVerdict {
  /** headerValue() of each signed header when the signature verified. */
  headerValues: (string | undefined)[];
}

const cacheable = (method: string): boolean => method === 'GET' || method === 'HEAD';

export class PresignedVerdicts {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries = 4096) {}

  /** The remembered verdict for exactly this request at `now`, or undefined (verify it in full). */
  find(method: string, rawUrl: string, headers: HeaderRecord, now: number, secretOf: (accessKeyId: string) => string | undefined): PresignedVerdict | undefined {
    if (!cacheable(method)) return undefined;
    const key = `${method} ${rawUrl}`;
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (now > entry.validUntil) {
      this.entries.delete(key);
      return undefined;
    }
    if (now < entry.validFrom) return undefined;
    const { signedHeaders, headerValues } = entry;
    for (let i = 0; i < signedHeaders.length; i++) if (headerValue(headers, signedHeaders[i]) !== headerValues[i]) return undefined;
    if (secretOf(entry.accessKeyId) !== entry.secretAccessKey) return undefined;
    return entry;
  }

  /** Keeps the verdict of a request whose signature has just verified in full. */
  remember(method: string, rawUrl: string, headers: HeaderRecord, verdict: PresignedVerdict): void {
    if (!cacheable(method)) return;
    const key = `${method} ${rawUrl}`;
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { ...verdict, headerValues: verdict.signedHeaders.map((name) => headerValue(headers, name)) });
  }

  get size(): number {
    return this.entries.size;
  }
}
