/**
 * SigV4 authentication of S3 requests: `authenticate` checks the request's signature (Authorization
 * header or presigned query) and says how the body must be verified; `createBodyVerifier` builds
 * the Transform that decodes / verifies that body.
 */
export { Authenticator } from './authenticate';
export { createBodyVerifier } from './body-verifier';
export { createChecksum, checksumHeaderName, checksumAlgorithmOfHeader, CHECKSUM_ALGORITHMS } from './checksum';
export type {
  AuthInput,
  AuthResult,
  BodyVerifier,
  ChecksumAlgorithm,
  PayloadMode,
  SecretLookup,
} from './types';
