/**
 * How loudly an error answer is logged. Expected answers are not errors of the gateway: a
 * client's mistake (4xx) or a feature Ringcache does not implement (501 NotImplemented) are
 * logged at debug; a store that cannot be reached or is throttling (503 ServiceUnavailable,
 * SlowDown) is an operational condition, logged at warn; anything else (500 InternalError) is a
 * fault of the gateway, logged at error with its cause.
 */
import type { S3Error } from './errors';

type ErrorLogLevel = 'debug' | 'warn' | 'error';

export function errorLogLevel(error: Pick<S3Error, 'status' | 'code'>): ErrorLogLevel {
  if (error.status < 500 || error.code === 'NotImplemented') return 'debug';
  if (error.code === 'ServiceUnavailable' || error.code === 'SlowDown') return 'warn';
  return 'error';
}
