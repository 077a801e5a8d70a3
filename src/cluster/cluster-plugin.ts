/**
 * Cluster endpoints under /_ringcache/cluster:
 *   GET  /ring         the ring view (members and their URLs, shares, suspects): SigV4-signed by an
 *                      admin key (one with "*": "write"), like the other admin calls
 *   GET  /page?key=K   a cached page, for warm hand-off; the answer is signed  (nodes: purpose "page")
 *   POST /load         warm a batch of keys here (preload jobs)                (nodes: "load")
 *   POST /invalidate   drop cached metadata of keys changed elsewhere          (nodes: "invalidate")
 *   POST /buckets      a bucket was created or deleted elsewhere: forget what is cached of it ("buckets")
 *   POST /jobs         job records from their coordinators                     (nodes: "jobs")
 *   GET  /jobs         every job record this node has                          (nodes: "jobs")
 *   POST /heartbeat    static peers: this node's view and promise (lease grants)   (nodes: "agreement")
 *   POST /propose      static peers: accept or refuse the next view                (nodes: "agreement")
 *   POST /commit       static peers: a view a majority accepted                    (nodes: "agreement")
 *   PUT  /peers        static peers: replace the peer list (SigV4, an admin key; peers-route.ts)
 *
 * Node-to-node endpoints check the marker of their own purpose before reading a body (a marker
 * made for another endpoint, for another node, or used before is refused), then, for POST, the
 * signed body hash against the raw bytes before parsing them (this plugin reads JSON bodies as
 * buffers and parses them itself); with mutual TLS, only over a connection whose client
 * certificate the cluster CA verified. Pages are served only to current members.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { NodeCache } from '../cache/open-cache';
import { loadLocally } from '../jobs/load-locally';
import type { Job } from '../jobs/job-types';
import type { BucketRegistry } from '../mounts/bucket-registry';
import type { ClusterNode } from './cluster-node';
import type { NodeTls } from './node-tls';
import { peerTransportTrusted } from './node-tls';
import { bodyMatchesMarker, HOP_NONCE_HEADER, type HopPurpose, type HopSigner, type HopVerifier, type PeerMarker } from './peer-auth';
import { PAGE_SIGNATURE_HEADER } from './peer-client';

/** Where job records arrive and come from (the job manager, through the cluster's job replication). */
export interface JobRecords {
  receive(records: readonly Job[], from: string): Promise<void>;
  all(): Job[];
}
import type { AgreementEndpoint, StaticMembership } from './static-membership';
import { s3Error } from '../s3/errors';
import { registerPeersRoute } from './peers-route';
import { sendJsonError } from '../admin/json-error';
import type { Callers } from '../admin/admin-access';

interface ClusterPluginOptions {
  node: ClusterNode;
  verifier: HopVerifier;
  /** Signs answers (pages); undefined without a cluster secret. */
  signer: HopSigner | undefined;
  tls: Pick<NodeTls, 'mutual'>;
  buckets: BucketRegistry;
  cache?: NodeCache;
  /** Who is calling the operators' routes (the ring, the peers). */
  callers: Callers;
  jobs?: JobRecords;
  /** Static peers' agreement (absent with Consul, etcd, or a node by itself: those endpoints answer 404). */
  agreement?: AgreementEndpoint & StaticMembership;
}

const memberSchema = z.object({ id: z.string().min(1), url: z.string().url() });
const viewBody = z.object({ epoch: z.number().int().min(0), members: z.array(memberSchema).max(10_000) });
const peerListSchema = z.object({ version: z.number().int().min(0), members: z.array(memberSchema).max(10_000) });
const heartbeatBody = z.object({ from: z.string().min(1), epoch: z.number().int().min(0), peers: peerListSchema.optional() });

const loadBody = z.object({
  bucket: z.string(),
  items: z.array(z.object({ key: z.string(), size: z.number() })).max(10_000),
  options: z.object({ skipCached: z.boolean(), metadataOnly: z.boolean() }),
});

