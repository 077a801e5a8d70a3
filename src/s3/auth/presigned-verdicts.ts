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
  /** Its key in the age order. */
  orderKey: string;
}

export class PresignedVerdicts {
  /** By method, then raw target (no key string built per request). */
  private readonly byMethod = new Map<string, Map<string, Entry>>([
    ['GET', new Map()],
    ['HEAD', new Map()],
  ]);
  /** Remembered targets, oldest first, across methods: [method, rawUrl]. */
  private readonly order = new Map<string, [string, string]>();

  constructor(private readonly maxEntries = 4096) {}

  /** The remembered verdict for exactly this request at `now`, or undefined (verify it in full). */
  find(method: string, rawUrl: string, headers: HeaderRecord, now: number, secretOf: (accessKeyId: string) => string | undefined): PresignedVerdict | undefined {
    const entries = this.byMethod.get(method);
    const entry = entries?.get(rawUrl);
    if (entries === undefined || entry === undefined) return undefined;
    if (now > entry.validUntil) {
      entries.delete(rawUrl);
      this.order.delete(entry.orderKey);
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
    const entries = this.byMethod.get(method);
    if (entries === undefined) return;
    const orderKey = `${method} ${rawUrl}`;
    if (!entries.has(rawUrl) && this.order.size >= this.maxEntries) {
      const oldest = this.order.entries().next();
      if (!oldest.done) {
        const [key, [oldMethod, oldUrl]] = oldest.value;
        this.order.delete(key);
        this.byMethod.get(oldMethod)?.delete(oldUrl);
      }
    }
    entries.set(rawUrl, { ...verdict, orderKey, headerValues: verdict.signedHeaders.map((name) => headerValue(headers, name)) });
    this.order.set(orderKey, [method, rawUrl]);
  }

  get size(): number {
    return this.order.size;
  }
}
