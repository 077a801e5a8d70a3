/**
 * TEST SUPPORT ONLY (never imported by the gateway): starts a real s3rver on 127.0.0.1 with
 * a fresh bucket for the S3 adapter's tests.
 *
 * s3rver 3.7.1 lacks operations the adapter uses; unless `extensions: false`, a middleware
 * placed in front of s3rver's router adds them on top of s3rver's own on-disk layout, the
 * way S3 documents them:
 *  - ListMultipartUploads, ListParts, AbortMultipartUpload, UploadPartCopy (s3rver answers
 *    NotImplemented / MethodNotAllowed),
 *  - NoSuchUpload for UploadPart/Complete on unknown uploads (s3rver creates them silently),
 *  - CompleteMultipartUpload part checks and the S3 multipart ETag md5(part md5s)-N
 *    (s3rver checks nothing and returns the MD5 of the whole object),
 *  - If-Match on GET/HEAD and x-amz-copy-source-if-match (s3rver ignores them),
 *  - x-amz-copy-source decoded with decodeURIComponent like S3 (s3rver uses decodeURI),
 *  - ListObjects in UTF-8 byte order with every common prefix (s3rver sorts by file name, so
 *    "a/b" comes before "a-b", and misses common prefixes whose objects are two levels down),
 *    and ListObjectsV2 continuation tokens that work on OpenSSL 3 (s3rver's use DES).
 * Everything else (PUT/GET/HEAD/DELETE/ListObjectsV2/CopyObject/Create/UploadPart) is s3rver.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { compareUtf8 } from '../../../ufs-adapters/utf8-order';

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-require-imports */
const S3rver: any = require('s3rver');
const S3Error: any = require('s3rver/lib/models/error');
const S3Object: any = require('s3rver/lib/models/object');

const OBJECT_SUFFIX = '._S3rver_object';

async function objectKeys(dir: string, relative: string, out: string[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await objectKeys(path.join(dir, entry.name), `${relative}${entry.name}/`, out);
    else if (entry.name.endsWith(OBJECT_SUFFIX)) out.push(relative + entry.name.slice(0, -OBJECT_SUFFIX.length));
  }
}

type ListedEntry = { key: string } | { prefix: string };

/**
 * One listing page as S3 computes it: keys in UTF-8 byte order, rolled up at the first
 * `delimiter` after `prefix`, keys and common prefixes both counting towards `maxKeys`.
 * `after` resumes strictly after a key, or after everything under a common prefix.
 */
async function listPage(
  store: any,
  bucket: string,
  options: { prefix: string; delimiter: string; after?: string; afterIsPrefix?: boolean; maxKeys: number },
): Promise<{ entries: ListedEntry[]; isTruncated: boolean }> {
  const { prefix, delimiter, after, afterIsPrefix, maxKeys } = options;
  const all: string[] = [];
  await objectKeys(store.getBucketPath(bucket), '', all);
  all.sort(compareUtf8);
  const entries: ListedEntry[] = [];
  let lastPrefix: string | undefined;
  for (const key of all) {
    if (!key.startsWith(prefix)) continue;
    if (after !== undefined && (compareUtf8(key, after) <= 0 || (afterIsPrefix && key.startsWith(after)))) continue;
    const at = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    const entry: ListedEntry = at === -1 ? { key } : { prefix: key.slice(0, at + delimiter.length) };
    if ('prefix' in entry) {
      if (entry.prefix === lastPrefix) continue; // the keys under one prefix are contiguous
      lastPrefix = entry.prefix;
    }
    if (entries.length >= maxKeys) return { entries, isTruncated: true };
    entries.push(entry);
  }
  return { entries, isTruncated: false };
}

/** s3rver's ListObjects (v1) on top of `listPage`. */
function correctedListObjects(store: any) {
  return async (bucket: string, options: { delimiter?: string; startAfter?: string; prefix?: string; maxKeys?: number }) => {
    const page = await listPage(store, bucket, {
      prefix: options.prefix ?? '',
      delimiter: options.delimiter ?? '',
      after: options.startAfter || undefined,
      maxKeys: options.maxKeys ?? 1000,
    });
    const keys = page.entries.flatMap((e) => ('key' in e ? [e.key] : []));
    const objects = await Promise.all(keys.map(async (key) => new S3Object(bucket, key, null, await store.getMetadata(bucket, key))));
    return { objects, commonPrefixes: page.entries.flatMap((e) => ('prefix' in e ? [e.prefix] : [])), isTruncated: page.isTruncated };
  };
}

/**
 * ListObjectsV2. s3rver's own handler builds continuation tokens with DES, which OpenSSL 3
 * (Node >= 17) refuses, so every truncated listing fails; tokens here are base64url JSON.
 */
