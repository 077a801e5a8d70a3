/**
 * The canonical query and header values are built by hand (src/s3/auth/canonical-request.ts) for
 * speed; they must be exactly what the AWS SDK's signer builds. Checked here against
 * @smithy/signature-v4's own helpers over generated parameters and header values. And whole
 * requests signed by the SDK's signer (Authorization header or presigned URL) verify, while any
 * single changed byte of what they sign makes them fail.
 */
import fc from 'fast-check';

fc.configureGlobal({ seed: process.env.FC_SEED === 'random' ? Date.now() : Number(process.env.FC_SEED ?? 20260311) });
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4, getCanonicalHeaders, getCanonicalQuery } from '@smithy/signature-v4';
import { Authenticator } from '../../src/s3/auth';
import { awsUriEncode, canonicalHeaderValue, canonicalQuery, canonicalUri } from '../../src/s3/auth/canonical-request';
import { splitRawUrl } from '../../src/s3/auth/raw-url';
import { NodeSha256 } from '../../src/s3/auth/sha256';
import { S3Error } from '../../src/s3/errors';

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

// -- Whole signed requests: they verify, and no single changed byte of a signed part does --------

const AKID = 'AKIDCANONICAL';
const SECRET = 'canonical/secret+KEY';
const NOW = new Date('2026-03-11T10:20:30Z');
const authenticator = new Authenticator((id) => (id === AKID ? SECRET : undefined));
const sdkSigner = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: { accessKeyId: AKID, secretAccessKey: SECRET }, sha256: NodeSha256, uriEscapePath: false });

interface SignedRequest {
  method: string;
  rawUrl: string;
  headers: Record<string, string>;
}

const keySegment = fc.string({ unit: fc.oneof(fc.constantFrom('a', 'Z', '0', '-', '.', '_', '~', ' ', '+', '!', '*', "'", '(', ')', 'é', '日', '😀'), anyChar), minLength: 1, maxLength: 8 });
const metaValue = fc.string({ unit: fc.constantFrom(...'abcXYZ019 -_./:'), minLength: 1, maxLength: 12 }).map((v) => v.trim()).filter((v) => v !== '');
const requestShape = fc.record({
  method: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD'),
  key: fc.array(keySegment, { minLength: 1, maxLength: 3 }),
  query: fc.array(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), component), { maxLength: 3 }),
  meta: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/), metaValue, { maxKeys: 3 }),
  presigned: fc.boolean(),
});

/** Encodes a path as a client sends it (each segment percent-encoded the AWS way). */
const encodePath = (segments: string[]): string => `/bucket/${segments.map(awsUriEncode).join('/')}`;

async function signedRequest(shape: { method: string; key: string[]; query: [string, string][]; meta: Record<string, string>; presigned: boolean }): Promise<SignedRequest> {
  const path = encodePath(shape.key);
  const query: Record<string, string> = {};
  for (const [name, value] of shape.query) if (!name.startsWith('x-amz')) query[name] ??= value;
  const headers: Record<string, string> = { host: '127.0.0.1:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
  for (const [name, value] of Object.entries(shape.meta)) headers[`x-amz-meta-${name}`] = value;
  const request = new HttpRequest({ method: shape.method, protocol: 'http:', hostname: '127.0.0.1', port: 9000, path, query, headers });
  const signed = shape.presigned ? await sdkSigner.presign(request, { signingDate: NOW, expiresIn: 900 }) : await sdkSigner.sign(request, { signingDate: NOW });
  const search = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${awsUriEncode(k)}=${awsUriEncode(String(v))}`)
    .join('&');
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) lower[k.toLowerCase()] = String(v);
  return { method: shape.method, rawUrl: search ? `${path}?${search}` : path, headers: lower };
}

const verifies = (r: SignedRequest): string => {
  try {
    const auth = authenticator.authenticate({ method: r.method, rawUrl: r.rawUrl, headers: r.headers, now: NOW });
    return auth.kind;
  } catch (err) {
    return err instanceof S3Error ? `S3Error:${err.code}` : `BUG ${(err as Error).name}: ${(err as Error).message}`;
  }
};

/** Every place where one changed byte changes what was signed, as a function making that change. */
function mutationsOf(r: SignedRequest): ((pick: number) => SignedRequest)[] {
  const other = (c: string, pick: number): string => {
    const pool = /[0-9]/.test(c) ? '0123456789' : /[a-f]/.test(c) ? 'abcdef' : /[a-z]/.test(c) ? 'abcdefghijklmnopqrstuvwxyz' : 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
    const choices = pool.replace(c, '');
    return choices[pick % choices.length];
  };
  /** Positions of plain alphanumerics in `text` (not inside a %XX escape). */
  const sites = (text: string): number[] => {
    const out: number[] = [];
    for (let i = 0; i < text.length; i++) {
      if (/[A-Za-z0-9]/.test(text[i]) && !(text[i - 1] === '%' || text[i - 2] === '%')) out.push(i);
    }
    return out;
  };
  const at = (text: string, i: number, pick: number): string => text.slice(0, i) + other(text[i], pick) + text.slice(i + 1);
  const out: ((pick: number) => SignedRequest)[] = [];
  out.push((pick) => ({ ...r, method: ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'].filter((m) => m !== r.method)[pick % 4] }));
  const q = r.rawUrl.indexOf('?');
  const pathPart = q === -1 ? r.rawUrl : r.rawUrl.slice(0, q);
  for (const i of sites(pathPart)) out.push((pick) => ({ ...r, rawUrl: at(r.rawUrl, i, pick) }));
  if (q !== -1) {
    const queryPart = r.rawUrl.slice(q + 1);
    queryPart.split('&').reduce((offset, pair) => {
      const [name] = pair.split('=');
      // The signature itself, and every other parameter (names and values), is signed or checked.
      for (const i of sites(pair)) if (!(name === 'X-Amz-Algorithm' || name === 'X-Amz-Credential' && i < name.length)) out.push((pick) => ({ ...r, rawUrl: at(r.rawUrl, q + 1 + offset + i, pick) }));
      return offset + pair.length + 1;
    }, 0);
  }
  const signedHeaders = r.headers.authorization ? /SignedHeaders=([^,]+)/.exec(r.headers.authorization)![1].split(';') : [];
  for (const name of [...signedHeaders.filter((h) => h !== 'host'), ...(r.headers.authorization ? ['authorization'] : [])]) {
    const value = r.headers[name];
    const positions = name === 'authorization' ? sites(value).filter((i) => i > value.indexOf('Signature=') + 9) : sites(value);
    for (const i of positions) out.push((pick) => ({ ...r, headers: { ...r.headers, [name]: at(value, i, pick) } }));
  }
  return out;
}

test('signed requests (header and presigned) verify, and any single changed byte of a signed part does not', async () => {
  await fc.assert(
    fc.asyncProperty(requestShape, fc.nat(), fc.nat(), async (shape, which, pick) => {
      const request = await signedRequest(shape);
      expect(verifies(request)).toBe('signed');
      const mutations = mutationsOf(request);
      const mutated = mutations[which % mutations.length](pick);
      expect(verifies(mutated)).toMatch(/^S3Error:/);
    }),
    { numRuns: 400 },
  );
});
