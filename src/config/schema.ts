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
    /** file:///srv/nfs/x, s3://bucket/prefix, gs://bucket/prefix, hdfs://namenode:9870/path (checked by mount-uri.ts). */
    uri: z.string().url('mount uri must be a URI such as file:///srv/data'),
    /** Anyone may read (GET, HEAD, list) without signing. */
    anonymousRead: z.boolean().default(false),
    /** Overrides cache.metadata.ttlSeconds for this mount (0: revalidate on every request). */
    metadataTtlSeconds: z.number().int().min(0).optional(),
    /** Adapter settings (endpoint, region, credentials, ...): see ufs-adapters/<kind>/README.md. A value {"$env": "NAME"} is read from the environment. */
    options: z.record(z.string(), z.unknown()).default({}),
    /** A store call not answered in this time fails (503 to clients, or a stale cached answer). */
    timeoutMs: z.number().int().positive().default(30_000),
    /** Store calls in flight at once for this mount. */
    maxConcurrency: z.number().int().positive().default(64),
    /** What this mount's reads may bring into the page cache (admission; the cache-wide policy decides how long it stays). */
    cache: z
      .object({
        /** Objects larger than this many bytes are never cached: every read goes to the store. Absent: no limit. */
        maxObjectBytes: z.number().int().min(0).optional(),
        /** An object's pages are cached from its minUses-th read on (2: "cache after the second read"); 1 caches on the first. */
        minUses: z.number().int().min(1).max(100).default(1),
      })
      .strict()
      .default({}),
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
        /**
         * A request body is read in windows of this length (time the gateway waits for the client);
         * a window that brings fewer than bodyMinBytesPerSecond x its length (at least one byte)
         * fails the request with 400 RequestTimeout, nothing stored. 0 turns the check off.
         */
        bodyIdleTimeoutMs: z.number().int().min(0).default(20_000),
        /** The slowest body accepted, averaged over each window; 0: only a window without any byte fails. */
        bodyMinBytesPerSecond: z.number().int().min(0).default(1024),
        /** Serve HTTPS on the one port (clients and peers) with this certificate and key (PEM files). */
        tls: z.object({ certFile: z.string().min(1), keyFile: z.string().min(1) }).strict().optional(),
        /** AWS Signature Version 2 (header and presigned URLs, as s3cmd and older SDKs send); false refuses it (400 InvalidRequest). */
        signatureV2: z.boolean().default(true),
        /**
         * Honour and accept ACLs (x-amz-acl, x-amz-grant-*, Put/GetBucketAcl, Put/GetObjectAcl). false is
         * S3's "bucket owner enforced": ACLs that grant more than the owner are refused (400
         * AccessControlListNotSupported) and stored ones grant nothing.
         */
        acls: z.boolean().default(true),
        /** How long a node trusts its copy of a bucket's ACL and CORS rules (changes made on other nodes show after this). */
        bucketSettingsTtlSeconds: z.number().int().min(0).max(3600).default(5),
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
        /** A store read that sends no byte for this long while a page waits for it fails (the page is not cached). */
        storeIdleTimeoutMs: z.number().int().positive().default(30_000),
        /** Pages read ahead of a sequential reader on a miss. */
        readAheadPages: z.number().int().min(0).max(64).default(4),
        memory: z.object({ maxBytes: z.number().int().min(0).default(512 * 1024 ** 2) }).strict().default({}),
        disk: z
          .object({
            /** LMDB environment directory; relative paths resolve against the config file's folder (or the working directory). */
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
    /**
     * The cluster: this node's identity, how it finds the others, and how requests reach the
     * owner of a key. The default is one node by itself (no peers, no Consul).
     */
    cluster: z
      .object({
        /** Stable node id (the ring is keyed by it). Default: "<hostname>-<port>". */
        nodeId: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'nodeId: letters, digits and . _ : - only').optional(),
        /** The URL other nodes (and ring-aware clients) use to reach this node. Default: http://<host>:<port>. */
        advertiseUrl: z.string().url().optional(),
        /** Shared secret for node-to-node requests (HMAC). Required as soon as there is more than one node. */
        secret: z.string().min(16, 'cluster.secret must be at least 16 characters').optional(),
        /** Static membership: every node of the cluster (this one may be listed too). */
        peers: z.array(z.object({ id: z.string().min(1), url: z.string().url() }).strict()).default([]),
        /**
         * Static membership from a file (a JSON array of {id, url}, or {"peers": [...]}) instead of
         * `peers`: read at start, and again on SIGHUP or when it changes; a new list is spread to
         * every node (see docs/cluster.md, "Adding and removing nodes").
         */
        peersFile: z.string().optional(),
        /** Consul membership (instead of, or as well as, static peers). */
        consul: z
          .object({
            /** Consul agent HTTP address. */
            url: z.string().url().default('http://127.0.0.1:8500'),
            serviceName: z.string().default('ringcache'),
            token: z.string().optional(),
            /** The node passes its TTL check every ttl/3; Consul marks it critical after the TTL. */
            checkTtlSeconds: z.number().int().min(1).default(10),
            /** Consul removes a node whose check has been critical this long. */
            deregisterCriticalAfterSeconds: z.number().int().min(60).default(300),
            /** Longest wait of one blocking query. */
            waitSeconds: z.number().int().min(1).max(600).default(60),
          })
          .strict()
          .optional(),
        /**
         * TLS between nodes: peers' certificates are verified against `caFile` (PEM); with
         * `mutual`, every node also presents a client certificate (`certFile`/`keyFile`, default
         * server.tls's) and accepts node-to-node requests only over a connection whose client
         * certificate `caFile` verifies. Needs server.tls and https:// peer URLs.
         */
        tls: z
          .object({
            caFile: z.string().min(1),
            certFile: z.string().min(1).optional(),
            keyFile: z.string().min(1).optional(),
            mutual: z.boolean().default(false),
          })
          .strict()
          .optional(),
        /** etcd membership (instead of static peers or Consul): leases and revisions as epochs. */
        etcd: z
          .object({
            /** Client URLs of the etcd cluster (its HTTP/JSON gateway, /v3/...). */
            endpoints: z.array(z.string().url()).min(1),
            /** Keys live under this prefix; one Ringcache cluster per prefix. */
            prefix: z.string().regex(/^\/[^\s]*$/, 'an etcd key prefix starts with /').default('/ringcache'),
            /** TTL of each node's etcd lease (renewed every third of it) and of its ownership lease. */
            leaseSeconds: z.number().int().min(2).max(3600).default(10),
            /** Deadline of each etcd call. */
            requestTimeoutMs: z.number().int().positive().default(2000),
          })
          .strict()
          .optional(),
        /** "proxy": a non-owner forwards the request; "redirect": GET/HEAD of objects answer 307 to the owner. */
        routing: z.enum(['proxy', 'redirect']).default('proxy'),
        forward: z
          .object({
            connectTimeoutMs: z.number().int().positive().default(1000),
            /**
             * A live owner answers every forwarded request at once with an interim response (100
             * Continue before a body, 102 Processing otherwise); none in this time: the owner is
             * wedged (stalled, blackholed), marked suspect, and the request goes elsewhere or 503.
             */
            firstByteTimeoutMs: z.number().int().positive().default(5000),
            /** No response headers from the owner in this time: the client gets 503 (the request may have run there). */
            headersTimeoutMs: z.number().int().positive().default(30_000),
            /** Forwarded client requests in flight to one peer (slow readers hold theirs for as long as they read). */
            connectionsPerPeer: z.number().int().positive().default(256),
          })
          .strict()
          .default({}),
        /** Static peers are probed on /_ringcache/healthz; this many failures in a row take one out of the ring. */
        health: z
          .object({
            probeIntervalMs: z.number().int().positive().default(1000),
            probeTimeoutMs: z.number().int().positive().default(1000),
            failuresBeforeDown: z.number().int().positive().default(2),
          })
          .strict()
          .default({}),
        /** A node that failed a forwarded request is skipped for this long. */
        suspectSeconds: z.number().int().min(1).default(10),
        /**
         * Ownership leases and fences (docs/cluster.md, "Consistency"). Every node of a cluster
         * must use the same values.
         */
        lease: z
          .object({
            /** Static peers: a lease lasts this long after the heart-beat grants it is counted from (Consul: checkTtlSeconds; etcd: its lease TTL). */
            durationMs: z.number().int().min(100).default(3000),
            /** Added to every fence: clock rates, scheduling delays. */
            marginMs: z.number().int().min(0).default(500),
            /**
             * Keys gained in a new view are read from the store without caching their metadata for
             * this long after their fence: a write the previous owner began under its lease may
             * still commit. Keep it at least the longest store-call deadline (mounts.*.timeoutMs).
             */
            cacheGraceMs: z.number().int().min(0).default(30_000),
            /** A write whose owner cannot be reached waits this long for a view without it, then answers 503. */
            standInWaitMs: z.number().int().min(0).default(10_000),
          })
          .strict()
          .default({}),
        quorum: z
          .object({
            /** Static peers: nodes that must see each other before the first view forms. Default: a majority of `peers`. Keep it more than half of the nodes you run. */
            bootstrap: z.number().int().min(1).optional(),
            /** Reads on a node without a lease: "store" (read through, nothing cached) or "unavailable" (503). Writes always answer 503 there. */
            onLoss: z.enum(['store', 'unavailable']).default('store'),
          })
          .strict()
          .default({}),
        /** Warm hand-off: a new owner asks the previous owner for a page before reading the UFS. */
        handoff: z
          .object({
            enabled: z.boolean().default(true),
            timeoutMs: z.number().int().positive().default(1000),
            /** The previous ring is asked for this long after a change. */
            windowSeconds: z.number().int().positive().default(600),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    /** Preload (load) jobs. */
    jobs: z
      .object({
        /** LMDB environment for job state; relative paths resolve against the config file's folder (or the working directory). */
        stateDir: z.string().default('./jobs'),
        /** Finished jobs (completed, failed, cancelled) are kept this long, then forgotten. */
        retainFinishedSeconds: z.number().int().min(0).default(7 * 24 * 3600),
        /** Jobs running at once on this coordinator; later submissions wait as "queued". */
        maxRunning: z.number().int().positive().default(2),
        /** Default batches in flight per job (a job's `concurrency` option overrides it). */
        concurrency: z.number().int().positive().max(256).default(4),
        /** A batch sent to one owner holds at most this many keys ... */
        batchKeys: z.number().int().positive().max(10_000).default(32),
        /** ... and at most this many listed bytes (a larger single object is a batch of its own). */
        batchBytes: z.number().int().positive().default(64 * 1024 * 1024),
        /** Retries of a batch whose node cannot be reached, and of keys that failed with a retryable error. */
        maxRetries: z.number().int().min(0).max(20).default(3),
        /** Per-key failures kept in a job's progress (the count of failures is always exact). */
        recentFailures: z.number().int().min(0).max(1000).default(20),
        /** Queued and running jobs one access key may have on a coordinator; one more is refused (503 SlowDown). */
        maxQueuedPerKey: z.number().int().positive().default(16),
        /** A job found running at start (the coordinator stopped) resumes from its checkpoint; false: it is marked failed. */
        resumeOnRestart: z.boolean().default(true),
        /**
         * The coordinator's lease on a job: renewed every leaseSeconds/6 (10 s at most); a job whose
         * lease has not been renewed for this long is taken over by another node (in a cluster) or
         * by the next process on the state directory.
         */
        leaseSeconds: z.number().int().min(2).max(3600).default(60),
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
    /** Temp files of interrupted writes (a crash): swept at start-up and then regularly. */
    tempFiles: z
      .object({
        /** Temp files whose writer cannot be told dead (another host on a shared folder) go once untouched this long. */
        staleAfterSeconds: z.number().int().positive().default(900),
        sweepIntervalSeconds: z.number().int().positive().default(300),
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
