/**
 * What the S3 port does with a request before fastify sees it:
 * - `Expect: 100-continue` is answered only for a request that is signed by a key allowed to
 *   write to its bucket; anything else gets its error without the body being invited (Node
 *   would otherwise send 100 Continue to everyone). Other Expect values are ignored, as S3 does
 *   (Node would answer 417).
 * - A Content-Type that fastify does not accept as a media type ('', 'foo', 'weird value') is
 *   set aside while fastify routes the request and given back before the S3 handler reads it:
 *   S3 stores any Content-Type and returns it as it was sent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { accessLevel } from './authorize';
import type { RequestResolver } from './resolve-request';

const STASHED = Symbol('ringcache.contentType');
type Stashed = IncomingMessage & { [STASHED]?: string | string[] };

/** Sets a request's Content-Type aside (S3 routes with a body only; admin routes parse JSON). */
export function stashContentType(req: IncomingMessage, adminPrefix: string): void {
  if (req.method === 'GET' || req.method === 'HEAD' || req.url?.startsWith(adminPrefix)) return;
  const value = req.headers['content-type'];
  if (value === undefined) return;
  (req as Stashed)[STASHED] = value;
  delete req.headers['content-type'];
}

/** Gives the Content-Type back (idempotent). */
export function restoreContentType(req: IncomingMessage): void {
  const stashed = req as Stashed;
  const value = stashed[STASHED];
  if (value === undefined) return;
  req.headers['content-type'] = value as string;
  stashed[STASHED] = undefined;
}

/**
 * Answers 100 Continue when the request may go on: a valid signature with write access to its
 * bucket, a write the bucket's ACL allows (as this node knows it), or a POST form upload (its
 * authorization is inside the body).
 */
export function continueIfAllowed(req: IncomingMessage, res: ServerResponse, resolver: RequestResolver): void {
  try {
    const identified = resolver.identify(req);
    const { endpoint, credential } = identified;
    const bucket = 'bucket' in endpoint ? endpoint.bucket : undefined;
    const allowed =
      endpoint.op === 'PostObject' ||
      (credential !== undefined && bucket !== undefined && accessLevel(credential, bucket) === 'write') ||
      resolver.peekAuthorized(identified)?.access.kind === 'granted';
    if (allowed) res.writeContinue();
  } catch {
    // A bad signature: the handler answers it, and the body is never invited.
  }
}
