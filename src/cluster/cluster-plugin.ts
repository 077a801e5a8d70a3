/**
 * Cluster endpoints under /_ringcache/cluster:
 *   GET  /ring         the ring view (members, share of the key space, suspects): public, like healthz
 *   GET  /page?key=K   a cached page, for warm hand-off            (nodes only: hop marker)
 *   POST /load         warm a batch of keys here (preload jobs)     (nodes only, body signed)
 *   POST /invalidate   drop cached metadata of keys changed elsewhere (nodes only, body signed)
 *   POST /heartbeat    static peers: this node's view and promise (lease grants)   (nodes only, body signed)
 *   POST /propose      static peers: accept or refuse the next view                (nodes only, body signed)
 *   POST /commit       static peers: a view a majority accepted                    (nodes only, body signed)
 *
 * The internal endpoints check the marker before reading a body, accept each marker once
 * (a replay is refused), and for POST check the signed body hash against the raw bytes
 * before parsing them: this plugin reads JSON bodies as buffers and parses them itself.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { NodeCache } from '../cache/open-cache';
import { loadLocally } from '../jobs/load-locally';
import type { BucketRegistry } from '../mounts/bucket-registry';
import { toS3Error } from '../s3/errors';
import type { ClusterNode } from './cluster-node';
import { bodyMatchesMarker, checkPeer, ReplayGuard, type PeerCheck } from './peer-auth';
import type { AgreementEndpoint, StaticMembership } from './static-membership';
import type { Credential } from '../config/schema';
import type { Authenticator } from '../s3/auth';
import { s3Error } from '../s3/errors';
import { registerPeersRoute } from './peers-route';

export interface ClusterPluginOptions {
  node: ClusterNode;
  secret: string | undefined;
  buckets: BucketRegistry;
  cache?: NodeCache;
  /** Static peers' agreement (absent with Consul, etcd, or a node by itself: those endpoints answer 404). */
  agreement?: AgreementEndpoint & StaticMembership;
  /** For the admin routes (the peer list). */
  credentials?: readonly Credential[];
  authenticator?: Authenticator;
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
  const replays = new ReplayGuard();
  const markers = new WeakMap<FastifyRequest, Extract<PeerCheck, { kind: 'peer' }>>();

  // Scoped to this plugin: JSON bodies arrive as the raw bytes, so their signed hash can be checked.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: INTERNAL_BODY_LIMIT }, (_request, body, done) => done(null, body));

  /** onRequest: a valid marker not seen before, checked before any body is read. */
  const peersOnly = async (request: FastifyRequest): Promise<void> => {
    const signsBody = request.method === 'POST';
    const check = checkPeer(opts.secret, { method: request.method, rawUrl: request.raw.url ?? '/', headers: request.headers, signsBody });
    if (check.kind !== 'peer') throw refused(check.kind === 'invalid' ? check.reason : 'no hop marker');
    if (replays.has(check)) throw refused('hop marker already used');
    if (signsBody) markers.set(request, check);
    else if (!replays.claim(check)) throw refused('hop marker already used');
  };

  /** preHandler of POST endpoints: the body is the one the marker signed; the marker is used up. */
  const signedBody = async (request: FastifyRequest): Promise<void> => {
    const check = markers.get(request);
    if (!check) throw refused('no hop marker');
    if (!Buffer.isBuffer(request.body) || !bodyMatchesMarker(request.headers, request.body)) throw refused('the body is not the one the hop marker signed');
    if (!replays.claim(check)) throw refused('hop marker already used');
  };

  app.get('/ring', async () => opts.node.view());

  if (opts.authenticator && opts.credentials) {
    registerPeersRoute(app, {
      membership: opts.agreement,
      credentials: opts.credentials,
      authenticator: opts.authenticator,
      parseJson(body) {
        try {
          return parseJsonBody(body);
        } catch (err) {
          throw s3Error('InvalidArgument', (err as Error).message);
        }
      },
    });
  }

  app.get('/page', { onRequest: peersOnly }, async (request, reply) => {
    const key = (request.query as { key?: string }).key;
    const page = key && opts.cache ? opts.cache.store.get(key) : undefined;
    if (!page) return reply.code(404).send({ error: 'NoSuchPage' });
    return reply.header('content-type', 'application/octet-stream').send(page.data);
  });

  const internalPost = { onRequest: peersOnly, preHandler: signedBody, bodyLimit: INTERNAL_BODY_LIMIT };

  app.post('/load', internalPost, async (request, reply) => {
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
      const s3 = toS3Error(err);
      return reply.code(s3.status).send({ error: s3.code, message: s3.message });
    }
  });

  const agreementRoute = <T>(schema: z.ZodType<T>, answer: (agreement: AgreementEndpoint, body: T) => unknown) =>
    async (request: FastifyRequest, reply: import('fastify').FastifyReply) => {
      if (!opts.agreement) return reply.code(404).send({ error: 'NotStaticMembership' });
      const parsed = schema.safeParse(parseJsonBody(request.body));
      if (!parsed.success) return reply.code(400).send({ error: 'InvalidArgument', message: parsed.error.message });
      return answer(opts.agreement, parsed.data) ?? { ok: true };
    };
  app.post('/heartbeat', internalPost, agreementRoute(heartbeatBody, (agreement, body) => agreement.answerHeartbeat(body)));
  app.post('/propose', internalPost, agreementRoute(viewBody, (agreement, body) => agreement.answerPropose(body)));
  app.post('/commit', internalPost, agreementRoute(viewBody, (agreement, body) => agreement.answerCommit(body)));

  app.post('/invalidate', internalPost, async (request, reply) => {
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
}
