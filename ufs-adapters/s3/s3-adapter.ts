/**
 * UFS adapter for S3 and S3-compatible object stores (`s3://bucket/prefix` mounts): AWS S3,
 * MinIO, Ceph RGW, Dell ECS, Alibaba OSS, ... Each operation lives in its own module; this
 * class wires them to the UfsAdapter contract. See README.md for what maps to what.
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import type {
  BucketSettingName,
  ByteRange,
  CompletedPart,
  CopyRequest,
  ListEntry,
  ListOptions,
  MultipartUpload,
  ObjectInfo,
  ObjectMetadata,
  PartInfo,
  ReadOptions,
  UfsAdapter,
  UfsCapabilities,
  UploadPartRequest,
  WriteRequest,
  WriteResult,
} from '../types';
import { parseS3Uri, resolveS3Config, type ResolvedS3Config, type S3AdapterConfig, type S3AdapterOptions } from './s3-config';
import { createS3Client, createS3Context } from './s3-context';
import { copyObject } from './s3-copy';
import { listObjects } from './s3-list';
import { abortUpload, cleanupAbandoned, completeUpload, createUpload, getUpload, listParts, listUploads } from './s3-multipart';
import { uploadPart } from './s3-part-upload';
import { readObject, readObjectWithInfo, statObject } from './s3-read';
import { createUploadMemory, type MultipartContext } from './s3-upload-memory';
import { writeObject } from './s3-write';
import { getBucketSetting, putBucketSetting } from './s3-bucket-settings';

export class S3Adapter implements UfsAdapter {
  readonly kind = 's3';
  readonly capabilities: UfsCapabilities = {
    nativeCopy: true,
    nativeMultipartComplete: true,
    anyDelimiter: true,
    fileAndPrefixWithSameName: true,
  };
  /** The SDK client (exposed for instrumentation: `client.middlewareStack.add`). */
  readonly client: S3Client;
  readonly config: ResolvedS3Config;
  private readonly ctx: MultipartContext;

  constructor(config: S3AdapterConfig) {
    this.config = resolveS3Config(config);
    this.client = createS3Client(this.config);
    this.ctx = { ...createS3Context(this.config, this.client), uploads: createUploadMemory() };
  }

  get bucket(): string {
    return this.config.bucket;
  }

  stat(key: string, signal?: AbortSignal): Promise<ObjectInfo> {
    return statObject(this.ctx, key, signal);
  }

  read(key: string, range: ByteRange | undefined, options: ReadOptions = {}): Promise<Readable> {
    return readObject(this.ctx, key, range, options);
  }

  readWithInfo(key: string, range: ByteRange, options: { signal?: AbortSignal } = {}): Promise<{ info: ObjectInfo; body: Readable }> {
    return readObjectWithInfo(this.ctx, key, range, options);
  }

  list(options: ListOptions): AsyncIterable<ListEntry> {
    return listObjects(this.ctx, options);
  }

  write(request: WriteRequest): Promise<WriteResult> {
    return writeObject(this.ctx, request);
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    const storeKey = this.ctx.storeKey(key);
    // S3 answers 204 for missing keys; some compatible stores answer 404.
    await this.ctx
      .call('delete object', signal, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: storeKey }), { abortSignal: signal }))
      .catch((err: { kind?: string }) => {
        if (err.kind !== 'NotFound') throw err;
      });
  }

  copy(request: CopyRequest): Promise<WriteResult> {
    return copyObject(this.ctx, request);
  }

  createMultipartUpload(key: string, metadata: ObjectMetadata, signal?: AbortSignal): Promise<MultipartUpload> {
    return createUpload(this.ctx, key, metadata, signal);
  }

  uploadPart(request: UploadPartRequest): Promise<PartInfo> {
    return uploadPart(this.ctx, request);
  }

  listParts(key: string, uploadId: string, signal?: AbortSignal): Promise<PartInfo[]> {
    return listParts(this.ctx, key, uploadId, signal);
  }

  completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[], signal?: AbortSignal): Promise<WriteResult> {
    return completeUpload(this.ctx, key, uploadId, parts, signal);
  }

  abortMultipartUpload(key: string, uploadId: string, signal?: AbortSignal): Promise<void> {
    return abortUpload(this.ctx, key, uploadId, signal);
  }

  listMultipartUploads(prefix: string, signal?: AbortSignal): AsyncIterable<MultipartUpload> {
    return listUploads(this.ctx, prefix, signal);
  }

  getMultipartUpload(key: string, uploadId: string, signal?: AbortSignal): Promise<MultipartUpload & { metadata: ObjectMetadata }> {
    return getUpload(this.ctx, key, uploadId, signal);
  }

  /** Aborts uploads under the mount prefix initiated more than `olderThanMs` ago and removes stale part temp files. */
  cleanupAbandonedUploads(olderThanMs: number, signal?: AbortSignal): Promise<number> {
    return cleanupAbandoned(this.ctx, olderThanMs, signal);
  }

  getBucketSetting(name: BucketSettingName, signal?: AbortSignal): Promise<unknown> {
    return getBucketSetting(this.ctx, name, signal);
  }

  putBucketSetting(name: BucketSettingName, value: unknown, signal?: AbortSignal): Promise<void> {
    return putBucketSetting(this.ctx, name, value, signal);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/** Builds an adapter from a mount URI; `options` win over the URI's query parameters. */
export function createS3AdapterFromUri(uri: string, options: S3AdapterOptions = {}): S3Adapter {
  const fromUri = parseS3Uri(uri);
  const explicit = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as S3AdapterOptions;
  return new S3Adapter({ ...fromUri, ...explicit });
}

export { parseS3Uri } from './s3-config';
export type { S3AdapterOptions } from './s3-config';
