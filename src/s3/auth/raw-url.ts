/**
 * Splitting the request target as received into its raw path and raw query parameters. Nothing is
 * decoded here: canonicalisation decodes, and must see the bytes the client sent.
 */

export interface RawQueryParam {
  /** Still percent-encoded, exactly as received. */
  rawName: string;
  /** Still percent-encoded; '' for a parameter without '=' ('?uploads'). */
  rawValue: string;
  /** Percent-decoded once ('+' stays '+'); undefined when the escapes are malformed. */
  name: string | undefined;
  value: string | undefined;
}

export interface RawUrl {
  rawPath: string;
  params: RawQueryParam[];
}

/** Splits the target once; each query parameter is decoded once, for every reader of it. */
export function splitRawUrl(rawUrl: string): RawUrl {
  // Deliberately no massaging (no fragment stripping, no absolute-form handling, no dot-segment
  // removal): what is authenticated must be exactly the target the router sees.
  const target = rawUrl;
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const params: RawQueryParam[] = [];
  if (q !== -1) {
    for (const part of target.slice(q + 1).split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const rawName = eq === -1 ? part : part.slice(0, eq);
      const rawValue = eq === -1 ? '' : part.slice(eq + 1);
      params.push({ rawName, rawValue, name: percentDecode(rawName), value: percentDecode(rawValue) });
    }
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
  return p.name ?? p.rawName;
}
