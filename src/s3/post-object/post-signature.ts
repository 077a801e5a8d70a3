/**
 * Who signed a form upload's policy. SigV4: `x-amz-algorithm` AWS4-HMAC-SHA256, `x-amz-credential`
 * (key/date/region/s3/aws4_request), `x-amz-date`, and `x-amz-signature` = hex HMAC-SHA256 of the
 * base64 policy with the credential's signing key. SigV2 (unless turned off): `AWSAccessKeyId`
 * and `signature` = base64 HMAC-SHA1 of the base64 policy. A form without a policy or signature
 * is anonymous (it needs a bucket its ACL lets anyone write).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { s3Error } from '../errors';
import { parseAmzDate } from '../auth/amz-date';
import { SIGV4_ALGORITHM } from '../auth/constants';
import { parseCredential } from '../auth/parse-authorization';
import { signV2 } from '../auth/sigv2';
import { SigningKeys } from '../auth/verify-signature';
import type { SecretLookup } from '../auth';

type PostSigner = { kind: 'anonymous' } | { kind: 'signed'; accessKeyId: string };

const keys = new SigningKeys(64);

function secretOf(accessKeyId: string, lookup: SecretLookup): string {
  const secret = lookup(accessKeyId);
  if (secret === undefined) throw s3Error('InvalidAccessKeyId');
  return secret;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'latin1');
  const y = Buffer.from(b, 'latin1');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Verifies the form's signature over its policy; `fields` have lower-cased names. */
export function verifyPostSignature(fields: ReadonlyMap<string, string>, lookup: SecretLookup, signatureV2: boolean): PostSigner {
  const policy = fields.get('policy');
  const v4 = fields.get('x-amz-signature');
  const v2 = fields.get('signature');
  if (policy === undefined) {
    if (v4 !== undefined || v2 !== undefined || fields.has('x-amz-credential') || fields.has('awsaccesskeyid')) {
      throw s3Error('InvalidArgument', "Bucket POST must contain a field named 'policy'.  If it is specified, please check the order of the fields.");
    }
    return { kind: 'anonymous' };
  }
  if (v4 !== undefined) {
    const algorithm = fields.get('x-amz-algorithm');
    if (algorithm !== SIGV4_ALGORITHM) throw s3Error('InvalidArgument', `The x-amz-algorithm field must be ${SIGV4_ALGORITHM}; got ${algorithm ?? 'none'}.`);
    const credential = fields.get('x-amz-credential');
    const date = fields.get('x-amz-date');
    if (credential === undefined || date === undefined) throw s3Error('InvalidArgument', "Bucket POST signed with x-amz-signature must contain the fields 'x-amz-credential' and 'x-amz-date'.");
    const { accessKeyId, scope } = parseCredential(credential, 'AuthorizationQueryParametersError');
    if (!parseAmzDate(date) || date.slice(0, 8) !== scope.date) throw s3Error('InvalidArgument', `The x-amz-date field "${date}" must be of the form YYYYMMDDTHHMMSSZ and match the date of the credential.`);
    const computed = createHmac('sha256', keys.get(secretOf(accessKeyId, lookup), scope)).update(policy, 'utf8').digest('hex');
    if (!sameText(computed, v4.toLowerCase())) throw s3Error('SignatureDoesNotMatch');
    return { kind: 'signed', accessKeyId };
  }
  if (v2 !== undefined) {
    if (!signatureV2) throw s3Error('InvalidRequest', 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.');
    const accessKeyId = fields.get('awsaccesskeyid');
    if (accessKeyId === undefined) throw s3Error('InvalidArgument', "Bucket POST signed with 'signature' must contain a field named 'AWSAccessKeyId'.");
    if (!sameText(signV2(secretOf(accessKeyId, lookup), policy), v2)) throw s3Error('SignatureDoesNotMatch');
    return { kind: 'signed', accessKeyId };
  }
  throw s3Error('InvalidArgument', "Bucket POST with a policy must contain a field named 'x-amz-signature' (or 'signature').");
}
