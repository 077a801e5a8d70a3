/**
 * A "delayed origin" for the cache benchmark (bench/cache-wrk.ts): a pass-through UfsAdapter
 * around a real one (the local adapter) whose `stat()` and `read()` wait `delayMs` before
 * calling the real method. That is a first-byte delay, the latency of a remote store (an S3
 * endpoint, an NFS server across a network): every metadata lookup and every data read that
 * reaches the store pays it once, and the bytes then come at local speed.
 *
 * Everything else (list, writes, multipart, close) passes through without delay, so the
 * benchmark can load objects quickly. It changes nothing in src/: the gateway gets it
 * through buildApp's `adapterFactory` option (see bench/cache-delayed-gateway.ts).
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ByteRange, ObjectInfo, ReadOptions, UfsAdapter } from '../ufs-adapters/types';

export class DelayedOrigin implements UfsAdapter {
  readonly kind: string;
  readonly capabilities: UfsAdapter['capabilities'];
  readonly cleanupAbandonedUploads?: (olderThanMs: number) => Promise<number>;
  /** How many delayed calls reached the store (for the benchmark's own checks). */
  delayedStats = 0;
  delayedReads = 0;

  constructor(
    private readonly inner: UfsAdapter,
    readonly delayMs: number,
  ) {
    this.kind = inner.kind;
    this.capabilities = inner.capabilities;
    const cleanup = inner.cleanupAbandonedUploads?.bind(inner);
    if (cleanup) this.cleanupAbandonedUploads = cleanup;
  }

  /** The first-byte delay; an aborted request stops waiting at once (as a socket would). */
  private wait(signal?: AbortSignal): Promise<void> {
    return this.delayMs > 0 ? sleep(this.delayMs, undefined, signal ? { signal } : undefined) : Promise.resolve();
  }

  async stat(key: string, signal?: AbortSignal): Promise<ObjectInfo> {
    await this.wait(signal);
    this.delayedStats++;
    return this.inner.stat(key, signal);
  }

  async read(key: string, range: ByteRange | undefined, options?: ReadOptions): Promise<Readable> {
    await this.wait(options?.signal);
    this.delayedReads++;
    return this.inner.read(key, range, options);
  }

  list(options: Parameters<UfsAdapter['list']>[0]) {
    return this.inner.list(options);
  }
  write(request: Parameters<UfsAdapter['write']>[0]) {
    return this.inner.write(request);
  }
  delete(key: string, signal?: AbortSignal) {
    return this.inner.delete(key, signal);
  }
  copy(request: Parameters<UfsAdapter['copy']>[0]) {
    return this.inner.copy(request);
  }
  createMultipartUpload(...args: Parameters<UfsAdapter['createMultipartUpload']>) {
    return this.inner.createMultipartUpload(...args);
  }
  uploadPart(request: Parameters<UfsAdapter['uploadPart']>[0]) {
    return this.inner.uploadPart(request);
  }
  listParts(key: string, uploadId: string) {
    return this.inner.listParts(key, uploadId);
  }
  completeMultipartUpload(...args: Parameters<UfsAdapter['completeMultipartUpload']>) {
    return this.inner.completeMultipartUpload(...args);
  }
  abortMultipartUpload(key: string, uploadId: string) {
    return this.inner.abortMultipartUpload(key, uploadId);
  }
  listMultipartUploads(prefix: string) {
    return this.inner.listMultipartUploads(prefix);
  }
  getMultipartUpload(key: string, uploadId: string) {
    return this.inner.getMultipartUpload(key, uploadId);
  }
  close() {
    return this.inner.close();
  }
}

/** `adapterFactory: (uri) => delayed(createAdapter(uri), 20)` */
export function delayed(inner: UfsAdapter, delayMs: number): DelayedOrigin {
  return new DelayedOrigin(inner, delayMs);
}
