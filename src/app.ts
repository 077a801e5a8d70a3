/**
 * Builds the fastify application (never listens: main.ts does). Tests use it with
 * `inject()` or `listen({ port: 0 })`.
 */
import http from 'node:http';
import fastify, { LogController, type FastifyInstance, type FastifyServerFactory } from 'fastify';
import type { RingcacheConfig } from './config/schema';
import { adminPlugin, ADMIN_PREFIX } from './admin/admin-plugin';
import { Metrics } from './admin/metrics';
import { BucketRegistry, type AdapterFactory } from './mounts/bucket-registry';
import { instrumentAdapter } from './mounts/instrumented-adapter';
import { createAdapter } from './mounts/adapter-factory';
import { s3Plugin } from './s3/s3-plugin';
import { newRequestId } from './s3/request-id';
import { HitPath } from './s3/hit-path';
import { RequestResolver } from './s3/resolve-request';
import { sendS3Error } from './s3/error-reply';
import { s3Error } from './s3/errors';
import { startMultipartSweeper } from './s3/multipart-sweeper';
import { openNodeCache, type NodeCache } from './cache/open-cache';
import { JobManager } from './jobs/job-manager';
import { updateJobMetrics } from './jobs/job-metrics';
import { jobsPlugin } from './jobs/jobs-plugin';
import type { LoadDispatcher } from './jobs/load-dispatcher';
import { createCluster, type Cluster } from './cluster/cluster';
import { clusterPlugin } from './cluster/cluster-plugin';

export interface AppOptions {
  config: RingcacheConfig;
  /** Tests may wrap adapters (for example to count UFS calls). */
  adapterFactory?: AdapterFactory;
  logger?: boolean;
  /** Where preload jobs send each key (default: the cluster sends each key to its owner). */
  dispatcher?: LoadDispatcher;
  /** This node's id for preload jobs (default: the cluster's node id). */
  nodeId?: string;
}

export interface RingcacheApp {
  app: FastifyInstance;
  buckets: BucketRegistry;
  metrics: Metrics;
  /** Undefined when cache.enabled is false. */
  cache?: NodeCache;
  /** Preload jobs coordinated by this node. */
  jobs: JobManager;
  /** Started by the caller once the server listens (`cluster.start()`); one node by itself unless configured. */
  cluster: Cluster;
}

export async function buildApp(options: AppOptions): Promise<RingcacheApp> {
  const { config } = options;
  const metrics = new Metrics();
  // Warm hits are answered in front of fastify (see s3/hit-path.ts); everything else reaches it.
  let hitPath: HitPath | undefined;
  const serverFactory: FastifyServerFactory = (handler, opts) => {
    const server = http.createServer((req, res) => {
      if (hitPath?.tryServe(req, res) !== true) handler(req, res);
    });
    // What fastify sets on a server it creates itself.
    const settings = opts as { keepAliveTimeout?: number; requestTimeout?: number; connectionTimeout?: number };
    server.keepAliveTimeout = settings.keepAliveTimeout ?? 72_000;
    server.requestTimeout = settings.requestTimeout ?? 0;
    server.setTimeout(settings.connectionTimeout ?? 0);
    return server;
  };
  const app = fastify({
    serverFactory,
    logger:
      options.logger === false
        ? false
        : { level: config.log.level, redact: ['req.headers.authorization', 'req.headers["x-amz-security-token"]'] },
    genReqId: newRequestId,
    // One debug line per request from onResponse below, instead of fastify's two info lines.
    logController: new LogController({ disableRequestLogging: true }),
    // Object keys are parsed from the raw URL by the S3 layer, not by the router.
    routerOptions: { maxParamLength: 4096 },
    frameworkErrors: (error, request, reply) =>
      sendS3Error(request, reply, s3Error('InvalidURI', "Couldn't parse the specified URI.", error)),
  });
  const cache = config.cache.enabled ? await openNodeCache(config.cache, metrics, app.log) : undefined;
  // Every store adapter goes behind the generic instrumentation (timeouts, concurrency, metrics).
  const baseFactory = options.adapterFactory ?? createAdapter;
  const timeouts = new Map(Object.values(config.mounts).map((m) => [m.uri, m]));
  const factory: AdapterFactory = (uri, adapterOptions) => {
    const mount = timeouts.get(uri);
    return instrumentAdapter(baseFactory(uri, adapterOptions), metrics, {
      timeoutMs: mount?.timeoutMs ?? 30_000,
      maxConcurrency: mount?.maxConcurrency ?? 64,
    });
  };
  const buckets = new BucketRegistry(config, factory, cache?.forBucket);
  await buckets.init();
  const cluster = createCluster({ config, metrics, log: app.log, buckets, cache });
  const resolver = new RequestResolver(config, buckets);
  hitPath = new HitPath({
    resolver,
    metrics,
    ownsKey: (bucket, key) => cluster.node.ownsKey(bucket, key),
    ringVersion: () => cluster.node.version,
    adminPrefix: `${ADMIN_PREFIX}/`,
    debug: config.log.level === 'debug' || config.log.level === 'trace' ? (fields, message) => app.log.debug(fields, message) : undefined,
    warn: (fields, message) => app.log.warn(fields, message),
  });
  const jobsNodeId = options.nodeId ?? cluster.node.self.id;
  const jobsDispatcher = options.dispatcher ?? cluster.dispatcher;
  const jobs = await JobManager.open({ config: config.jobs, buckets, dispatcher: jobsDispatcher, nodeId: jobsNodeId, log: app.log });

  app.decorateRequest('s3Op', 'Unknown');

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-amz-request-id', String(request.id));
    reply.header('x-amz-id-2', String(request.id));
    reply.header('server', 'Ringcache');
    // Ring-aware clients refresh their copy of the ring when this changes.
    reply.header('x-ringcache-ring', cluster.node.version);
  });
  app.addHook('onResponse', async (request, reply) => {
    if (request.url.startsWith(`${ADMIN_PREFIX}/`)) return;
    const op = request.s3Op;
    metrics.requestCells.cell(op, String(reply.statusCode)).add();
    metrics.duration.labels(op).observe(reply.elapsedTime / 1000);
    request.log.debug({ op, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  await app.register(adminPlugin, { prefix: ADMIN_PREFIX, metrics, buckets, credentials: config.credentials, authenticator: resolver.authenticator, cache, nodeId: () => cluster.node.self.id, beforeScrape: () => updateJobMetrics(metrics, jobs.list()), ready: () => cluster.ready() });
  await app.register(clusterPlugin, { prefix: `${ADMIN_PREFIX}/cluster`, node: cluster.node, secret: config.cluster.secret, buckets, cache, agreement: cluster.agreement, credentials: config.credentials, authenticator: resolver.authenticator });
  await app.register(jobsPlugin, { prefix: ADMIN_PREFIX, manager: jobs, credentials: config.credentials, authenticator: resolver.authenticator, defaults: config.jobs, elsewhere: cluster.jobsElsewhere });
  await app.register(s3Plugin, { config, buckets, metrics, cluster, resolver });

  const stopSweeper = startMultipartSweeper(buckets, config.multipart, metrics, app.log);
  app.addHook('onClose', async () => {
    stopSweeper();
    // Jobs first: they still send batches through the cluster's peer client.
    await jobs.close();
    await cluster.stop();
    await buckets.close();
    await cache?.close();
  });
  return { app, buckets, metrics, cache, cluster, jobs };
}
