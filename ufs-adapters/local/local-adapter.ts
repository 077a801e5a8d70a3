/**
 * UFS adapter for a local or NFS-mounted directory (`file:///path` mounts). Each
 * operation lives in its own module; this class only wires them to the UfsAdapter contract.
 */
import type { UfsAdapter, UfsCapabilities } from '../types';
import { throwIfAborted } from '../shared/abort';
import { bindOperations, type BoundOperations, type Operations } from '../shared/adapter-operations';
import { cleanupAbandonedUploads } from './abandoned-cleanup';
import { getBucketSetting, putBucketSetting } from './bucket-settings';
import { copyObject } from './copy-object';
import { deleteObject } from './delete-object';
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

type Optional = 'readWithInfo' | 'cleanupAbandonedUploads' | 'sweepTempFiles' | 'getBucketSetting' | 'putBucketSetting';

const operations: Operations<LocalContext, Optional> = {
  stat: statObject,
  read: readObject,
  readWithInfo: readObjectWithInfo,
  list: listObjects,
  write: writeObject,
  delete: deleteObject,
  copy: copyObject,
  createMultipartUpload: async (ctx, key, metadata, signal) => {
    throwIfAborted(signal);
    return createUpload(ctx, key, metadata);
  },
  uploadPart,
  listParts: async (ctx, key, uploadId, signal) => {
    throwIfAborted(signal);
    return listParts(ctx, key, uploadId);
  },
  completeMultipartUpload: completeUpload,
  abortMultipartUpload: async (ctx, key, uploadId, signal) => {
    throwIfAborted(signal);
    return abortUpload(ctx, key, uploadId);
  },
  listMultipartUploads: (ctx, prefix) => listUploads(ctx, prefix),
  getMultipartUpload: async (ctx, key, uploadId, signal) => {
    throwIfAborted(signal);
    const { dir: _dir, ...upload } = await loadUpload(ctx, key, uploadId);
    return upload;
  },
  /** Aborts uploads initiated more than `olderThanMs` ago and removes stale temp files; returns the count removed. */
  cleanupAbandonedUploads: async (ctx, olderThanMs, signal) => {
    throwIfAborted(signal);
    return cleanupAbandonedUploads(ctx.layout.root, olderThanMs);
  },
  /** Removes temp files of writes that no live request owns (see temp-sweep.ts); returns the count removed. */
  sweepTempFiles: async (ctx, staleAfterMs, signal) => {
    throwIfAborted(signal);
    return sweepTempFiles(ctx.layout, staleAfterMs);
  },
  getBucketSetting: (ctx, name, signal) => getBucketSetting(ctx.layout, name, signal),
  putBucketSetting: (ctx, name, value, signal) => putBucketSetting(ctx.layout, name, value, signal),
};

/** The calls, bound to the adapter's context in the constructor. */
export interface LocalAdapter extends BoundOperations<Optional> {}

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
    Object.assign(this, bindOperations(this.ctx, operations));
  }

  /** The normalised mount root. */
  get root(): string {
    return this.ctx.layout.root;
  }

  async close(): Promise<void> {
    // No sockets or timers; the handles kept for reads of a version close once their reads end.
    this.ctx.versions.closeAll();
  }
}
