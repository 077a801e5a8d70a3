/**
 * The canonical query and header values are built by hand (src/s3/auth/canonical-request.ts) for
 * speed; they must be exactly what the AWS SDK's signer builds. Checked here against
 * @smithy/signature-v4's own helpers over generated parameters and header values.
 */
import fc from 'fast-check';
import { HttpRequest } from '@smithy/protocol-http';
import { getCanonicalHeaders, getCanonicalQuery } from '@smithy/signature-v4';
import { awsUriEncode, canonicalHeaderValue, canonicalQuery, canonicalUri } from '../../src/s3/auth/canonical-request';
import { splitRawUrl } from '../../src/s3/auth/raw-url';

/** Query text as clients send it: unreserved characters, reserved ones escaped, UTF-8, plus signs. */
const anyChar = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 });
const component = fc.string({ unit: fc.oneof(fc.constantFrom(...'aZ09-._~/ +=&%?#!*()\'', 'é', '日', '😀'), anyChar), maxLength: 12 });

function sdkQuery(params: [string, string][]): string {
  const query: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const [name, value] of params) (query[name] ??= []).push(value);
  return getCanonicalQuery(new HttpRequest({ query }));
}

test('canonicalQuery matches the SDK for any decoded parameters', () => {
  // (A parameter named __proto__ is left out: the SDK's HttpRequest copies the query into a plain
  // object, where that name cannot be an own key; "__proto__=" is its canonical form, tested below.)
  const name = component.filter((n) => n !== '__proto__');
  fc.assert(
    fc.property(fc.array(fc.tuple(name, component), { maxLength: 8 }), (params) => {
      const raw = params.map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`).join('&');
      expect(canonicalQuery(splitRawUrl(`/b/k?${raw}`).params)).toBe(sdkQuery(params));
    }),
    { numRuns: 500 },
  );
});

/** A raw (as sent) form of `text`: each character literal where that is safe, else escaped, in upper or lower case hex. */
const rawForm = (text: string, lower: boolean[]): string =>
  [...text]
    .map((c, i) => {
      const escaped = encodeURIComponent(c);
      const literalOk = /^[A-Za-z0-9\-._~!*'()]$/.test(c);
      const forced = lower[i % lower.length] ? escaped.toLowerCase() : escaped;
      if (escaped !== c) return forced;
      // An unreserved character may also arrive escaped (%41 for "A"): canonical form decodes it.
      return literalOk && lower[(i + 1) % lower.length] ? `%${c.charCodeAt(0).toString(16)}` : c;
    })
    .join('');

test('canonicalQuery matches the SDK whatever escapes the client used (upper, lower case, unreserved escaped)', () => {
  const name = component.filter((n) => n !== '__proto__');
  fc.assert(
    fc.property(fc.array(fc.tuple(name, component), { maxLength: 6 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }), (params, lower) => {
      const raw = params.map(([n, v]) => `${rawForm(n, lower)}=${rawForm(v, lower)}`).join('&');
      expect(canonicalQuery(splitRawUrl(`/b/k?${raw}`).params)).toBe(sdkQuery(params));
    }),
    { numRuns: 500 },
  );
});

test('canonicalHeaderValue matches the SDK for any header value', () => {
  const value = fc.string({ unit: fc.oneof(fc.constantFrom(' ', '\t', '\r', '\n', 'a', 'b', ','), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 })), maxLength: 20 });
  fc.assert(
    fc.property(value, (v) => {
      expect(canonicalHeaderValue(v)).toBe(getCanonicalHeaders(new HttpRequest({ headers: { 'x-amz-meta-v': v } }))['x-amz-meta-v']);
    }),
    { numRuns: 1000 },
  );
});

test('a parameter named __proto__ canonicalises like any other', () => {
  expect(canonicalQuery(splitRawUrl('/b/k?__proto__=x&a=1').params)).toBe('__proto__=x&a=1');
});

test('awsUriEncode escapes all but the unreserved set, upper-case hex of UTF-8', () => {
  expect(awsUriEncode('AZaz09-._~')).toBe('AZaz09-._~');
  expect(awsUriEncode("a b/!'()*é")).toBe('a%20b%2F%21%27%28%29%2A%C3%A9');
});

test('canonicalUri keeps an unreserved path as it is and re-encodes the rest once', () => {
  expect(canonicalUri('/bucket/c4k/obj-0001')).toBe('/bucket/c4k/obj-0001');
  expect(canonicalUri('/bucket/a%2Fb/%7e!')).toBe('/bucket/a%2Fb/~%21');
});
