/**
 * Computing and checking SigV4 signatures.
 *
 * Signing-key derivation (kSecret -> kDate -> kRegion -> kService -> kSigning) is four HMACs; a
 * `SigningKeys` cache keeps each derived key for its (secret, date, region, service), so a
 * request costs one HMAC of its string-to-sign. Comparison is constant-time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { s3Error } from '../errors';
import { SIGV4_TERMINATOR } from './constants';
import { hmacSha256Hex } from './sha256';

export interface Scope {
  /** YYYYMMDD */
  date: string;
  region: string;
  service: string;
}

const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/** The SigV4 signing key of a secret for one scope (four chained HMACs). */
export function deriveSigningKey(secretAccessKey: string, scope: Scope): Buffer {
  const kDate = hmac(`AWS4${secretAccessKey}`, scope.date);
  const kRegion = hmac(kDate, scope.region);
  const kService = hmac(kRegion, scope.service);
  return hmac(kService, SIGV4_TERMINATOR);
}

/**
 * Derived signing keys by (secret, scope). A scope changes once a day per region, so a handful of
 * entries per credential are live; the map is cleared when it reaches its bound (a flood of
 * made-up regions cannot grow it).
 */
export class SigningKeys {
  private readonly keys = new Map<string, Buffer>();

  constructor(private readonly maxEntries = 1024) {}

  get(secretAccessKey: string, scope: Scope): Buffer {
    const id = `${scope.date}\n${scope.region}\n${scope.service}\n${secretAccessKey}`;
    let key = this.keys.get(id);
    if (key === undefined) {
      key = deriveSigningKey(secretAccessKey, scope);
      if (this.keys.size >= this.maxEntries) this.keys.clear();
      this.keys.set(id, key);
    }
    return key;
  }
}

/** The hex signature of a string-to-sign. */
export function signString(signingKey: Uint8Array, stringToSign: string): string {
  return hmacSha256Hex(signingKey, stringToSign);
}

/** Constant-time comparison of a computed (lower-case hex) signature with the one the client sent. */
export function signaturesEqual(computedHex: string, provided: string): boolean {
  const a = Buffer.from(computedHex, 'latin1');
  const b = Buffer.from(provided.toLowerCase(), 'latin1');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Checks a request signature (hex) against the string-to-sign, in constant time. Throws
 * SignatureDoesNotMatch. Hex decoding stops at the first character that is not a hex digit, so
 * anything but 64 hex digits decodes to fewer than 32 bytes and fails.
 */
export function verifySignature(args: { signingKey: Uint8Array; stringToSign: string; signature: string }): void {
  const computed = createHmac('sha256', args.signingKey).update(args.stringToSign, 'utf8').digest();
  const provided = Buffer.from(args.signature, 'hex');
  if (args.signature.length !== 64 || provided.length !== computed.length || !timingSafeEqual(computed, provided)) throw s3Error('SignatureDoesNotMatch');
}
