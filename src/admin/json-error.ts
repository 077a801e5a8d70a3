/**
 * How the admin, jobs and cluster routes answer an error: JSON `{ "error": <S3 code>, "message" }`
 * with the S3 status, one shape for all of them (the dashboard and the CLI read `error` and
 * `message`). Store and bucket errors map as they do for the S3 API (`toS3Error`); the answer is
 * logged as loudly as the S3 front door would log it.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorLogLevel } from '../s3/error-log-level';
import { S3Error, toS3Error } from '../s3/errors';

export function sendJsonError(request: FastifyRequest, reply: FastifyReply, err: unknown, what: string): FastifyReply {
  const s3 = toS3Error(err);
  const level = errorLogLevel(s3);
  if (level !== 'debug') request.log[level]({ err }, `${what} failed`);
  return reply.code(s3.status).send({ error: s3.code, message: s3.message });
}

/**
 * A plugin's error handler: fastify's own refusals before a route runs (a body too large, an
 * unsupported content type, a bad JSON body) keep their status as a client error; anything else
 * a route threw is answered by `sendJsonError`. `clientMessage` may word a refusal by status.
 */
export function jsonErrorHandler(what: string, clientMessage: (status: number, err: Error) => string = (_status, err) => err.message) {
  return (err: Error & { statusCode?: number }, request: FastifyRequest, reply: FastifyReply): void => {
    const status = err.statusCode;
    if (!(err instanceof S3Error) && typeof status === 'number' && status >= 400 && status < 500) {
      const code = status === 413 ? 'EntityTooLarge' : 'InvalidArgument';
      void reply.code(status).send({ error: code, message: clientMessage(status, err) });
      return;
    }
    void sendJsonError(request, reply, err, what);
  };
}
