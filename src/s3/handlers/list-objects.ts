/**
 * ListObjects (v1), ListObjectsV2 and ListObjectVersions (an unversioned bucket: every
 * object is its own only version, VersionId "null"). Prefix, delimiter and start position
 * are pushed down to the adapter; max-keys is honoured.
 */
import type { EndpointOf, S3Context } from '../context';
import { principal, sendXml } from '../context';
import { s3Error } from '../errors';
import { ownerXml, xmlDate, type XmlObject } from '../xml';
import {
  collectListPage,
  decodeContinuationToken,
  encodeContinuationToken,
  parseMaxKeys,
  urlEncodeKey,
  type ListPage,
} from './list-page';

interface Encoder {
  encode(value: string | undefined): string | undefined;
  encodingType?: string;
}

function encoderFor(query: ReadonlyMap<string, string>): Encoder {
  const type = query.get('encoding-type');
  if (type === undefined) return { encode: (v) => v };
  if (type.toLowerCase() !== 'url') throw s3Error('InvalidArgument', 'Invalid Encoding Method specified in Request');
  return { encode: (v) => (v === undefined ? undefined : urlEncodeKey(v)), encodingType: 'url' };
}

/**
 * One listed object. Element order matters to strict parsers: `head` goes right after Key
 * (VersionId, IsLatest), `tail` after StorageClass (Owner).
 */
function objectXml(o: ListPage['objects'][number], enc: Encoder, extra: { head?: XmlObject; tail?: XmlObject } = {}): XmlObject {
  return {
    Key: enc.encode(o.key),
    ...extra.head,
    LastModified: xmlDate(o.lastModified),
    ETag: o.etag,
    Size: o.size,
    StorageClass: 'STANDARD',
    ...extra.tail,
  };
}

function commonPrefixesXml(page: ListPage, enc: Encoder): XmlObject[] {
  return page.commonPrefixes.map((p) => ({ Prefix: enc.encode(p) }));
}

async function listPage(ctx: S3Context<EndpointOf<'ListObjects' | 'ListObjectsV2' | 'ListObjectVersions'>>, startAfter: string | undefined, maxKeysParam = 'max-keys') {
  const { endpoint, signal, bucket } = ctx;
  const prefix = endpoint.query.get('prefix') ?? '';
  const delimiter = endpoint.query.get('delimiter') || undefined;
  const maxKeys = parseMaxKeys(endpoint.query.get(maxKeysParam), maxKeysParam);
  const page = await collectListPage(bucket.store, { prefix, delimiter, startAfter: startAfter || undefined, maxKeys, signal });
  return { bucket, prefix, delimiter, maxKeys, page };
}

export async function handleListObjectsV2(ctx: S3Context<EndpointOf<'ListObjectsV2'>>): Promise<void> {
  const { query } = ctx.endpoint;
  const enc = encoderFor(query);
  const token = query.get('continuation-token');
  const startAfter = query.get('start-after');
  const after = token !== undefined ? decodeContinuationToken(token) : startAfter;
  const { prefix, delimiter, maxKeys, page } = await listPage(ctx, after);
  const fetchOwner = query.get('fetch-owner') === 'true';
  const owner = ownerXml(principal(ctx.auth));
  await sendXml(ctx, 'ListBucketResult', {
    Name: ctx.endpoint.bucket,
    Prefix: enc.encode(prefix),
    Delimiter: enc.encode(delimiter),
    StartAfter: enc.encode(startAfter),
    ContinuationToken: token,
    NextContinuationToken: page.isTruncated && page.last !== undefined ? encodeContinuationToken(page.last) : undefined,
    KeyCount: page.objects.length + page.commonPrefixes.length,
    MaxKeys: maxKeys,
    EncodingType: enc.encodingType,
    IsTruncated: page.isTruncated,
    Contents: page.objects.map((o) => objectXml(o, enc, { tail: { Owner: fetchOwner ? owner : undefined } })),
    CommonPrefixes: commonPrefixesXml(page, enc),
  });
}

export async function handleListObjects(ctx: S3Context<EndpointOf<'ListObjects'>>): Promise<void> {
  const { query } = ctx.endpoint;
  const enc = encoderFor(query);
  const marker = query.get('marker');
  const { prefix, delimiter, maxKeys, page } = await listPage(ctx, marker);
  const owner = ownerXml(principal(ctx.auth));
  await sendXml(ctx, 'ListBucketResult', {
    Name: ctx.endpoint.bucket,
    Prefix: enc.encode(prefix),
    Marker: enc.encode(marker ?? ''),
    // S3 sends NextMarker only with a delimiter; sending it always is what clients handle best.
    NextMarker: page.isTruncated ? enc.encode(page.last) : undefined,
    MaxKeys: maxKeys,
    Delimiter: enc.encode(delimiter),
    EncodingType: enc.encodingType,
    IsTruncated: page.isTruncated,
    Contents: page.objects.map((o) => objectXml(o, enc, { tail: { Owner: owner } })),
    CommonPrefixes: commonPrefixesXml(page, enc),
  });
}

export async function handleListObjectVersions(ctx: S3Context<EndpointOf<'ListObjectVersions'>>): Promise<void> {
  const { query } = ctx.endpoint;
  const enc = encoderFor(query);
  const keyMarker = query.get('key-marker');
  const { prefix, delimiter, maxKeys, page } = await listPage(ctx, keyMarker);
  const owner = ownerXml(principal(ctx.auth));
  await sendXml(ctx, 'ListVersionsResult', {
    Name: ctx.endpoint.bucket,
    Prefix: enc.encode(prefix),
    KeyMarker: enc.encode(keyMarker ?? ''),
    VersionIdMarker: query.get('version-id-marker') ?? '',
    NextKeyMarker: page.isTruncated ? enc.encode(page.last) : undefined,
    NextVersionIdMarker: page.isTruncated ? 'null' : undefined,
    MaxKeys: maxKeys,
    Delimiter: enc.encode(delimiter),
    EncodingType: enc.encodingType,
    IsTruncated: page.isTruncated,
    Version: page.objects.map((o) => objectXml(o, enc, { head: { VersionId: 'null', IsLatest: true }, tail: { Owner: owner } })),
    CommonPrefixes: commonPrefixesXml(page, enc),
  });
}
