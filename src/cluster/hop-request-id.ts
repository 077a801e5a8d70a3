/**
 * The request id a forwarding node gave a request, carried in its hop marker, so that the owner
 * answers and logs under the same id (one id per client request across the hop). Only taken from
 * a request that carries a hop marker; the router refuses the request if the marker (which signs
 * the id) does not verify.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { HOP_HEADER, HOP_REQUEST_ID_HEADER } from './peer-auth';

const REQUEST_ID = /^[0-9A-Za-z-]{1,64}$/;

export function hopRequestId(headers: IncomingHttpHeaders): string | undefined {
  if (headers[HOP_HEADER] === undefined) return undefined;
  const id = headers[HOP_REQUEST_ID_HEADER];
  return typeof id === 'string' && REQUEST_ID.test(id) ? id : undefined;
}
