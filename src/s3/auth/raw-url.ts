/**
 * Splitting the request target as received into its raw path and raw query parameters. Nothing is
 * decoded here: canonicalisation decodes, and must see the bytes the client sent.
 */

export interface RawQueryParam {
  /** Still percent-encoded, exactly as received. */
  rawName: string;
  /** Still percent-encoded; '' for a parameter without '=' ('?uploads'). */
  rawValue: string;
}

export interface RawUrl {
  rawPath: string;
  params: RawQueryParam[];
}

export function splitRawUrl(rawUrl: string): RawUrl {
  // Deliberately no massaging (no fragment stripping, no absolute-form handling, no dot-segment
  // removal): what is authenticated must be exactly the target the router sees.
  const target = rawUrl;
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const rawQuery = q === -1 ? '' : target.slice(q + 1);
  const params: RawQueryParam[] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    params.push(eq === -1 ? { rawName: part, rawValue: '' } : { rawName: part.slice(0, eq), rawValue: part.slice(eq + 1) });
  }
  return { rawPath: rawPath === '' ? '/' : rawPath, params };
}

/**
 * Percent-decoding as SigV4 clients encode: '%XX' escapes of UTF-8 only, and '+' is a literal '+'
 * (AWS clients send a space as '%20'). Undefined for malformed escapes or invalid UTF-8.
 */
export function percentDecode(value: string): string | undefined {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/** A query parameter's decoded name, falling back to the raw name when it does not decode. */
export function paramName(p: RawQueryParam): string {
  return percentDecode(p.rawName) ?? p.rawName;
}