async function listObjectsV2(store: any, bucket: string, query: Record<string, string>) {
  const prefix = query.prefix ?? '';
  const delimiter = query.delimiter ?? '';
  const maxKeys = Math.min(1000, query['max-keys'] !== undefined ? Number(query['max-keys']) : 1000);
  let after: string | undefined = query['start-after'] || undefined;
  let afterIsPrefix = false;
  if (query['continuation-token']) {
    try {
      ({ after, afterIsPrefix } = JSON.parse(Buffer.from(query['continuation-token'], 'base64url').toString('utf8')));
    } catch {
      throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
    }
  }
  const page = await listPage(store, bucket, { prefix, delimiter, after, afterIsPrefix, maxKeys });
  const last = page.entries[page.entries.length - 1];
  const token = page.isTruncated && last ? Buffer.from(JSON.stringify('key' in last ? { after: last.key } : { after: last.prefix, afterIsPrefix: true })).toString('base64url') : undefined;
  const keys = page.entries.flatMap((e) => ('key' in e ? [e.key] : []));
  const contents = await Promise.all(
    keys.map(async (key) => {
      const metadata = await store.getMetadata(bucket, key);
      return { Key: key, LastModified: new Date(metadata['last-modified']).toISOString(), ETag: metadata.etag, Size: metadata['content-length'], StorageClass: 'STANDARD' };
    }),
  );
  return {
    ListBucketResult: {
      '@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
      Name: bucket,
      Prefix: prefix,
      StartAfter: query['start-after'] || undefined,
      ContinuationToken: query['continuation-token'] || undefined,
      NextContinuationToken: token,
      KeyCount: page.entries.length,
      MaxKeys: maxKeys,
      Delimiter: delimiter || undefined,
      IsTruncated: page.isTruncated,
      Contents: contents,
      CommonPrefixes: page.entries.flatMap((e) => ('prefix' in e ? [{ Prefix: e.prefix }] : [])),
    },
  };
}

interface S3rverFixtureOptions {
  bucket?: string;
  /** Add the operations s3rver lacks (default true). */
  extensions?: boolean;
  /** Honour If-Match on GET/HEAD (default true; only with extensions). */
  honorIfMatch?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
}

export interface S3rverFixture {
  endpoint: string;
  bucket: string;
  directory: string;
  /** Every request the server received, in order (server-side instrumentation). */
  requests: RecordedRequest[];
  /** Internal errors of the server (answered as 500 InternalError). */
  errors: unknown[];
  close(): Promise<void>;
}

const MIN_PART_SIZE = 5 * 1024 * 1024;

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  req: NodeJS.ReadableStream;
  status: number;
  body: unknown;
  store: any;
  set(name: string, value: string): void;
}

