/**
 * UFS adapter for S3 and S3-compatible object stores (`s3://bucket/prefix` mounts): AWS S3,
 * MinIO, Ceph RGW, Dell ECS, Alibaba OSS, ... Each operation lives in its own module; this
 * class wires them to the UfsAdapter contract. See README.md for what maps to what.
 */
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { UfsAdapter, UfsCapabilities } from '../types';
import { bindOperations, type BoundOperations, type Operations } from '../shared/adapter-operations';
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

type Optional = 'readWithInfo' | 'cleanupAbandonedUploads' | 'getBucketSetting' | 'putBucketSetting';

const operations: Operations<MultipartContext, Optional> = {
  stat: statObject,
  read: readObject,
  readWithInfo: readObjectWithInfo,
  list: listObjects,
  write: writeObject,
  delete: async (ctx, key, signal) => {
    const storeKey = ctx.storeKey(key);
    // S3 answers 204 for missing keys; some compatible stores answer 404.
    await ctx
      .call('delete object', signal, () => ctx.client.send(new DeleteObjectCommand({ Bucket: ctx.bucket, Key: storeKey }), { abortSignal: signal }))
      .catch((err: { kind?: string }) => {
        if (err.kind !== 'NotFound') throw err;
      });
  },
  copy: copyObject,
  createMultipartUpload: createUpload,
  uploadPart,
  listParts,
  completeMultipartUpload: (ctx, key, uploadId, parts, signal, late) => completeUpload(ctx, key, uploadId, parts, signal, late),
  abortMultipartUpload: abortUpload,
  listMultipartUploads: listUploads,
  getMultipartUpload: getUpload,
  /** Aborts uploads under the mount prefix initiated more than `olderThanMs` ago and removes stale part temp files. */
  cleanupAbandonedUploads: cleanupAbandoned,
  getBucketSetting,
  putBucketSetting,
};

/** The calls, bound to the adapter's context in the constructor. */
export interface S3Adapter extends BoundOperations<Optional> {}

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
    Object.assign(this, bindOperations(this.ctx, operations));
  }

  get bucket(): string {
    return this.config.bucket;
  }

  /** "" or "<prefix>/". */
  get keyPrefix(): string {
    return this.config.keyPrefix;
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
export type { S3AdapterConfig, S3AdapterOptions, S3Credentials } from './s3-config';
