/**
 * Headers a presigner moved into the query of a SigV4 presigned URL.
 *
 * The AWS SDKs' presigners hoist the request's x-amz-* headers into the query string (every one
 * not named unhoistable), so a presigned PutObject with Metadata carries `x-amz-meta-role=reader`
 * as a query parameter, covered by the signature like the rest of the query. S3 applies such a
 * parameter as the header it stands for; so does Ringcache, for the headers that describe the
 * object being written: user metadata, the canned ACL and grants, and the ones Ringcache refuses
 * (server-side encryption, object lock, tagging: answered NotImplemented, as the headers are,
 * rather than silently dropped). A header sent as a header wins over its query copy. Never
 * headers that change which operation the request is (x-amz-copy-source) or how its body is
 * read: those are decided before, from the headers alone.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RawQueryParam } from './auth/raw-url';

const HOISTED = /^x-amz-(?:meta-[^\s]+|acl|grant-(?:read|write|read-acp|write-acp|full-control)|tagging|server-side-encryption(?:-customer-algorithm|-aws-kms-key-id)?|object-lock-(?:mode|retain-until-date|legal-hold))$/;

/** Adds to `headers` the hoisted headers of a presigned write's query (decoded, lower-case names). */
export function applyHoistedHeaders(params: readonly RawQueryParam[], headers: IncomingHttpHeaders): void {
  for (const p of params) {
    if (p.name === undefined || p.value === undefined) continue;
    const name = p.name.toLowerCase();
    if (!name.startsWith('x-amz-') || !HOISTED.test(name) || headers[name] !== undefined) continue;
    headers[name] = p.value;
  }
}
