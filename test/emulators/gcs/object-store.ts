/**
 * In-memory state of the GCS emulator: buckets holding the live generation of each object
 * (object versioning is not emulated), resumable upload sessions, and the JSON object
 * resource as the Cloud Storage JSON API documents it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { crc32cBase64 } from './crc32c';

/** Object resource fields a client may set on insert / rewrite / compose / patch. */
const WRITABLE_FIELDS = [
  'contentType',
  'contentEncoding',
  'contentDisposition',
  'contentLanguage',
  'cacheControl',
  'customTime',
] as const;
export type WritableField = (typeof WRITABLE_FIELDS)[number];

export interface WritableResource extends Partial<Record<WritableField, string>> {
  metadata?: Record<string, string>;
}

export interface StoredObject extends WritableResource {
  bucket: string;
  name: string;
  data: Buffer;
  generation: string;
  metageneration: number;
  /** Absent for composite objects, as in GCS. */
  md5Hash?: string;
  crc32c: string;
  componentCount?: number;
  timeCreated: string;
  updated: string;
}

export interface UploadSession {
  id: string;
  bucket: string;
  name: string;
  resource: WritableResource;
  /** Preconditions given at initiation (ifGenerationMatch, ...). */
  preconditions: URLSearchParams;
  chunks: Buffer[];
  received: number;
  result?: StoredObject;
  cancelled?: boolean;
}

/** An error the server turns into the JSON API error body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const notFound = (bucket: string, name: string): HttpError =>
  new HttpError(404, 'notFound', `No such object: ${bucket}/${name}`);

const conditionNotMet = (): HttpError =>
  new HttpError(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');

/** Only string values are metadata; `null` removes a key when patching. */
function cleanMetadata(value: unknown): Record<string, string> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === null || v === undefined) continue;
    out[k] = String(v);
  }
  return out;
}

/** The writable part of a resource sent by a client (insert semantics: absent or null = unset). */
export function writableFrom(raw: unknown): WritableResource {
  const source = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const out: WritableResource = {};
  for (const field of WRITABLE_FIELDS) {
    const value = source[field];
    if (typeof value === 'string') out[field] = value;
  }
  const metadata = cleanMetadata(source.metadata);
  if (metadata && Object.keys(metadata).length > 0) out.metadata = metadata;
  return out;
}

/** Patch semantics (objects.patch, and rewrite/copy bodies as Google's storage-testbench applies them). */
export function patchResource(base: WritableResource, raw: unknown): WritableResource {
  const patch = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const out: WritableResource = { ...base, metadata: base.metadata ? { ...base.metadata } : undefined };
  for (const field of WRITABLE_FIELDS) {
    if (!(field in patch)) continue;
    const value = patch[field];
    if (value === null) delete out[field];
    else if (typeof value === 'string') out[field] = value;
  }
  if ('metadata' in patch) {
    const metadata = patch.metadata;
    if (metadata === null) delete out.metadata;
    else if (typeof metadata === 'object') {
      const merged: Record<string, string> = { ...out.metadata };
      for (const [k, v] of Object.entries(metadata as Record<string, unknown>)) {
        if (v === null) delete merged[k];
        else merged[k] = String(v);
      }
      out.metadata = merged;
    }
  }
  if (!out.metadata || Object.keys(out.metadata).length === 0) delete out.metadata;
  return out;
}

export function checkPreconditions(current: StoredObject | undefined, query: URLSearchParams, prefix = ''): void {
  const param = (name: string): string | null => query.get(prefix ? `${prefix}${name[0].toUpperCase()}${name.slice(1)}` : name);
  const generationMatch = param('ifGenerationMatch');
  if (generationMatch !== null) {
    if (generationMatch === '0' ? current !== undefined : current?.generation !== generationMatch) throw conditionNotMet();
  }
  const generationNotMatch = param('ifGenerationNotMatch');
  if (generationNotMatch !== null) {
    if (generationNotMatch === '0' ? current === undefined : !current || current.generation === generationNotMatch) throw conditionNotMet();
  }
  const metagenerationMatch = param('ifMetagenerationMatch');
  if (metagenerationMatch !== null && (!current || String(current.metageneration) !== metagenerationMatch)) throw conditionNotMet();
  const metagenerationNotMatch = param('ifMetagenerationNotMatch');
  if (metagenerationNotMatch !== null && (!current || String(current.metageneration) === metagenerationNotMatch)) throw conditionNotMet();
}

