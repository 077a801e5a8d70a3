/**
 * UFS adapter for Google Cloud Storage (`gs://bucket/prefix` mounts), on the official
 * @google-cloud/storage client. Each operation lives in its own module; this class wires
 * them to the UfsAdapter contract and builds the client. See README.md.
 */
import type { Readable } from 'node:stream';
import { Storage, type StorageOptions } from '@google-cloud/storage';
import { ufsError } from '../errors';
import {
  MIN_PART_SIZE,
  type BucketSettingName,
  type ByteRange,
  type CompletedPart,
  type CopyRequest,
  type ListEntry,
  type ListOptions,
  type MultipartUpload,
  type ObjectInfo,
  type ObjectMetadata,
  type PartInfo,
  type ReadOptions,
  type UfsAdapter,
  type UfsCapabilities,
  type UploadPartRequest,
  type WriteRequest,
  type WriteResult,
} from '../types';
import type { GcsContext } from './gcs-context';
import { getBucketSetting, putBucketSetting } from './gcs-bucket-settings';
import { copyObject } from './gcs-copy';
import { mapGcsError } from './gcs-errors';
import { throwIfAborted } from '../shared/abort';
import { listObjects } from './gcs-list';
import { md5Etag, mergeMetadata, toResource } from './gcs-metadata';
import { abortUpload, cleanupAbandoned, completeUpload, createUpload, listParts, listUploads, loadUpload, uploadPart } from './gcs-multipart';
import { GcsNames } from './gcs-names';
import { readObject, statObject } from './gcs-read';
import { putObject } from './gcs-upload';
import { parseGcsUri } from './gcs-uri';

const MiB = 1024 * 1024;

/** Connection and credential options of a mount (everything but the bucket and prefix). */
export interface GcsConnectionOptions {
  /**
   * Custom JSON API endpoint (emulators, private endpoints), e.g. "http://127.0.0.1:4443".
   * Without credentials, requests to it are not authenticated.
   */
  apiEndpoint?: string;
  projectId?: string;
  /** Path of a service-account key file (JSON). */
  keyFilename?: string;
  /** Service-account credentials (client_email, private_key). */
  credentials?: StorageOptions['credentials'];
  /** A ready auth client (e.g. a DownscopedClient). */
  authClient?: StorageOptions['authClient'];
  /**
   * Authenticate requests to a custom `apiEndpoint`. Default: true when keyFilename,
   * credentials or authClient is given, false otherwise (anonymous, as emulators expect).
   */
  useAuthWithCustomEndpoint?: boolean;
  /** The library's retry settings (defaults: 3 retries with exponential backoff on 408/429/5xx). */
  retryOptions?: StorageOptions['retryOptions'];
  /** An existing client; all the options above are then ignored. */
  storage?: Storage;
  /** Bodies up to this size go in one simple upload (default 4 MiB). */
  simpleUploadThreshold?: number;
  /** Resumable upload chunk size, a multiple of 256 KiB (default 4 MiB). */
  resumableChunkSize?: number;
  /** objects.list page size (default 1000, the GCS maximum). */
  listPageSize?: number;
  /** Parallel requests for compose levels and deletes (default 8). */
  concurrency?: number;
  /**
   * A download that receives nothing for this long while being read fails with Unavailable
   * (default 60 s): the library's HTTP layer does not notice a connection dropped mid-body.
   */
  readIdleTimeoutMs?: number;
  /**
   * A JSON API request or simple upload not answered in this time fails with Unavailable
   * (default 60 s; without it the library waits forever). Resumable upload chunks and
   * downloads are watched by the gateway's idle watchdogs instead.
   */
  requestTimeoutMs?: number;
  /** Minimum size of non-final multipart parts. Default S3's 5 MiB; for tests only. */
  minPartSize?: number;
}

export interface GcsAdapterOptions extends GcsConnectionOptions {
  bucket: string;
  /** "" or a prefix ending in "/" (as parseGcsUri returns it). */
  prefix?: string;
}

