/**
 * Bucket name -> mounted store. Buckets come from two places: configured mounts (one per
 * URI, fixed for the life of the process) and, for the embedded default, the top-level
 * folders of `dataDir`, which CreateBucket and DeleteBucket create and remove.
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { UfsAdapter } from '../../ufs-adapters/types';
import { BUCKET_NAME, type RingcacheConfig } from '../config/schema';
import { s3Error } from '../s3/errors';

export interface Bucket {
  name: string;
  adapter: UfsAdapter;
  createdAt: Date;
  /** "mount" buckets come from configuration and cannot be created or deleted through S3. */
  origin: 'mount' | 'dataDir';
  anonymousRead: boolean;
}

export type AdapterFactory = (uri: string) => UfsAdapter;

export class BucketRegistry {
  private readonly mounted = new Map<string, Bucket>();
  private readonly dataDirAdapters = new Map<string, UfsAdapter>();

  constructor(
    private readonly config: Pick<RingcacheConfig, 'dataDir' | 'mounts'>,
    private readonly createAdapter: AdapterFactory,
  ) {
    const startedAt = new Date();
    for (const [name, mount] of Object.entries(config.mounts)) {
      this.mounted.set(name, {
        name,
        adapter: createAdapter(mount.uri),
        createdAt: startedAt,
        origin: 'mount',
        anonymousRead: mount.anonymousRead,
      });
    }
  }

  async init(): Promise<void> {
    if (this.config.dataDir) await mkdir(this.config.dataDir, { recursive: true });
  }

  /** Throws NoSuchBucket. */
  async get(name: string): Promise<Bucket> {
    const bucket = this.mounted.get(name) ?? (await this.dataDirBucket(name));
    if (!bucket) throw s3Error('NoSuchBucket');
    return bucket;
  }

  async list(): Promise<Bucket[]> {
    const buckets = [...this.mounted.values()];
    if (this.config.dataDir) {
      const entries = await readdir(this.config.dataDir, { withFileTypes: true });
      for (const entry of entries) {
        if (!entry.isDirectory() || !BUCKET_NAME.test(entry.name) || this.mounted.has(entry.name)) continue;
        const bucket = await this.dataDirBucket(entry.name);
        if (bucket) buckets.push(bucket);
      }
    }
    return buckets.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async create(name: string): Promise<void> {
    if (!BUCKET_NAME.test(name)) throw s3Error('InvalidBucketName');
    if (this.mounted.has(name) || (await this.dataDirBucket(name))) throw s3Error('BucketAlreadyOwnedByYou');
    if (!this.config.dataDir) {
      throw s3Error('InvalidRequest', 'This gateway has no dataDir: buckets are configured as mounts.');
    }
    await mkdir(this.bucketDir(name));
  }

  async delete(name: string): Promise<void> {
    const bucket = await this.get(name);
    if (bucket.origin === 'mount') {
      throw s3Error('MethodNotAllowed', 'This bucket is a configured mount; remove it from the configuration instead.');
    }
    for await (const _ of bucket.adapter.list({ prefix: '' })) throw s3Error('BucketNotEmpty');
    await bucket.adapter.close();
    this.dataDirAdapters.delete(name);
    await rm(this.bucketDir(name), { recursive: true, force: true });
  }

  async close(): Promise<void> {
    const adapters = [...this.mounted.values()].map((b) => b.adapter).concat([...this.dataDirAdapters.values()]);
    await Promise.all(adapters.map((a) => a.close()));
  }

  private bucketDir(name: string): string {
    return path.join(this.config.dataDir as string, name);
  }

  private async dataDirBucket(name: string): Promise<Bucket | undefined> {
    if (!this.config.dataDir || !BUCKET_NAME.test(name)) return undefined;
    let info;
    try {
      info = await stat(this.bucketDir(name));
    } catch {
      this.dataDirAdapters.delete(name);
      return undefined;
    }
    if (!info.isDirectory()) return undefined;
    let adapter = this.dataDirAdapters.get(name);
    if (!adapter) {
      adapter = this.createAdapter(pathToFileURL(this.bucketDir(name)).href);
      this.dataDirAdapters.set(name, adapter);
    }
    return { name, adapter, createdAt: info.birthtime.getTime() > 0 ? info.birthtime : info.ctime, origin: 'dataDir', anonymousRead: false };
  }
}