const invalidateBody = z.object({ keys: z.record(z.string(), z.array(z.string())), all: z.boolean().optional() });
const bucketsBody = z.object({ bucket: z.string(), change: z.enum(['created', 'deleted']) });
const jobsBody = z.object({ records: z.array(z.record(z.string(), z.unknown())).max(10_000) });

/** Batches of up to jobs.batchKeys (10,000) keys, and invalidations of as many long keys: more than fastify's default 1 MiB. */
const INTERNAL_BODY_LIMIT = 16 * 1024 * 1024;

const refused = (reason: string): Error => Object.assign(new Error(`cluster endpoint: ${reason}`), { statusCode: 403 });
const badRequest = (message: string): Error => Object.assign(new Error(message), { statusCode: 400 });

/** The JSON document of a body read as a buffer (see the content-type parser below). */
function parseJsonBody(body: unknown): unknown {
  if (!Buffer.isBuffer(body)) throw badRequest('a JSON body is required');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw Object.assign(badRequest(`the body is not JSON: ${(err as Error).message}`), { cause: err });
  }
}

export async function clusterPlugin(app: FastifyInstance, opts: ClusterPluginOptions): Promise<void> {
  const markers = new WeakMap<FastifyRequest, PeerMarker>();

  // Scoped to this plugin: JSON bodies arrive as the raw bytes, so their signed hash can be checked.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: INTERNAL_BODY_LIMIT }, (_request, body, done) => done(null, body));

  /** onRequest of node-to-node endpoints: a valid marker of this purpose, not used before, checked before any body is read. */
  const peersOnly =
    (purpose: HopPurpose) =>
    async (request: FastifyRequest): Promise<void> => {
      if (!peerTransportTrusted(opts.tls, request.raw)) throw refused('node-to-node calls need a client certificate of the cluster (mutual TLS)');
      const signsBody = request.method === 'POST';
      const check = opts.verifier.check(purpose, { method: request.method, rawUrl: request.raw.url ?? '/', headers: request.headers, signsBody });
      if (check.kind !== 'peer') throw refused(check.kind === 'invalid' ? check.reason : 'no hop marker');
      markers.set(request, check);
      if (!signsBody && !opts.verifier.accept(check)) throw refused('hop marker already used');
    };

  /** preHandler of POST endpoints: the body is the one the marker signed; the marker is used up. */
  const signedBody = async (request: FastifyRequest): Promise<void> => {
    const check = markers.get(request);
    if (!check) throw refused('no hop marker');
    if (!Buffer.isBuffer(request.body) || !bodyMatchesMarker(request.headers, request.body)) throw refused('the body is not the one the hop marker signed');
    if (!opts.verifier.accept(check)) throw refused('hop marker already used');
  };

  const internalPost = (purpose: HopPurpose) => ({ onRequest: peersOnly(purpose), preHandler: signedBody, bodyLimit: INTERNAL_BODY_LIMIT });

  app.get('/ring', async (request, reply) => {
    try {
      opts.callers.admin(request, 'the ring view');
      return opts.node.view();
    } catch (err) {
      return sendJsonError(request, reply, err, 'cluster request');
    }
  });

  registerPeersRoute(app, {
    membership: opts.agreement,
    callers: opts.callers,
    parseJson(body) {
      try {
        return parseJsonBody(body);
      } catch (err) {
        throw s3Error('InvalidArgument', (err as Error).message);
      }
    },
  });

  app.get('/page', { onRequest: peersOnly('page') }, async (request, reply) => {
    const marker = markers.get(request) as PeerMarker;
    // Cached bytes go only to current members (a node removed from the cluster gets nothing).
    if (!opts.node.member(marker.from)) return reply.code(403).send({ error: 'AccessDenied', message: `${marker.from} is not a member of this node's ring` });
    const key = (request.query as { key?: string }).key;
    const page = key && opts.cache ? opts.cache.store.peek(key) : undefined;
    if (!key || !page || !opts.signer) return reply.code(404).send({ error: 'NoSuchPage' });
    const signature = opts.signer.answerSignature('page', request.headers[HOP_NONCE_HEADER] as string, key, page.data);
    return reply.header('content-type', 'application/octet-stream').header(PAGE_SIGNATURE_HEADER, signature).send(page.data);
  });

  app.post('/load', internalPost('load'), async (request, reply) => {
    const parsed = loadBody.safeParse(parseJsonBody(request.body));
    if (!parsed.success) return reply.code(400).send({ error: 'InvalidArgument', message: parsed.error.message });
    const { bucket, items, options } = parsed.data;
    const controller = new AbortController();
    // The coordinator gave up (cancel, its own deadline, a crash): stop loading. (The request
    // stream closes as soon as its body is read; the response closes when the socket does.)
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    try {
      return await loadLocally(opts.buckets, bucket, items, options, controller.signal);
    } catch (err) {
      return sendJsonError(request, reply, err, 'cluster request');
    }
  });

  const agreementRoute = <T>(schema: z.ZodType<T>, answer: (agreement: AgreementEndpoint, body: T) => unknown) =>
    async (request: FastifyRequest, reply: import('fastify').FastifyReply) => {
      if (!opts.agreement) return reply.code(404).send({ error: 'NotStaticMembership' });
      const parsed = schema.safeParse(parseJsonBody(request.body));
      if (!parsed.success) return reply.code(400).send({ error: 'InvalidArgument', message: parsed.error.message });
      return answer(opts.agreement, parsed.data) ?? { ok: true };
    };
  app.post('/heartbeat', internalPost('agreement'), agreementRoute(heartbeatBody, (agreement, body) => agreement.answerHeartbeat(body)));
  app.post('/propose', internalPost('agreement'), agreementRoute(viewBody, (agreement, body) => agreement.answerPropose(body)));
  app.post('/commit', internalPost('agreement'), agreementRoute(viewBody, (agreement, body) => agreement.answerCommit(body)));

  app.post('/invalidate', internalPost('invalidate'), async (request, reply) => {
    const parsed = invalidateBody.safeParse(parseJsonBody(request.body));
    if (!parsed.success) return reply.code(400).send({ error: 'InvalidArgument', message: parsed.error.message });
    if (parsed.data.all) opts.cache?.shared.metadata.expireBefore(Date.now());
    let invalidated = 0;
    for (const [bucketName, keys] of Object.entries(parsed.data.keys)) {
      const bucket = await opts.buckets.get(bucketName).catch(() => undefined);
      const cache = bucket?.cache;
      if (!cache) continue;
      for (const key of keys) cache.invalidate(key);
      invalidated += keys.length;
    }
    return { invalidated };
  });

  app.post('/buckets', internalPost('buckets'), async (request, reply) => {
    const parsed = bucketsBody.safeParse(parseJsonBody(request.body));
    if (!parsed.success) return reply.code(400).send({ error: 'InvalidArgument', message: parsed.error.message });
    opts.buckets.forget(parsed.data.bucket);
    return { forgotten: parsed.data.bucket };
  });

  app.post('/jobs', internalPost('jobs'), async (request, reply) => {
    if (!opts.jobs) return reply.code(404).send({ error: 'NoJobs' });
    const parsed = jobsBody.safeParse(parseJsonBody(request.body));
    if (!parsed.success) return reply.code(400).send({ error: 'InvalidArgument', message: parsed.error.message });
    await opts.jobs.receive(parsed.data.records as unknown as Job[], (markers.get(request) as PeerMarker).from);
    return { received: parsed.data.records.length };
  });

  app.get('/jobs', { onRequest: peersOnly('jobs') }, async (_request: FastifyRequest, reply: FastifyReply) => {
    if (!opts.jobs) return reply.code(404).send({ error: 'NoJobs' });
    return { records: opts.jobs.all() };
  });
}
