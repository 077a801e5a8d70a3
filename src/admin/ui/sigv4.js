// AWS Signature Version 4 in the browser, for the dashboard's calls to the admin API.
// The secret never leaves the page: a day's signing key is derived from it (HMAC chain of the
// date, region and service, as the AWS docs describe), and each request carries only its
// signature. HMAC-SHA256 and SHA-256 come from WebCrypto when the page is a secure context
// (HTTPS, localhost), else from sha256.js.
import { hmacSha256, sha256 } from './sha256.js';

const encoder = new TextEncoder();
const subtle = globalThis.crypto && globalThis.crypto.subtle;

export const cryptoSource = subtle ? 'webcrypto' : 'javascript';

const bytesOf = (value) => (typeof value === 'string' ? encoder.encode(value) : value);

export const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export function fromHex(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export async function sha256Hex(data) {
  if (subtle) return toHex(new Uint8Array(await subtle.digest('SHA-256', bytesOf(data))));
  return toHex(sha256(bytesOf(data)));
}

export async function hmac(key, data) {
  if (!subtle) return hmacSha256(key, bytesOf(data));
  const imported = await subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle.sign('HMAC', imported, bytesOf(data)));
}

/** "20261207" and "20261207T183045Z" for a Date (UTC). */
export function amzDates(date) {
  const iso = date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return { day: iso.slice(0, 8), stamp: iso };
}

/** The signing key of one day, region and service (a Uint8Array). */
export async function signingKey(secretAccessKey, day, region, service = 's3') {
  const kDate = await hmac(encoder.encode(`AWS4${secretAccessKey}`), day);
  const kRegion = await hmac(kDate, region);
  const kService = await hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

/** RFC 3986 percent-encoding, as SigV4 wants it ("/" kept in paths). */
export function uriEncode(text, keepSlash) {
  return Array.from(encoder.encode(text), (b) => {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9_.~-]/.test(c) || (keepSlash && c === '/')) return c;
    return `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }).join('');
}

/** "a=1&b=x%20y" from [[name, value], ...], sorted as SigV4 sorts them (and as the URL must carry them). */
export function canonicalQuery(params) {
  return params
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/**
 * The headers that sign one request: x-amz-date, x-amz-content-sha256 and authorization.
 * `path` is already encoded as it goes on the wire; `query` is canonicalQuery's output.
 */
export async function signedHeaders({ method, host, path, query = '', body = '', accessKeyId, key, region, date, service = 's3' }) {
  const { day, stamp } = amzDates(date);
  const payloadHash = await sha256Hex(body);
  const headers = { host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': stamp };
  const names = Object.keys(headers).sort();
  const canonical = [method, path, query, ...names.map((n) => `${n}:${headers[n]}`), '', names.join(';'), payloadHash].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', stamp, scope, await sha256Hex(canonical)].join('\n');
  const signature = toHex(await hmac(key, stringToSign));
  return {
    'x-amz-date': stamp,
    'x-amz-content-sha256': payloadHash,
    authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`,
  };
}
