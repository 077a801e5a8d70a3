/**
 * UFS adapter for HDFS over the WebHDFS REST API (`hdfs://namenode:9870/path?user=alice`
 * mounts; `webhdfs://` and `swebhdfs://` (HTTPS) are accepted too). Each operation lives in
 * its own module; this class only wires them to the UfsAdapter contract. See README.md.
 *
 * Authentication: `user.name=<user>` on every call (pseudo/simple authentication), or
 * `delegation=<token>` when a delegation token is configured. Kerberos (SPNEGO) is not
 * implemented: on a secured cluster, obtain a delegation token out of band
 * (`hdfs fetchdt`, or GETDELEGATIONTOKEN with `curl --negotiate`) and renew it.
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
  ReadOptions,
  UfsAdapter,
  UfsCapabilities,
  UploadPartRequest,
  WriteRequest,
  WriteResult,
} from '../types';
import { createHdfsContext, type HdfsContext } from './hdfs-context';
import { layoutFor } from './hdfs-layout';
import { parseHdfsUri } from './hdfs-uri';
import { listObjects } from './hdfs-list';
import { abortUpload, cleanupAbandoned, createUpload, listParts, listUploads, uploadPart } from './hdfs-multipart';
import { completeUpload } from './hdfs-multipart-complete';
import { loadUpload } from './hdfs-upload-folder';
import { readObject, statObject } from './hdfs-object';
import { copyObject } from './hdfs-copy';
import { deleteObject } from './hdfs-delete';
import { writeObject } from './hdfs-write';
import { WebHdfsClient } from './webhdfs-client';
import { getBucketSetting, putBucketSetting } from './hdfs-bucket-settings';

export interface HdfsAdapterOptions {
  /** http(s)://host:port of the NameNode's WebHDFS endpoint. */
  nameNodeUrl: string;
  /** Absolute HDFS path of the mount root. */
  root: string;
  /** User for pseudo authentication (`user.name`); unused when a delegation token is set. */
  user?: string;
  /** Delegation token obtained out of band, sent as `delegation=<token>` instead of user.name. */
  delegationToken?: string;
  /** Connect, response-header and body-idle timeout of each request, in ms. Default 60000. */
  timeoutMs?: number;
  /** Keep-alive sockets per host (the NameNode and each DataNode). Default 32. */
  maxSockets?: number;
  /** List entries resolved ahead of the consumer (one GETXATTRS each). Default 16. */
  listLookahead?: number;
}

export class HdfsAdapter implements UfsAdapter {
  readonly kind = 'hdfs';
  readonly capabilities: UfsCapabilities = {
    nativeCopy: false,
    nativeMultipartComplete: true,
    anyDelimiter: false,
    fileAndPrefixWithSameName: false,
  };
  private readonly ctx: HdfsContext;

  constructor(private readonly options: HdfsAdapterOptions) {
    if (typeof options.nameNodeUrl !== 'string' || !/^https?:\/\//.test(options.nameNodeUrl)) {
      throw new TypeError('HdfsAdapter: nameNodeUrl must be the http(s):// URL of the NameNode');
    }
    const client = new WebHdfsClient({
      nameNodeUrl: options.nameNodeUrl,
      user: options.user,
      delegationToken: options.delegationToken,
      timeoutMs: options.timeoutMs ?? 60_000,
      maxSockets: options.maxSockets ?? 32,
    });
    this.ctx = createHdfsContext(client, layoutFor(options.root), options.listLookahead ?? 16);
  }

  /** The normalised HDFS path of the mount root. */
  get root(): string {
    return this.ctx.layout.root;
  }

  get nameNodeUrl(): string {
    return this.options.nameNodeUrl;
  }

  stat(key: string, signal?: AbortSignal): Promise<ObjectInfo> {
    return statObject(this.ctx, key, signal);
  }

  read(key: string, range: ByteRange | undefined, options: ReadOptions = {}): Promise<Readable> {
    return readObject(this.ctx, key, range, options);
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

  createMultipartUpload(key: string, metadata: ObjectMetadata, signal?: AbortSignal): Promise<MultipartUpload> {
    return createUpload(this.ctx, key, metadata, signal);
  }

  uploadPart(request: UploadPartRequest): Promise<PartInfo> {
    return uploadPart(this.ctx, request);
  }

  listParts(key: string, uploadId: string, signal?: AbortSignal): Promise<PartInfo[]> {
    return listParts(this.ctx, key, uploadId, signal);
  }

  completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[], signal?: AbortSignal, late?: Partial<ObjectMetadata>): Promise<WriteResult> {
    return completeUpload(this.ctx, key, uploadId, parts, signal, late);
  }

  abortMultipartUpload(key: string, uploadId: string, signal?: AbortSignal): Promise<void> {
    return abortUpload(this.ctx, key, uploadId, signal);
  }

  listMultipartUploads(prefix: string, signal?: AbortSignal): AsyncIterable<MultipartUpload> {
    return listUploads(this.ctx, prefix, signal);
  }

  async getMultipartUpload(key: string, uploadId: string, signal?: AbortSignal): Promise<MultipartUpload & { metadata: ObjectMetadata }> {
    const { uploadId: id, key: k, initiated, metadata } = await loadUpload(this.ctx, key, uploadId, signal);
    return { uploadId: id, key: k, initiated, metadata };
  }

  /** Aborts uploads initiated more than `olderThanMs` ago and removes stale temp files; returns the count removed. */
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
    await this.ctx.client.close();
  }
}

/** `new HdfsAdapter` from a mount URI plus options (user from the URI unless given). */
export function createHdfsAdapterFromUri(uri: string, options: Omit<Partial<HdfsAdapterOptions>, 'nameNodeUrl' | 'root'> = {}): HdfsAdapter {
  const mount = parseHdfsUri(uri);
  return new HdfsAdapter({ ...mount, ...options, user: options.user ?? mount.user });
}
