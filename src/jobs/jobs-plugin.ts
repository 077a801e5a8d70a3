/**
 * The load-job API, registered under the admin prefix (/_ringcache):
 *
 *   POST   /jobs       {bucket, prefix, options}  -> 201 the job   (read access to the bucket;
 *                                                    write access with skipCached: false)
 *   GET    /jobs                                  -> {jobs: [...]} (the jobs of buckets the key can read)
 *   GET    /jobs/:id                              -> the job      (read access)
 *   DELETE /jobs/:id                              -> the job, once cancelled (finished jobs as they are);
 *                                                    the submitter, or a key with write access
 *
 * Every request is SigV4-signed like an S3 request. The POST body is JSON of at most 64 KiB,
 * buffered by this plugin's own parser (the S3 plugin's pass-through parser is scoped to it);
 * when the signature covers the payload hash, the body must match it. Errors are JSON
 * {error: code, message} with the S3 status of the code.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { accessLevel, authorize } from '../s3/authorize';
import { s3Error } from '../s3/errors';
import type { JobManager } from './job-manager';
import { JobOptionsError, parseSubmission, type JobDefaults } from './job-options';
import type { JobView } from './job-types';
import { jsonErrorHandler, sendJsonError } from '../admin/json-error';
import type { Callers, SignedCaller } from '../admin/admin-access';

const MAX_JOB_BODY_BYTES = 64 * 1024;
/** Job ids as the manager makes them (anything else is unknown without touching the store). */
const JOB_ID = /^j[0-9a-z]{1,40}$/;

/**
 * The other nodes of the cluster (src/cluster/job-peers.ts). Every node keeps every job's record
 * (src/cluster/job-replication.ts), so reads are answered here; a cancel goes to the node that
 * runs the job, and a job not known here yet (its record on the way) is asked of the others.
 */
export interface JobPeers {
  /** The answer of the node that has the job named in this request (GET or DELETE), if any. */
  find(request: FastifyRequest): Promise<{ status: number; body: unknown } | undefined>;
  /** The answer of node `nodeId` to this request; undefined when it cannot be reached. */
  askNode(request: FastifyRequest, nodeId: string): Promise<{ status: number; body: unknown } | undefined>;
}

interface JobsPluginOptions {
  manager: JobManager;
  /** Who is calling (src/admin/admin-access.ts). */
  callers: Callers;
  defaults: JobDefaults;
  /** Absent on a node by itself. */
  peers?: JobPeers;
}

/** A request another node passed on: answer for this node only. */
const fromPeer = (request: FastifyRequest): boolean => request.headers['x-ringcache-hop'] !== undefined;

