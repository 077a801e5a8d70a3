/**
 * The one check every adapter makes before (and between) store calls: a caller that has gone
 * stops the work with UfsError Aborted, its reason kept as `cause`.
 */
import { ufsError } from '../errors';

/** `action` names the work in the message ("write object"). */
export function throwIfAborted(signal: AbortSignal | undefined, action = 'operation'): void {
  if (signal?.aborted) throw ufsError('Aborted', `${action}: aborted`, signal.reason);
}