/** Object names compare by their UTF-8 bytes, as GCS lists them. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export class GcsStore {
  private readonly buckets = new Map<string, Map<string, StoredObject>>();
  readonly sessions = new Map<string, UploadSession>();
  /** Generations are microsecond timestamps in GCS; any increasing int64 will do. */
  private lastGeneration = BigInt(Date.now()) * 1000n;

  createBucket(name: string): void {
    if (!this.buckets.has(name)) this.buckets.set(name, new Map());
  }

  hasBucket(name: string): boolean {
    return this.buckets.has(name);
  }

  objects(bucket: string): Map<string, StoredObject> {
    const objects = this.buckets.get(bucket);
    if (!objects) throw new HttpError(404, 'notFound', 'The specified bucket does not exist.');
    return objects;
  }

  get(bucket: string, name: string): StoredObject | undefined {
    return this.objects(bucket).get(name);
  }

  /** Live object, or a specific generation of it (404 for any other generation). */
  getExisting(bucket: string, name: string, generation?: string | null): StoredObject {
    const object = this.get(bucket, name);
    if (!object || (generation && object.generation !== generation)) throw notFound(bucket, name);
    return object;
  }

  /** Names in UTF-8 byte order. */
  sortedNames(bucket: string): string[] {
    return [...this.objects(bucket).keys()].sort(compareNames);
  }

  private newGeneration(): string {
    const now = BigInt(Date.now()) * 1000n;
    this.lastGeneration = now > this.lastGeneration ? now : this.lastGeneration + 1n;
    return this.lastGeneration.toString();
  }

  /** Creates a new generation of `name` (a new object, or a replacement of the live one). */
  put(
    bucket: string,
    name: string,
    data: Buffer,
    resource: WritableResource,
    options: { componentCount?: number; preconditions?: URLSearchParams; md5Hash?: string; crc32c?: string } = {},
  ): StoredObject {
    const objects = this.objects(bucket);
    validateName(name);
    if (options.preconditions) checkPreconditions(objects.get(name), options.preconditions);
    const md5 = createHash('md5').update(data).digest('base64');
    if (options.md5Hash !== undefined && options.md5Hash !== md5) {
      throw new HttpError(400, 'invalid', `Provided MD5 hash "${options.md5Hash}" doesn't match calculated MD5 hash "${md5}".`);
    }
    const crc = crc32cBase64(data);
    if (options.crc32c !== undefined && options.crc32c !== crc) {
      throw new HttpError(400, 'invalid', `Provided CRC32C "${options.crc32c}" doesn't match calculated CRC32C "${crc}".`);
    }
    const now = new Date().toISOString();
    const object: StoredObject = {
      ...resource,
      contentType: resource.contentType ?? 'application/octet-stream',
      bucket,
      name,
      data,
      generation: this.newGeneration(),
      metageneration: 1,
      crc32c: crc,
      timeCreated: now,
      updated: now,
    };
    if (options.componentCount === undefined) object.md5Hash = md5;
    else object.componentCount = options.componentCount;
    objects.set(name, object);
    return object;
  }

  delete(bucket: string, name: string, query: URLSearchParams): void {
    const objects = this.objects(bucket);
    const current = objects.get(name);
    if (!current || (query.get('generation') && query.get('generation') !== current.generation)) throw notFound(bucket, name);
    checkPreconditions(current, query);
    objects.delete(name);
  }

  patch(bucket: string, name: string, body: unknown, query: URLSearchParams): StoredObject {
    const current = this.getExisting(bucket, name, query.get('generation'));
    checkPreconditions(current, query);
    const patched = patchResource(current, body);
    for (const field of WRITABLE_FIELDS) delete current[field];
    delete current.metadata;
    Object.assign(current, patched);
    current.metageneration += 1;
    current.updated = new Date().toISOString();
    return current;
  }

  newSession(bucket: string, name: string, resource: WritableResource, preconditions: URLSearchParams): UploadSession {
    this.objects(bucket);
    validateName(name);
    const session: UploadSession = { id: randomBytes(16).toString('hex'), bucket, name, resource, preconditions, chunks: [], received: 0 };
    this.sessions.set(session.id, session);
    return session;
  }
}

/** Naming rules of https://cloud.google.com/storage/docs/objects#naming. */
function validateName(name: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0 || bytes > 1024) throw new HttpError(400, 'invalid', 'The object name must be 1-1024 bytes of UTF-8.');
  if (/[\r\n]/.test(name)) throw new HttpError(400, 'invalid', 'Object names cannot contain carriage return or line feed characters.');
  if (name === '.' || name === '..') throw new HttpError(400, 'invalid', 'Object names cannot be "." or "..".');
  if (name.startsWith('.well-known/acme-challenge/')) throw new HttpError(400, 'invalid', 'Object names cannot start with .well-known/acme-challenge/.');
}

/** The object resource (`storage#object`) as objects.get / insert / list return it. */
export function objectResource(object: StoredObject, baseUrl: string): Record<string, unknown> {
  const encoded = encodeURIComponent(object.name);
  const resource: Record<string, unknown> = {
    kind: 'storage#object',
    id: `${object.bucket}/${object.name}/${object.generation}`,
    selfLink: `${baseUrl}/storage/v1/b/${object.bucket}/o/${encoded}`,
    mediaLink: `${baseUrl}/download/storage/v1/b/${object.bucket}/o/${encoded}?generation=${object.generation}&alt=media`,
    name: object.name,
    bucket: object.bucket,
    generation: object.generation,
    metageneration: String(object.metageneration),
    contentType: object.contentType,
    storageClass: 'STANDARD',
    size: String(object.data.length),
    crc32c: object.crc32c,
    etag: Buffer.from(`${object.generation}/${object.metageneration}`).toString('base64'),
    timeCreated: object.timeCreated,
    updated: object.updated,
    timeStorageClassUpdated: object.timeCreated,
  };
  if (object.md5Hash !== undefined) resource.md5Hash = object.md5Hash;
  if (object.componentCount !== undefined) resource.componentCount = object.componentCount;
  for (const field of WRITABLE_FIELDS) {
    if (field !== 'contentType' && object[field] !== undefined) resource[field] = object[field];
  }
  if (object.metadata) resource.metadata = { ...object.metadata };
  return resource;
}
