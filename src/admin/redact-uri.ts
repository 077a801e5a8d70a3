/**
 * A mount URI as it may be shown (dashboard, logs): user info and the values of query
 * parameters that can carry secrets (keys, tokens, passwords, signatures, delegation tokens)
 * replaced by "***". Everything else (scheme, host, path, endpoint, region, user) stays.
 */
const SECRET_PARAM = /secret|token|passw|pwd|key|credential|signature|^sig$|auth|delegation/i;

export function redactUri(uri: string): string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return '(not a URI)';
  }
  if (url.username) url.username = '***';
  if (url.password) url.password = '***';
  for (const name of [...new Set(url.searchParams.keys())]) {
    if (SECRET_PARAM.test(name)) url.searchParams.set(name, '***');
  }
  return url.toString().replace(/\*\*\*/g, '***').replace(/%2A%2A%2A/g, '***');
}
