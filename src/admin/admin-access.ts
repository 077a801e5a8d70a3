/**
 * Who is calling the admin, jobs and cluster routes: one place that authenticates a request
 * (SigV4, like any S3 request; the dashboard signs in the browser: docs/dashboard.md) and looks
 * up its credential. The admin credential is an access key whose grants give write access to
 * every bucket (`"*": "write"`): operators' views of the whole gateway (node statistics, bucket
 * settings, the ring, the peer list) need one.
 */
import type { FastifyRequest } from 'fastify';
import type { Credential } from '../config/schema';
import type { AuthResult, Authenticator } from '../s3/auth';
import { s3Error } from '../s3/errors';

function isAdminCredential(credential: Credential | undefined): boolean {
  return credential !== undefined && Object.hasOwn(credential.grants, '*') && credential.grants['*'] === 'write';
}

interface Caller {
  auth: AuthResult;
  /** The configured credential of a signed request. */
  credential: Credential | undefined;
}

export interface SignedCaller extends Caller {
  auth: Extract<AuthResult, { kind: 'signed' }>;
}

export class Callers {
  private readonly byKey: Map<string, Credential>;

  constructor(
    private readonly authenticator: Authenticator,
    credentials: readonly Credential[],
  ) {
    this.byKey = new Map(credentials.map((c) => [c.accessKeyId, c]));
  }

  /** The caller, anonymous or signed; throws an S3Error for a malformed or badly signed request. */
  of(request: FastifyRequest): Caller {
    const auth = this.authenticator.authenticate({ method: request.method, rawUrl: request.raw.url ?? '/', headers: request.headers, now: new Date() });
    return { auth, credential: auth.kind === 'signed' ? this.byKey.get(auth.accessKeyId) : undefined };
  }

  /** A signed caller; AccessDenied (`why`: what needs the signature) for an anonymous one. */
  signed(request: FastifyRequest, why: string): SignedCaller {
    const caller = this.of(request);
    if (caller.auth.kind !== 'signed') throw s3Error('AccessDenied', `${why} must be signed (AWS Signature Version 4).`);
    return caller as SignedCaller;
  }

  /** The access key id of an admin caller; AccessDenied otherwise (`what`: what needs an admin key). */
  admin(request: FastifyRequest, what: string): string {
    const caller = this.signed(request, `${what} with an admin key`);
    if (!isAdminCredential(caller.credential)) {
      throw s3Error('AccessDenied', `Access key ${caller.auth.accessKeyId} is not an admin key: ${what} needs one whose grants include "*": "write".`);
    }
    return caller.auth.accessKeyId;
  }
}
