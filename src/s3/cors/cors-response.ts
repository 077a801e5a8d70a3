/**
 * The Access-Control-* headers of an actual (non-preflight) cross-origin request: when the
 * request carries an Origin and a rule of the bucket allows that origin and method, its headers
 * go on the response, errors included (a page must be able to read them). The bucket's rules
 * come from this node's copy of its settings; a bucket that cannot be read adds nothing.
 */
import type { BucketSettingsDoc } from '../bucket-settings';
import { corsHeaders, matchRule } from './cors-rules';

/** The headers as flat pairs (empty when none apply). */
export function corsResponseHeaders(settings: BucketSettingsDoc | undefined, origin: string, method: string): string[] {
  const rule = settings?.cors && matchRule(settings.cors, origin, method);
  return rule ? corsHeaders(rule, origin) : [];
}

