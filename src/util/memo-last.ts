/**
 * Remembers the last successful result of a pure function of one string: consecutive requests
 * share their credential, their X-Amz-Date (every URL presigned in one go) and so on, so parsing
 * the same text again is skipped. Failures are not remembered (they throw each time).
 */
export function memoLast<R>(fn: (text: string) => R): (text: string) => R {
  let lastText: string | undefined;
  let lastResult: R | undefined;
  return (text) => {
    if (text === lastText) return lastResult as R;
    const result = fn(text);
    lastText = text;
    lastResult = result;
    return result;
  };
}
