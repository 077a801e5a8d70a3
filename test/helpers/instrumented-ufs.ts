/**
 * A pass-through UfsAdapter around a real one (the local adapter in tests) that counts the
 * data reads reaching the store and can make the store "unreachable" (every call fails with
 * UfsError Unavailable, as an NFS server or S3 endpoint that is down). It tests the cache in
 * front of the store; it is not a mock of any adapter.
 */
import type { Readable } from 'node:stream';
import { ufsError } from '../../ufs-adapters/errors';
import type { ByteRange, ReadOptions, UfsAdapter } from '../../ufs-adapters/types';

export class InstrumentedUfs implements UfsAdapter {
  readonly kind: string;
  readonly capabilities: UfsAdapter['capabilities'];
  /** Data reads: ranged reads, and the reads that brought the metadata with them (readWithInfo). */
  reads: ByteRange[] = [];
  /** Metadata requests: stats, and readWithInfo calls (a stat and a read in one round trip). */
  stats = 0;
  down = false;
  readonly readWithInfo?: UfsAdapter['readWithInfo'];

  constructor(private readonly inner: UfsAdapter) {
    this.kind = inner.kind;
    this.capabilities = inner.capabilities;
    const withInfo = inner.readWithInfo?.bind(inner);
    if (withInfo) {
      this.readWithInfo = async (key, range, options) => {
        this.check();
        this.stats++;
        this.reads.push(range);
        return withInfo(key, range, options);
      };
    }
  }

  private check(): void {
    if (this.down) throw ufsError('Unavailable', 'store unreachable (test)');
  }

  async stat(key: string, signal?: AbortSignal) {
    this.check();
    this.stats++;
    return this.inner.stat(key, signal);
  }
  async read(key: string, range: ByteRange | undefined, options?: ReadOptions): Promise<Readable> {
    this.check();
    this.reads.push(range ?? { start: 0, end: -1 });
    return this.inner.read(key, range, options);
  }
  list(options: Parameters<UfsAdapter['list']>[0]) {
    this.check();
    return this.inner.list(options);
  }
  async write(r: Parameters<UfsAdapter['write']>[0]) {
    this.check();
    return this.inner.write(r);
  }
  async delete(key: string, signal?: AbortSignal) {
    this.check();
    return this.inner.delete(key, signal);
  }
  async copy(r: Parameters<UfsAdapter['copy']>[0]) {
    this.check();
    return this.inner.copy(r);
  }
  createMultipartUpload(...a: Parameters<UfsAdapter['createMultipartUpload']>) {
    return this.inner.createMultipartUpload(...a);
  }
  uploadPart(r: Parameters<UfsAdapter['uploadPart']>[0]) {
    return this.inner.uploadPart(r);
  }
  listParts(key: string, uploadId: string) {
    return this.inner.listParts(key, uploadId);
  }
  completeMultipartUpload(...a: Parameters<UfsAdapter['completeMultipartUpload']>) {
    return this.inner.completeMultipartUpload(...a);
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
