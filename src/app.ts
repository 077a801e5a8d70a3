/**
 * Builds the fastify application (never listens: main.ts does). Tests use it with
 * `inject()` or `listen({ port: 0 })`.
 */
import http from 'node:http';
import https from 'node:https';
import fastify, { LogController, type FastifyInstance, type FastifyServerFactory } from 'fastify';
import type { RingcacheConfig } from './config/schema';
import { adminPlugin, ADMIN_PREFIX } from './admin/admin-plugin';
import { Metrics } from './admin/metrics';
import { BucketRegistry, type AdapterFactory } from './mounts/bucket-registry';
import { instrumentAdapter } from './mounts/instrumented-adapter';
import { StoreHealth } from './mounts/store-health';
import { bucketOverview } from './admin/bucket-overview';
import { createAdapter } from './mounts/adapter-factory';
import { s3Plugin } from './s3/s3-plugin';
import { newRequestId } from './s3/request-id';
import { HitPath } from './s3/hit-path';
import { RequestResolver } from './s3/resolve-request';
import { continueIfAllowed, stashContentType } from './s3/request-intake';
import { sendS3Error } from './s3/error-reply';
import { handleClientError } from './s3/client-error';
import { s3Error } from './s3/errors';
import { startMultipartSweeper } from './s3/multipart-sweeper';
import { startTempSweeper } from './mounts/temp-sweeper';
import { openNodeCache, type NodeCache } from './cache/open-cache';
import { JobManager } from './jobs/job-manager';
import { countFinishedKey, updateJobMetrics } from './jobs/job-metrics';
import { jobsPlugin } from './jobs/jobs-plugin';
import type { LoadDispatcher } from './jobs/load-dispatcher';
import { createCluster, type Cluster } from './cluster/cluster';
import { clusterPlugin } from './cluster/cluster-plugin';
import { hopRequestId } from './cluster/hop-request-id';
import { loadNodeTls } from './cluster/node-tls';
import { Callers } from './admin/admin-access';

interface AppOptions {
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
  // server.tls: HTTPS for clients and peers (cluster.tls: how nodes check each other).
  const tls = loadNodeTls(config);
  // Warm hits are answered in front of fastify (see s3/hit-path.ts); everything else reaches it.
  let hitPath: HitPath | undefined;
  let resolver: RequestResolver | undefined;
  const serverFactory: FastifyServerFactory = (handler, opts) => {
    const route = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      if (hitPath?.tryServe(req, res) === true) return;
      stashContentType(req, `${ADMIN_PREFIX}/`);
      handler(req, res);
    };
    const server = tls.server ? https.createServer(tls.server, route) : http.createServer(route);
    // Expect: 100-continue only for requests allowed to send their body; other Expect values are ignored.
    server.on('checkContinue', (req, res) => {
      if (resolver && !req.url?.startsWith(`${ADMIN_PREFIX}/`)) continueIfAllowed(req, res, resolver);
      else res.writeContinue();
      route(req, res);
    });
    server.on('checkExpectation', route);
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
    // A request forwarded by another node keeps the id that node gave it (verified with its hop marker).
    genReqId: (req) => hopRequestId(req.headers) ?? newRequestId(),
    // One debug line per request from onResponse below, instead of fastify's two info lines.
    logController: new LogController({ disableRequestLogging: true }),
    // Object keys are parsed from the raw URL by the S3 layer, not by the router.
    routerOptions: { maxParamLength: 4096 },
    frameworkErrors: (error, request, reply) =>
      sendS3Error(request, reply, s3Error('InvalidURI', "Couldn't parse the specified URI.", error)),
    // Bytes that are not an HTTP request get an S3 XML error too (not fastify's JSON).
    clientErrorHandler: handleClientError,
  });
  const cache = config.cache.enabled ? await openNodeCache(config.cache, metrics, app.log) : undefined;
  // Every store adapter goes behind the generic instrumentation (timeouts, concurrency, metrics).
  const baseFactory = options.adapterFactory ?? createAdapter;
  // How each store's calls go, by URI (the dashboard's per-bucket state).
  const storeHealth = new Map<string, StoreHealth>();
  // Each mount's own limits: two mounts of one URI may set them differently.
  const factory: AdapterFactory = (uri, adapterOptions, limits) => {
    let health = storeHealth.get(uri);
    if (!health) storeHealth.set(uri, (health = new StoreHealth()));
    return instrumentAdapter(baseFactory(uri, adapterOptions), metrics, {
      timeoutMs: limits?.timeoutMs ?? 30_000,
      maxConcurrency: limits?.maxConcurrency ?? 64,
      health,
    });
  };
  const buckets = new BucketRegistry(config, factory, cache?.forBucket);
  await buckets.init();
  const cluster = createCluster({ config, metrics, log: app.log, buckets, cache, tls });
  resolver = new RequestResolver(config, buckets);
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
  const jobs = await JobManager.open({ config: config.jobs, buckets, dispatcher: jobsDispatcher, nodeId: jobsNodeId, log: app.log, onKeyFinished: countFinishedKey(metrics), sharing: cluster.jobs });
  cluster.jobs.attach(jobs);

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
    metrics.observeDuration(op, reply.elapsedTime / 1000);
    request.log.debug({ op, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  // One authenticator and one credential table for the admin, jobs and cluster routes.
  const callers = new Callers(resolver.authenticator, config.credentials);
  await app.register(adminPlugin, { prefix: ADMIN_PREFIX, metrics, buckets, callers, cache, quotas: cache ? { memory: config.cache.memory.maxBytes, disk: config.cache.disk.maxBytes } : undefined, nodeId: () => cluster.node.self.id, beforeScrape: () => updateJobMetrics(metrics, jobs.coordinated()), ready: () => cluster.ready(), dashboard: {
    self: () => cluster.node.self,
    ringVersion: () => cluster.node.version,
    buckets: () => bucketOverview(config, buckets, (uri) => storeHealth.get(uri)?.view()),
    members: cluster.members,
  } });
  await app.register(clusterPlugin, { prefix: `${ADMIN_PREFIX}/cluster`, node: cluster.node, verifier: cluster.verifier, signer: cluster.signer, tls: cluster.tls, buckets, cache, callers, jobs: cluster.jobs, agreement: cluster.agreement });
  await app.register(jobsPlugin, { prefix: ADMIN_PREFIX, manager: jobs, callers, defaults: config.jobs, peers: cluster.jobPeers });
  await app.register(s3Plugin, { config, buckets, metrics, cluster, resolver });

  const stopSweeper = startMultipartSweeper(buckets, config.multipart, metrics, app.log);
  const stopTempSweeper = startTempSweeper(buckets, config.tempFiles, app.log);
  app.addHook('onClose', async () => {
    stopSweeper();
    await stopTempSweeper();
    // Jobs first: they still send batches through the cluster's peer client.
    await jobs.close();
    await cluster.stop();
    await buckets.close();
    await cache?.close();
  });
  return { app, buckets, metrics, cache, cluster, jobs };
}
