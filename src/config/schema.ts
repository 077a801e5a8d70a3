/**
 * The typed configuration schema with its defaults. Loaded once by `load-config.ts`,
 * validated, then frozen. Only the config module reads `process.env`.
 */
import { z } from 'zod';

/** S3 bucket naming rules (the DNS-compatible subset every client accepts). */
export const BUCKET_NAME = /^(?!xn--)(?!.*-s3alias$)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const accessLevel = z.enum(['read', 'write']);

const credentialSchema = z
  .object({
    accessKeyId: z.string().min(3, 'accessKeyId must be at least 3 characters'),
    secretAccessKey: z.string().min(8, 'secretAccessKey must be at least 8 characters'),
    /** Bucket name (or "*" for every bucket) -> access. "write" includes "read". */
    grants: z.record(z.string(), accessLevel).default({ '*': 'write' }),
  })
  .strict();

const mountSchema = z
  .object({
    /** file:///srv/nfs/x today; s3://, gs://, hdfs:// come with their adapters. */
    uri: z.string().url('mount uri must be a URI such as file:///srv/data'),
    /** Anyone may read (GET, HEAD, list) without signing. */
    anonymousRead: z.boolean().default(false),
    /** Overrides cache.metadata.ttlSeconds for this mount (0: revalidate on every request). */
    metadataTtlSeconds: z.number().int().min(0).optional(),
    /** Adapter settings (endpoint, region, credentials, ...): see ufs-adapters/<kind>/README.md. */
    options: z.record(z.string(), z.unknown()).default({}),
    /** A store call not answered in this time fails (503 to clients, or a stale cached answer). */
    timeoutMs: z.number().int().positive().default(30_000),
    /** Store calls in flight at once for this mount. */
    maxConcurrency: z.number().int().positive().default(64),
  })
  .strict();

export const configSchema = z
  .object({
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(9000),
        /** Region reported by GetBucketLocation; requests signed for any region are accepted. */
        region: z.string().default('us-east-1'),
        /** Enables virtual-hosted-style addressing: "<bucket>.<baseDomain>". */
        baseDomain: z.string().optional(),
        /** Largest accepted single PUT, as S3 (5 GiB). */
        maxPutSize: z.number().int().positive().default(5 * 1024 ** 3),
      })
      .strict()
      .default({}),
    /** Embedded default: each top-level folder of this directory is a bucket; CreateBucket makes one. */
    dataDir: z.string().optional(),
    /** Bucket name -> store. Several stores form one namespace. */
    mounts: z.record(z.string().regex(BUCKET_NAME, 'invalid bucket name'), mountSchema).default({}),
    credentials: z.array(credentialSchema).min(1, 'at least one credential is required'),
    cache: z
      .object({
        enabled: z.boolean().default(true),
        /** Page size in bytes: the unit of caching and of UFS reads on a miss. */
        pageSize: z.number().int().min(64 * 1024).max(64 * 1024 * 1024).default(1024 * 1024),
        /** Pages read ahead of a sequential reader on a miss. */
        readAheadPages: z.number().int().min(0).max(64).default(4),
        memory: z.object({ maxBytes: z.number().int().min(0).default(512 * 1024 ** 2) }).strict().default({}),
        disk: z
          .object({
            /** LMDB environment directory; relative paths resolve against the working directory. */
            path: z.string().default('./cache'),
            /** Page bytes kept on disk; older pages are evicted beyond this. 0 disables the disk tier. */
            maxBytes: z.number().int().min(0).default(10 * 1024 ** 3),
          })
          .strict()
          .default({}),
        metadata: z
          .object({
            ttlSeconds: z.number().int().min(0).default(60),
            negativeTtlSeconds: z.number().int().min(0).default(5),
            maxEntries: z.number().int().positive().default(100_000),
          })
          .strict()
          .default({}),
        /** When the store is unreachable, serve cached objects up to this age; misses answer 503. */
        serveStale: z
          .object({ enabled: z.boolean().default(true), maxStalenessSeconds: z.number().int().min(0).default(24 * 3600) })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    multipart: z
      .object({
        /** Uploads not completed within this age are aborted and their parts removed. */
        abandonedAfterSeconds: z.number().int().positive().default(7 * 24 * 3600),
        sweepIntervalSeconds: z.number().int().positive().default(3600),
      })
      .strict()
      .default({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({}),
  })
  .strict()
  .refine((c) => c.dataDir !== undefined || Object.keys(c.mounts).length > 0, {
    message: 'configure a dataDir, at least one mount, or both',
  });

export type RingcacheConfig = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type Credential = RingcacheConfig['credentials'][number];
export type AccessLevel = z.infer<typeof accessLevel>;
