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
import type { UfsAdapter, UfsCapabilities } from '../types';
import { bindOperations, type BoundOperations, type Operations } from '../shared/adapter-operations';
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

type Optional = 'cleanupAbandonedUploads' | 'getBucketSetting' | 'putBucketSetting';

const operations: Operations<HdfsContext, Optional> = {
  stat: statObject,
  read: readObject,
  list: listObjects,
  write: writeObject,
  delete: deleteObject,
  copy: copyObject,
  createMultipartUpload: createUpload,
  uploadPart,
  listParts,
  completeMultipartUpload: completeUpload,
  abortMultipartUpload: abortUpload,
  listMultipartUploads: listUploads,
  getMultipartUpload: async (ctx, key, uploadId, signal) => {
    const { uploadId: id, key: k, initiated, metadata } = await loadUpload(ctx, key, uploadId, signal);
    return { uploadId: id, key: k, initiated, metadata };
  },
  /** Aborts uploads initiated more than `olderThanMs` ago and removes stale temp files; returns the count removed. */
  cleanupAbandonedUploads: cleanupAbandoned,
  getBucketSetting,
  putBucketSetting,
};

/** The calls, bound to the adapter's context in the constructor. */
export interface HdfsAdapter extends BoundOperations<Optional> {}

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
    Object.assign(this, bindOperations(this.ctx, operations));
  }

  /** The normalised HDFS path of the mount root. */
  get root(): string {
    return this.ctx.layout.root;
  }

  get nameNodeUrl(): string {
    return this.options.nameNodeUrl;
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
