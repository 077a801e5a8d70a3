/**
 * GetObjectAttributes: the attributes named in x-amz-object-attributes (ETag, Checksum,
 * ObjectParts, StorageClass, ObjectSize) in one document, without the body. ObjectParts gives a
 * multipart object's PartsCount, and for one with a COMPOSITE checksum its parts (number, size,
 * checksum), paged with x-amz-max-parts and x-amz-part-number-marker.
 */
import type { ObjectInfo } from '../../../ufs-adapters/types';
import { unquoteEtag } from '../../../ufs-adapters/object-metadata';
import { header, sendXml, type EndpointOf, type S3Context } from '../context';
import { s3Error } from '../errors';
import { readerFor, statForRead } from '../object-reader';
import type { XmlObject } from '../xml';
import { lookedUp } from '../acl/acl-access';
import { CHECKSUM_ALGORITHMS } from '../object-headers';
import { checksumElement, checksumTypeOf } from '../multipart-checksum';

const ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
type Attribute = (typeof ATTRIBUTES)[number];

function requested(value: string | undefined): Set<Attribute> {
  if (value === undefined || value.trim() === '') throw s3Error('InvalidArgument', 'The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty');
  const out = new Set<Attribute>();
  for (const name of value.split(',').map((s) => s.trim())) {
    if (!(ATTRIBUTES as readonly string[]).includes(name)) throw s3Error('InvalidArgument', `Invalid attribute name specified: ${name}`);
    out.add(name as Attribute);
  }
  return out;
}

function wholeNumber(value: string | undefined, name: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = /^[0-9]{1,6}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 0 && n <= max)) throw s3Error('InvalidArgument', `${name} must be an integer between 0 and ${max}`);
  return n;
}

/**
 * The object's checksum as GetObjectAttributes gives it: a multipart object's composite checksum
 * without its "-<N>" suffix (the part count is ObjectParts' PartsCount) and ChecksumType COMPOSITE;
 * any other FULL_OBJECT.
 */
const checksumXml = (info: ObjectInfo): XmlObject | undefined => {
  const entries = CHECKSUM_ALGORITHMS.filter((alg) => info.checksums?.[alg] !== undefined).map((alg) => [alg, info.checksums?.[alg] as string] as const);
  if (entries.length === 0) return undefined;
  const type = checksumTypeOf(entries[0][1]);
  const out: XmlObject = {};
  for (const [alg, value] of entries) out[checksumElement(alg)] = type === 'COMPOSITE' ? value.replace(/-\d+$/, '') : value;
  out.ChecksumType = type;
  return out;
};

/** A multipart object's part count: its part sizes, or the "-<N>" of its ETag (stores that keep no sizes). */
const partsCountOf = (info: ObjectInfo): number | undefined => info.partSizes?.length ?? (Number(/-(\d+)"?$/.exec(info.etag)?.[1]) || undefined);

/**
 * The parts S3 lists: only those of a multipart object with a COMPOSITE checksum (each with its
 * checksum); other multipart objects (no checksum, or FULL_OBJECT) get PartsCount alone, as in S3.
 */
function listedParts(info: ObjectInfo): XmlObject[] | undefined {
  const composite = CHECKSUM_ALGORITHMS.find((alg) => info.checksums?.[alg] !== undefined && checksumTypeOf(info.checksums[alg] as string) === 'COMPOSITE');
  const sizes = info.partSizes;
  const sums = info.partChecksums;
  if (!composite || !sizes || !sums || sums.length !== sizes.length) return undefined;
  return sizes.map((size, i) => ({ [checksumElement(composite)]: sums[i], PartNumber: i + 1, Size: size }));
}

function partsXml(info: ObjectInfo, maxParts: number, marker: number): XmlObject | undefined {
  const count = partsCountOf(info);
  if (count === undefined) return undefined;
  const all = listedParts(info);
  if (!all) return { PartsCount: count };
  const after = all.filter((p) => (p.PartNumber as number) > marker);
  const page = after.slice(0, maxParts);
  const truncated = after.length > page.length;
  return {
    PartsCount: count,
    PartNumberMarker: marker,
    NextPartNumberMarker: page.length > 0 ? (page[page.length - 1].PartNumber as number) : undefined,
    MaxParts: maxParts,
    IsTruncated: truncated,
    Part: page,
  };
}

export async function handleGetObjectAttributes(ctx: S3Context<EndpointOf<'GetObjectAttributes'>>): Promise<void> {
  const attributes = requested(header(ctx.request, 'x-amz-object-attributes'));
  const maxParts = wholeNumber(header(ctx.request, 'x-amz-max-parts'), 'x-amz-max-parts', 1000, 1000);
  const marker = wholeNumber(header(ctx.request, 'x-amz-part-number-marker'), 'x-amz-part-number-marker', 0, 10000);
  const info = await lookedUp(ctx.access, () => statForRead(readerFor(ctx.bucket, ctx.placement), ctx.endpoint.key, ctx.signal));
  ctx.reply.header('last-modified', info.lastModified.toUTCString());
  await sendXml(ctx, 'GetObjectAttributesResponse', {
    ETag: attributes.has('ETag') ? unquoteEtag(info.etag) : undefined,
    Checksum: attributes.has('Checksum') ? checksumXml(info) : undefined,
    ObjectParts: attributes.has('ObjectParts') ? partsXml(info, maxParts, marker) : undefined,
    StorageClass: attributes.has('StorageClass') ? 'STANDARD' : undefined,
    ObjectSize: attributes.has('ObjectSize') ? info.size : undefined,
  });
}