async function readText(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

const unquote = (etag: string): string => etag.replace(/&quot;/g, '').replace(/"/g, '').trim();

function extensionMiddleware(options: { honorIfMatch: boolean }) {
  return async (ctx: KoaContext, next: () => Promise<void>): Promise<void> => {
    const match = /^\/([^/]+)(?:\/(.*))?$/.exec(ctx.path);
    if (!match) return next();
    const bucket = decodeURIComponent(match[1]);
    const key = match[2] ? decodeURIComponent(match[2]) : undefined;
    const store = ctx.store;
    const uploadsDir = store.getResourcePath(bucket, undefined, 'uploads') as string;
    const query = ctx.query;

    const uploadDir = async (uploadId: string | undefined, forKey: string): Promise<string> => {
      if (!uploadId || !/^[0-9a-f]+$/.test(uploadId)) throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId ?? '' });
      const dir = path.join(uploadsDir, uploadId);
      const storedKey = await readFile(path.join(dir, 'key'), 'utf8').catch(() => undefined);
      if (storedKey !== forKey) throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId });
      return dir;
    };
    const partsOf = async (dir: string) => {
      const names = await readdir(dir);
      const numbers = names.filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
      return Promise.all(
        numbers.map(async (n) => {
          const file = path.join(dir, String(n));
          const [info, md5] = await Promise.all([stat(file), readFile(`${file}.md5`, 'utf8')]);
          return { number: n, size: info.size, md5: md5.trim(), lastModified: info.mtime };
        }),
      );
    };

    if (key === undefined) {
      if (ctx.method === 'GET' && query['list-type'] === '2' && (await store.getBucket(bucket))) {
        ctx.body = await listObjectsV2(store, bucket, query);
        return;
      }
      if (ctx.method === 'GET' && 'uploads' in query) {
        const prefix = query.prefix ?? '';
        const ids = await readdir(uploadsDir).catch(() => [] as string[]);
        const uploads = (
          await Promise.all(
            ids.map(async (id) => {
              const dir = path.join(uploadsDir, id);
              const k = await readFile(path.join(dir, 'key'), 'utf8').catch(() => undefined);
              if (k === undefined) return undefined;
              const info = await stat(path.join(dir, 'key'));
              return { key: k, uploadId: id, initiated: info.mtime };
            }),
          )
        )
          .filter((u): u is { key: string; uploadId: string; initiated: Date } => u !== undefined && u.key.startsWith(prefix))
          .sort((a, b) => compareUtf8(a.key, b.key) || a.initiated.getTime() - b.initiated.getTime() || compareUtf8(a.uploadId, b.uploadId));
        const keyMarker = query['key-marker'] ?? '';
        const idMarker = query['upload-id-marker'] ?? '';
        let start = 0;
        if (keyMarker) {
          const at = idMarker ? uploads.findIndex((u) => u.key === keyMarker && u.uploadId === idMarker) : -1;
          start = at >= 0 ? at + 1 : uploads.findIndex((u) => compareUtf8(u.key, keyMarker) > 0);
          if (start < 0) start = uploads.length;
        }
        const max = Math.min(1000, Number(query['max-uploads'] ?? 1000));
        const page = uploads.slice(start, start + max);
        const truncated = start + max < uploads.length;
        const last = page[page.length - 1];
        const owner = { ID: '123456789000', DisplayName: 'S3rver' };
        ctx.body = {
          ListMultipartUploadsResult: {
            '@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
            Bucket: bucket,
            KeyMarker: keyMarker,
            UploadIdMarker: idMarker,
            NextKeyMarker: truncated && last ? last.key : undefined,
            NextUploadIdMarker: truncated && last ? last.uploadId : undefined,
            Prefix: prefix,
            MaxUploads: max,
            IsTruncated: truncated,
            Upload: page.map((u) => ({
              Key: u.key,
              UploadId: u.uploadId,
              Initiator: owner,
              Owner: owner,
              StorageClass: 'STANDARD',
              Initiated: u.initiated.toISOString(),
            })),
          },
        };
        return;
      }
      return next();
    }

    if ('uploadId' in query) {
      const uploadId = query.uploadId;
      if (ctx.method === 'GET') {
        const dir = await uploadDir(uploadId, key);
        const marker = Number(query['part-number-marker'] ?? 0);
        const max = Math.min(1000, Number(query['max-parts'] ?? 1000));
        const all = (await partsOf(dir)).filter((p) => p.number > marker);
        const page = all.slice(0, max);
        ctx.body = {
          ListPartsResult: {
            '@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            PartNumberMarker: marker,
            NextPartNumberMarker: page.length > 0 ? page[page.length - 1].number : undefined,
            MaxParts: max,
            IsTruncated: all.length > page.length,
            Part: page.map((p) => ({ PartNumber: p.number, LastModified: p.lastModified.toISOString(), ETag: `"${p.md5}"`, Size: p.size })),
          },
        };
        return;
      }
      if (ctx.method === 'DELETE') {
        const dir = await uploadDir(uploadId, key);
        await rm(dir, { recursive: true, force: true });
        ctx.status = 204;
        return;
      }
      if (ctx.method === 'PUT') {
        const dir = await uploadDir(uploadId, key);
        const copySource = ctx.headers['x-amz-copy-source'];
        if (copySource === undefined) return next();
        // UploadPartCopy
        const source = decodeURIComponent(copySource.replace(/^\//, ''));
        const slash = source.indexOf('/');
        const [srcBucket, srcKey] = [source.slice(0, slash), source.slice(slash + 1)];
        const metadata = await store.getMetadata(srcBucket, srcKey).catch(() => undefined);
        if (!metadata) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: srcKey });
        const ifMatch = ctx.headers['x-amz-copy-source-if-match'];
        if (ifMatch !== undefined && unquote(ifMatch) !== unquote(metadata.etag)) throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
        const size = Number(metadata['content-length']);
        const range = /^bytes=(\d+)-(\d+)$/.exec(ctx.headers['x-amz-copy-source-range'] ?? '');
        const [first, last] = range ? [Number(range[1]), Number(range[2])] : [0, size - 1];
        if (last >= size || first > last) throw new S3Error('InvalidRange', 'The requested range is not satisfiable');
        const partFile = path.join(dir, String(Number(query.partNumber)));
        const hash = createHash('md5');
        await pipeline(
          createReadStream(store.getResourcePath(srcBucket, srcKey, 'object'), { start: first, end: last }),
          new Transform({
            transform(chunk: Buffer, _e, cb) {
              hash.update(chunk);
              cb(null, chunk);
            },
          }),
          createWriteStream(partFile),
        );
        const md5 = hash.digest('hex');
        await writeFile(`${partFile}.md5`, md5);
        ctx.body = { CopyPartResult: { LastModified: new Date().toISOString(), ETag: `"${md5}"` } };
        return;
      }
      if (ctx.method === 'POST') {
        const dir = await uploadDir(uploadId, key);
        const xml = await readText(ctx.req);
        const requested = [...xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => ({
          number: Number(/<PartNumber>(\d+)<\/PartNumber>/.exec(m[1])?.[1]),
          etag: unquote(/<ETag>([\s\S]*?)<\/ETag>/.exec(m[1])?.[1] ?? ''),
        }));
        if (requested.length === 0) throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
        requested.forEach((p, i) => {
          if (i > 0 && p.number <= requested[i - 1].number) throw new S3Error('InvalidPartOrder', 'The list of parts was not in ascending order.');
        });
        const stored = new Map((await partsOf(dir)).map((p) => [p.number, p]));
        const used = requested.map((p) => {
          const part = stored.get(p.number);
          if (!part || part.md5 !== p.etag) throw new S3Error('InvalidPart', 'One or more of the specified parts could not be found.', { PartNumber: p.number });
          return part;
        });
        used.forEach((p, i) => {
          if (i < used.length - 1 && p.size < MIN_PART_SIZE) throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.');
        });
        const etag = `${createHash('md5').update(Buffer.concat(used.map((p) => Buffer.from(p.md5, 'hex')))).digest('hex')}-${used.length}`;
        await store.putObjectMultipart(bucket, uploadId, requested);
        await writeFile(store.getResourcePath(bucket, key, 'object.md5'), etag);
        ctx.body = {
          CompleteMultipartUploadResult: {
            '@': { xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/' },
            Location: `http://127.0.0.1/${bucket}/${key}`,
            Bucket: bucket,
            Key: key,
            ETag: `"${etag}"`,
          },
        };
        return;
      }
      return next();
    }

    if (ctx.method === 'PUT' && ctx.headers['x-amz-copy-source'] !== undefined) {
      const raw = ctx.headers['x-amz-copy-source'] as string;
      const decoded = decodeURIComponent(raw.replace(/^\//, ''));
      const ifMatch = ctx.headers['x-amz-copy-source-if-match'];
      if (ifMatch !== undefined) {
        const slash = decoded.indexOf('/');
        const metadata = await store.getMetadata(decoded.slice(0, slash), decoded.slice(slash + 1)).catch(() => undefined);
        if (metadata && unquote(ifMatch) !== unquote(metadata.etag)) throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
      }
      // s3rver applies decodeURI, which keeps %2B, %26, %3D, ... encoded.
      ctx.headers['x-amz-copy-source'] = encodeURI(decoded);
      return next();
    }

    if ((ctx.method === 'GET' || ctx.method === 'HEAD') && options.honorIfMatch && ctx.headers['if-match'] !== undefined) {
      const metadata = await store.getMetadata(bucket, key).catch(() => undefined);
      if (metadata && unquote(ctx.headers['if-match'] as string) !== unquote(metadata.etag)) {
        throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-Match' });
      }
    }
    return next();
  };
}

/** Starts s3rver on 127.0.0.1 (random port) with one empty bucket in a fresh directory. */
export async function startS3rver(options: S3rverFixtureOptions = {}): Promise<S3rverFixture> {
  const bucket = options.bucket ?? 'ringcache-test';
  const directory = await mkdtemp(path.join(os.tmpdir(), 'ringcache-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket }] });
  const requests: RecordedRequest[] = [];
  const errors: unknown[] = [];
  server.on('error', (err: { status?: number }) => {
    if (!err.status || err.status >= 500) errors.push(err);
  });
  const record = async (ctx: KoaContext, next: () => Promise<void>) => {
    requests.push({ method: ctx.method, path: ctx.path, query: { ...ctx.query }, headers: { ...ctx.headers } });
    await next();
  };
  // Before s3rver's router (the last middleware), after its XML encoder.
  const middleware = server.middleware as unknown[];
  const extensions = options.extensions === false ? [] : [extensionMiddleware({ honorIfMatch: options.honorIfMatch ?? true })];
  middleware.splice(middleware.length - 1, 0, record, ...extensions);
  if (options.extensions !== false) server.store.listObjects = correctedListObjects(server.store);
  const { port } = (await server.run()) as { address: string; port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    directory,
    requests,
    errors,
    async close() {
      await server.close().catch(() => undefined);
      await rm(directory, { recursive: true, force: true });
    },
  };
}
