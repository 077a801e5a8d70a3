/**
 * Computing and checking SigV4 signatures.
 *
 * Signing-key derivation (kSecret -> kDate -> kRegion -> kService -> kSigning) is the library's
 * `getSigningKey`, which also caches recent keys; the final HMAC of the string-to-sign is one
 * node:crypto HMAC with that key, and comparison is constant-time.
 */
import { timingSafeEqual } from 'node:crypto';
import { getSigningKey } from '@smithy/signature-v4';
import { s3Error } from '../errors';
import { hmacSha256Hex, NodeSha256 } from './sha256';

export interface Scope {
  /** YYYYMMDD */
  date: string;
  region: string;
  service: string;
}

export function deriveSigningKey(secretAccessKey: string, scope: Scope): Promise<Uint8Array> {
  // getSigningKey uses the access key id only in its cache key (together with the secret's HMAC).
  return getSigningKey(NodeSha256, { accessKeyId: '', secretAccessKey }, scope.date, scope.region, scope.service);
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
 * Checks a request signature: derives the key for the credential scope, signs the string-to-sign
 * and compares. Throws SignatureDoesNotMatch.
 */
export async function verifySignature(args: {
  secretAccessKey: string;
  scope: Scope;
  stringToSign: string;
  signature: string;
}): Promise<void> {
  const key = await deriveSigningKey(args.secretAccessKey, args.scope);
  if (!signaturesEqual(signString(key, args.stringToSign), args.signature)) throw s3Error('SignatureDoesNotMatch');
}