/** The Storage client for `options`; with a custom endpoint and no credentials it never contacts a Google host. */
export function createStorageClient(options: GcsConnectionOptions): Storage {
  if (options.storage) return options.storage;
  const hasCredentials = options.keyFilename !== undefined || options.credentials !== undefined || options.authClient !== undefined;
  const custom = options.apiEndpoint !== undefined;
  const storageOptions: StorageOptions = {
    ...(custom ? { apiEndpoint: options.apiEndpoint } : {}),
    ...(options.keyFilename !== undefined ? { keyFilename: options.keyFilename } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    ...(options.authClient !== undefined ? { authClient: options.authClient } : {}),
    ...(options.retryOptions !== undefined ? { retryOptions: options.retryOptions } : {}),
    useAuthWithCustomEndpoint: options.useAuthWithCustomEndpoint ?? hasCredentials,
    // The client's JSON API requests (and simple uploads) have no timeout unless given one.
    timeout: positive(options.requestTimeoutMs, 60_000, 'requestTimeoutMs'),
  };
  // No project lookup (which could query the metadata server) for an anonymous custom endpoint.
  const projectId = options.projectId ?? (custom && !hasCredentials ? 'ringcache-local' : undefined);
  if (projectId !== undefined) storageOptions.projectId = projectId;
  return new Storage(storageOptions);
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

export class GcsAdapter implements UfsAdapter {
  readonly kind = 'gcs';
  readonly capabilities: UfsCapabilities = {
    nativeCopy: true,
    nativeMultipartComplete: true,
    anyDelimiter: true,
    fileAndPrefixWithSameName: true,
  };
  private readonly ctx: GcsContext;
  private closed = false;

  constructor(options: GcsAdapterOptions) {
    const prefix = options.prefix ?? '';
    if (prefix !== '' && !prefix.endsWith('/')) throw new RangeError('the GCS prefix must be empty or end with "/"');
    const chunkSize = positive(options.resumableChunkSize, 4 * MiB, 'resumableChunkSize');
    if (chunkSize % (256 * 1024) !== 0) throw new RangeError('resumableChunkSize must be a multiple of 256 KiB');
    const storage = createStorageClient(options);
    this.ctx = {
      storage,
      bucket: storage.bucket(options.bucket),
      names: new GcsNames(prefix),
      simpleUploadThreshold: positive(options.simpleUploadThreshold, 4 * MiB, 'simpleUploadThreshold'),
      resumableChunkSize: chunkSize,
      listPageSize: Math.min(positive(options.listPageSize, 1000, 'listPageSize'), 1000),
      readIdleTimeoutMs: positive(options.readIdleTimeoutMs, 60_000, 'readIdleTimeoutMs'),
      uploadRetries: storage.retryOptions.autoRetry === false ? 0 : (storage.retryOptions.maxRetries ?? 3),
      minPartSize: options.minPartSize ?? MIN_PART_SIZE,
      concurrency: positive(options.concurrency, 8, 'concurrency'),
    };
  }

  get bucketName(): string {
    return this.ctx.bucket.name;
  }

  get prefix(): string {
    return this.ctx.names.prefix;
  }

  private assertOpen(): void {
    if (this.closed) throw ufsError('Unavailable', 'the GCS adapter was closed');
  }

  async stat(key: string, signal?: AbortSignal): Promise<ObjectInfo> {
    this.assertOpen();
    return statObject(this.ctx, key, signal);
  }

  async read(key: string, range: ByteRange | undefined, options: ReadOptions = {}): Promise<Readable> {
    this.assertOpen();
    return readObject(this.ctx, key, range, options);
  }

  list(options: ListOptions): AsyncIterable<ListEntry> {
    this.assertOpen();
    return listObjects(this.ctx, options);
  }

  async write(request: WriteRequest): Promise<WriteResult> {
    this.assertOpen();
    const name = this.ctx.names.assertWritable(request.key);
    const result = await putObject(this.ctx, {
      name,
      body: request.body,
      signal: request.signal,
      action: 'upload object',
      commit: async () => toResource(mergeMetadata(request.metadata, await request.beforeCommit?.())),
    });
    return { etag: md5Etag(result.md5), size: result.size, lastModified: new Date(result.resource.updated ?? Date.now()) };
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    this.assertOpen();
    throwIfAborted(signal);
    const name = this.ctx.names.assertWritable(key);
    try {
      await this.ctx.bucket.file(name).delete({ ignoreNotFound: true });
    } catch (err) {
      throw mapGcsError(err, 'delete object');
    }
  }

  async copy(request: CopyRequest): Promise<WriteResult> {
    this.assertOpen();
    return copyObject(this.ctx, request);
  }

  async createMultipartUpload(key: string, metadata: ObjectMetadata, signal?: AbortSignal): Promise<MultipartUpload> {
    this.assertOpen();
    throwIfAborted(signal);
    return createUpload(this.ctx, key, metadata);
  }

  async uploadPart(request: UploadPartRequest): Promise<PartInfo> {
    this.assertOpen();
    return uploadPart(this.ctx, request);
  }

  async listParts(key: string, uploadId: string, signal?: AbortSignal): Promise<PartInfo[]> {
    this.assertOpen();
    throwIfAborted(signal);
    return listParts(this.ctx, key, uploadId);
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[], signal?: AbortSignal, late?: Partial<ObjectMetadata>): Promise<WriteResult> {
    this.assertOpen();
    return completeUpload(this.ctx, key, uploadId, parts, signal, late);
  }

  async abortMultipartUpload(key: string, uploadId: string, signal?: AbortSignal): Promise<void> {
    this.assertOpen();
    throwIfAborted(signal);
    return abortUpload(this.ctx, key, uploadId);
  }

  listMultipartUploads(prefix: string, signal?: AbortSignal): AsyncIterable<MultipartUpload> {
    this.assertOpen();
    throwIfAborted(signal);
    return listUploads(this.ctx, prefix);
  }

  async getMultipartUpload(key: string, uploadId: string, signal?: AbortSignal): Promise<MultipartUpload & { metadata: ObjectMetadata }> {
    this.assertOpen();
    throwIfAborted(signal);
    return loadUpload(this.ctx, key, uploadId);
  }

  /** Removes uploads initiated more than `olderThanMs` ago and stale temporaries; returns the count removed. */
  async cleanupAbandonedUploads(olderThanMs: number, signal?: AbortSignal): Promise<number> {
    this.assertOpen();
    throwIfAborted(signal);
    return cleanupAbandoned(this.ctx, olderThanMs);
  }

  /** The client holds no timers; its pooled keep-alive sockets close on their own when idle. */
  getBucketSetting(name: BucketSettingName, signal?: AbortSignal): Promise<unknown> {
    return getBucketSetting(this.ctx, name, signal);
  }

  putBucketSetting(name: BucketSettingName, value: unknown, signal?: AbortSignal): Promise<void> {
    return putBucketSetting(this.ctx, name, value, signal);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** `gs://bucket[/prefix]` plus connection options. Throws GcsUriError for a malformed URI. */
export function createGcsAdapterFromUri(uri: string, options: GcsConnectionOptions = {}): GcsAdapter {
  const { bucket, prefix } = parseGcsUri(uri);
  return new GcsAdapter({ ...options, bucket, prefix });
}

export { parseGcsUri, GcsUriError, type GcsLocation } from './gcs-uri';
export { planComposeTree, MAX_COMPOSE_SOURCES } from './compose-tree';