/** A JSON API error that is not an S3 one. */
class JobsApiError extends Error {
  constructor(
    readonly code: 'NoSuchJob',
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Caller = SignedCaller;

export async function jobsPlugin(app: FastifyInstance, opts: JobsPluginOptions): Promise<void> {
  // Only JSON, only this much: any other body is refused (415) before it is read.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: MAX_JOB_BODY_BYTES }, (_request, body, done) => done(null, body));

  // Errors raised before a handler runs: body too large, no or another content type.
  app.setErrorHandler(
    jsonErrorHandler('jobs API request', (status, err) =>
      status === 413 ? `the job description is larger than ${MAX_JOB_BODY_BYTES} bytes` : status === 415 ? 'send the job as JSON (content-type: application/json)' : err.message,
    ),
  );

  const identify = (request: FastifyRequest): Caller => opts.callers.signed(request, 'Job requests');
  // Who is asking is settled before the body is parsed: an unsigned or badly signed request is
  // refused (403) whatever its content type or size, never told how to shape its body (415, 413).
  const callers = new WeakMap<FastifyRequest, Caller>();
  app.addHook('onRequest', async (request, reply) => {
    try {
      callers.set(request, identify(request));
    } catch (err) {
      await answer(request, reply, () => Promise.reject(err));
      return reply;
    }
  });
  const caller = async (request: FastifyRequest): Promise<Caller> => callers.get(request) ?? identify(request);
  const mayRead = (c: Caller, bucket: string): void => authorize(c.auth, c.credential, 'read', { name: bucket, anonymousRead: false });
  const mayWrite = (c: Caller, bucket: string, why: string): void => {
    if (accessLevel(c.credential, bucket) !== 'write') throw s3Error('AccessDenied', `${why} needs write access to bucket ${bucket}.`);
  };
  const jobOf = (id: string): JobView => {
    const job = JOB_ID.test(id) ? opts.manager.get(id) : undefined;
    if (!job) throw new JobsApiError('NoSuchJob', 404, `no job ${id} (unknown, or finished and no longer retained)`);
    return job;
  };

  app.post('/jobs', (request, reply) =>
    answer(request, reply, async () => {
      const c = await caller(request);
      const spec = parseSubmission(parseBody(request.body, c.auth), opts.defaults);
      mayRead(c, spec.bucket);
      // Re-reading every page replaces what is cached, as a purge does.
      if (!spec.options.skipCached) mayWrite(c, spec.bucket, 'A load job with skipCached: false (it drops cached pages, like a purge)');
      const job = await opts.manager.submit(spec, c.auth.accessKeyId);
      void reply.code(201).header('location', `/_ringcache/jobs/${job.id}`);
      return job;
    }),
  );

  app.get('/jobs', (request, reply) =>
    answer(request, reply, async () => {
      const c = await caller(request);
      // Every node's jobs: each node keeps all their records.
      const jobs: JobView[] = opts.manager.list().filter((job) => accessLevel(c.credential, job.spec.bucket) !== 'none');
      return { jobs };
    }),
  );

  /** For a job this node does not know: the answer of the node that coordinates it, if any. */
  const askElsewhere = async (request: FastifyRequest, reply: FastifyReply, id: string): Promise<unknown> => {
    if (!opts.peers || fromPeer(request) || !JOB_ID.test(id) || opts.manager.get(id)) return undefined;
    const found = await opts.peers.find(request);
    if (!found) return undefined;
    void reply.code(found.status);
    return found.body;
  };

  app.get<{ Params: { id: string } }>('/jobs/:id', (request, reply) =>
    answer(request, reply, async () => {
      const c = await caller(request);
      const remote = await askElsewhere(request, reply, request.params.id);
      if (remote !== undefined) return remote;
      const job = jobOf(request.params.id);
      mayRead(c, job.spec.bucket);
      return job;
    }),
  );

  app.delete<{ Params: { id: string } }>('/jobs/:id', (request, reply) =>
    answer(request, reply, async () => {
      const c = await caller(request);
      const remote = await askElsewhere(request, reply, request.params.id);
      if (remote !== undefined) return remote;
      const job = jobOf(request.params.id);
      mayRead(c, job.spec.bucket);
      if (c.auth.accessKeyId !== job.submittedBy) mayWrite(c, job.spec.bucket, `Cancelling a job submitted by another access key (${job.submittedBy})`);
      // The node that runs the job stops it; a job whose coordinator is gone is ended here.
      const holder = opts.manager.holderElsewhere(request.params.id);
      if (holder !== undefined && opts.peers && !fromPeer(request)) {
        const answered = await opts.peers.askNode(request, holder);
        if (!answered) throw s3Error('ServiceUnavailable', `The node that runs job ${request.params.id} (${holder}) did not answer; retry.`);
        void reply.code(answered.status);
        return answered.body;
      }
      return (await opts.manager.cancel(request.params.id, c.auth.accessKeyId)) ?? jobOf(request.params.id);
    }),
  );
}

/** The JSON body, checked against the signed payload hash when there is one. */
function parseBody(body: unknown, auth: Caller['auth']): unknown {
  if (!Buffer.isBuffer(body) || body.length === 0) throw s3Error('InvalidArgument', 'send the job as a JSON object (content-type: application/json)');
  if (auth.payload.kind === 'sha256') {
    if (createHash('sha256').update(body).digest('hex') !== auth.payload.expectedHex) throw s3Error('XAmzContentSHA256Mismatch');
  } else if (auth.payload.kind !== 'unsigned') {
    throw s3Error('InvalidRequest', 'Send the job body whole, signed with its SHA-256 or UNSIGNED-PAYLOAD.');
  }
  try {
    // Strict UTF-8: a prefix must not silently become another one (U+FFFD for a bad byte).
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (err) {
    throw s3Error('InvalidArgument', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

async function answer(request: FastifyRequest, reply: FastifyReply, handle: () => Promise<unknown>): Promise<unknown> {
  try {
    return await handle();
  } catch (err) {
    if (err instanceof JobsApiError) return reply.code(err.status).send({ error: err.code, message: err.message });
    return sendJsonError(request, reply, err instanceof JobOptionsError ? s3Error('InvalidArgument', err.message, err) : err, 'jobs API request');
  }
}
