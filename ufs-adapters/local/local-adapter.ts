/**
 * UFS adapter for a local or NFS-mounted directory (`file:///path` mounts). Each
 * operation lives in its own module; this class only wires them to the UfsAdapter contract.
 */
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
  UfsAdapter,
  UfsCapabilities,
  UploadPartRequest,
  WriteRequest,
  WriteResult,
  ReadOptions,
} from '../types';
import { cleanupAbandonedUploads } from './abandoned-cleanup';
import { getBucketSetting, putBucketSetting } from './bucket-settings';
import { copyObject } from './copy-object';
import { deleteObject } from './delete-object';
import { throwIfAborted } from './fs-errors';
import { listObjects } from './list-objects';
import { createLocalContext, type LocalContext } from './local-context';
import { abortUpload, createUpload, listParts, listUploads, loadUpload, uploadPart } from './local-multipart';
import { completeUpload } from './multipart-complete';
import { readObject, readObjectWithInfo, statObject } from './read-object';
import { writeObject } from './write-object';
import { sweepTempFiles } from './temp-sweep';

export interface LocalAdapterOptions {
  /** Absolute path of the mount root directory. */
  root: string;
}

export class LocalAdapter implements UfsAdapter {
  readonly kind = 'local';
  readonly capabilities: UfsCapabilities = {
    nativeCopy: false,
    nativeMultipartComplete: false,
    anyDelimiter: false,
    fileAndPrefixWithSameName: false,
  };
  private readonly ctx: LocalContext;

  constructor(options: LocalAdapterOptions) {
    this.ctx = createLocalContext(options.root);
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

  delete(key: string, signal?: AbortSignal): Promise<void> {
    return deleteObject(this.ctx, key, signal);
  }

  copy(request: CopyRequest): Promise<WriteResult> {
    return copyObject(this.ctx, request);
  }

  async createMultipartUpload(key: string, metadata: ObjectMetadata, signal?: AbortSignal): Promise<MultipartUpload> {
    throwIfAborted(signal);
    return createUpload(this.ctx, key, metadata);
  }

  uploadPart(request: UploadPartRequest): Promise<PartInfo> {
    return uploadPart(this.ctx, request);
  }

  async listParts(key: string, uploadId: string, signal?: AbortSignal): Promise<PartInfo[]> {
    throwIfAborted(signal);
    return listParts(this.ctx, key, uploadId);
  }

  completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[], signal?: AbortSignal, late?: Partial<ObjectMetadata>): Promise<WriteResult> {
    return completeUpload(this.ctx, key, uploadId, parts, signal, late);
  }

  async abortMultipartUpload(key: string, uploadId: string, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    return abortUpload(this.ctx, key, uploadId);
  }

  listMultipartUploads(prefix: string): AsyncIterable<MultipartUpload> {
    return listUploads(this.ctx, prefix);
  }

  async getMultipartUpload(key: string, uploadId: string, signal?: AbortSignal): Promise<MultipartUpload & { metadata: ObjectMetadata }> {
    throwIfAborted(signal);
    const { dir: _dir, ...upload } = await loadUpload(this.ctx, key, uploadId);
    return upload;
  }

  /** Aborts uploads initiated more than `olderThanMs` ago and removes stale temp files; returns the count removed. */
  async cleanupAbandonedUploads(olderThanMs: number, signal?: AbortSignal): Promise<number> {
    throwIfAborted(signal);
    return cleanupAbandonedUploads(this.ctx.layout.root, olderThanMs);
  }

  /** Removes temp files of writes that no live request owns (see temp-sweep.ts); returns the count removed. */
  async sweepTempFiles(staleAfterMs: number, signal?: AbortSignal): Promise<number> {
    throwIfAborted(signal);
    return sweepTempFiles(this.ctx.layout, staleAfterMs);
  }

  getBucketSetting(name: BucketSettingName, signal?: AbortSignal): Promise<unknown> {
    return getBucketSetting(this.ctx.layout, name, signal);
  }

  putBucketSetting(name: BucketSettingName, value: unknown, signal?: AbortSignal): Promise<void> {
    return putBucketSetting(this.ctx.layout, name, value, signal);
  }

  async close(): Promise<void> {
    // No sockets or timers; the handles kept for reads of a version close once their reads end.
    this.ctx.versions.closeAll();
  }
}

