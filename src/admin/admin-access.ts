/**
 * The admin credential: an access key whose grants give write access to every bucket
 * (`"*": "write"`). Operators' views of the whole gateway (the dashboard's node statistics and
 * bucket settings) need one: they show every bucket's mount and every node. Requests are signed
 * with SigV4 like any S3 request (the dashboard signs in the browser: docs/dashboard.md).
 */
import type { FastifyRequest } from 'fastify';
import type { Credential } from '../config/schema';
import type { Authenticator } from '../s3/auth';
import { s3Error } from '../s3/errors';

function isAdminCredential(credential: Credential | undefined): boolean {
  return credential !== undefined && Object.hasOwn(credential.grants, '*') && credential.grants['*'] === 'write';
}

export class AdminGate {
  private readonly byKey: Map<string, Credential>;

  constructor(
    private readonly authenticator: Authenticator,
    credentials: readonly Credential[],
  ) {
    this.byKey = new Map(credentials.map((c) => [c.accessKeyId, c]));
  }

  /** The caller's access key id; throws an S3Error (403, or 400 for a malformed signature) otherwise. */
  check(request: FastifyRequest): string {
    const auth = this.authenticator.authenticate({ method: request.method, rawUrl: request.raw.url ?? '/', headers: request.headers, now: new Date() });
    if (auth.kind !== 'signed') throw s3Error('AccessDenied', 'Sign the request (AWS Signature Version 4) with an admin key.');
    if (!isAdminCredential(this.byKey.get(auth.accessKeyId))) {
      throw s3Error('AccessDenied', `Access key ${auth.accessKeyId} is not an admin key: the operators' views need one whose grants include "*": "write".`);
    }
    return auth.accessKeyId;
  }
}
