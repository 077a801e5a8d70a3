/** What a client got from the gateway, as a value a test can compare: a status, or a status and how the body arrived. */
import { bodyBytes } from './gateway';

/** The status the client got (503 for both ServiceUnavailable and SlowDown), or 200. */
export async function statusOf(promise: Promise<unknown>): Promise<number | string> {
  try {
    await promise;
    return 200;
  } catch (err) {
    const e = err as { $metadata?: { httpStatusCode?: number }; name?: string; code?: string };
    return e.$metadata?.httpStatusCode ?? e.code ?? e.name ?? 'unknown';
  }
}

/**
 * A GET's outcome: its status, and whether the body arrived whole. A miss streams the page as the
 * store sends it (cut-through): a store that stalls after its first bytes cuts the body (the
 * headers are gone); one that stalls before them gets a 503.
 */
export async function downloadOutcome(promise: Promise<{ Body?: unknown }>): Promise<[number | string, 'whole' | 'cut' | 'none']> {
  let answer;
  try {
    answer = await promise;
  } catch (err) {
    return [await statusOf(Promise.reject(err)), 'none'];
  }
  try {
    await bodyBytes(answer.Body);
    return [200, 'whole'];
  } catch {
    return [200, 'cut'];
  }
}
