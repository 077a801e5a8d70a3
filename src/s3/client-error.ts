/**
 * Bytes that do not parse as an HTTP request (garbage, more body than Content-Length announced
 * followed by a bad "request", headers too large, a request that took too long to arrive) never
 * reach fastify: Node reports them on the connection. They get an S3 XML error like every other
 * client mistake, not fastify's JSON. A response still being written on that connection (the
 * request before the garbage) is finished first, then the error is written and the connection
 * closed.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import { S3Error, s3Error } from './errors';
import { newRequestId } from './request-id';
import { renderXml } from './xml';

const LLHTTP_CODE = /^HPE_[A-Z_]+$/;

function errorFor(err: NodeJS.ErrnoException): S3Error {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return s3Error('RequestTimeout', 'The request was not received in full within the time allowed.');
  if (err.code === 'HPE_HEADER_OVERFLOW') return s3Error('InvalidRequest', 'The request headers are larger than this server accepts.');
  const detail = err.code && LLHTTP_CODE.test(err.code) ? ` (${err.code})` : '';
  return s3Error('InvalidRequest', `The bytes received could not be parsed as an HTTP/1.1 request${detail}.`);
}

/** The raw HTTP response an S3 error becomes on a connection with no request object. */
function clientErrorResponse(error: S3Error, requestId: string): string {
  const body = renderXml('Error', { Code: error.code, Message: error.message, RequestId: requestId }, { namespace: false });
  return [
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}`,
    'Content-Type: application/xml',
    `Content-Length: ${Buffer.byteLength(body)}`,
    `x-amz-request-id: ${requestId}`,
    'Server: Ringcache',
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/** Connections already answered (the parser may report more errors for the bytes that follow). */
const answered = new WeakSet<Socket>();

/** fastify's `clientErrorHandler`. */
export function handleClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return;
  answered.add(socket);
  const respond = (): void => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    // Closed once written (a peer that never reads its answer cannot keep the socket either).
    socket.end(clientErrorResponse(errorFor(err), newRequestId()), () => socket.destroy());
    setTimeout(() => socket.destroy(), 5000).unref();
  };
  const pending = (socket as Socket & { _httpMessage?: (ServerResponse & { req?: { complete?: boolean } }) | null })._httpMessage;
  if (!pending || pending.writableFinished || pending.destroyed) {
    respond();
    return;
  }
  if (pending.req?.complete) {
    // The request before the bad bytes arrived whole and is being answered: let it finish.
    pending.once('finish', respond);
    pending.once('close', () => {
      if (!pending.writableFinished) socket.destroy();
    });
    return;
  }
  // The bad bytes are inside a request's body (broken chunked framing, a client gone mid-body):
  // that request is over. Answer it here if nothing of its response went out, and close, so its
  // handler sees the body abort (no partial object) rather than wait for bytes that never come.
  if (pending.headersSent) socket.destroy(err);
  else respond();
}
