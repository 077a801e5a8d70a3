/**
 * The static peer list through the admin API, on the cluster prefix:
 *   GET /_ringcache/cluster/peers   {version, peers: [{id, url}], view: {epoch, members}}
 *   PUT /_ringcache/cluster/peers   body {peers: [{id, url}]}: the new list, for every node
 * Signed with SigV4 by an access key granted write on "*" (a cluster administrator). The new
 * list gets the next version and travels with the heart-beats to every node; the live nodes of
 * the list then agree on a view (a node added joins, a node left out leaves and owns nothing).
 * The configuration files are not rewritten: update them too (or the peers file), or a node
 * restarted alone comes back with its old list (it adopts the newer one from its peers, if any
 * answers).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { s3Error } from '../s3/errors';
import type { StaticMembership } from './static-membership';
import { sendJsonError } from '../admin/json-error';
import type { Callers } from '../admin/admin-access';

const body = z.object({ peers: z.array(z.object({ id: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/), url: z.string().url() }).strict()).min(1).max(10_000) }).strict();

export function registerPeersRoute(
  app: FastifyInstance,
  opts: { membership: StaticMembership | undefined; callers: Callers; parseJson(body: unknown): unknown },
): void {
  const admin = (request: FastifyRequest): void => {
    opts.callers.admin(request, 'changing the cluster');
  };
  const answer = (membership: StaticMembership): object => {
    const { version, members } = membership.peers();
    return { version, peers: members, view: membership.view() };
  };
  const handle = (work: (membership: StaticMembership, request: FastifyRequest) => object) => async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      admin(request);
      if (!opts.membership) return reply.code(409).send({ error: 'NotStaticMembership', message: 'this cluster does not use static peers (Consul, etcd, or a node by itself)' });
      return reply.send(work(opts.membership, request));
    } catch (err) {
      return sendJsonError(request, reply, err, 'peers request');
    }
  };
  app.get('/peers', handle((membership) => answer(membership)));
  app.put(
    '/peers',
    handle((membership, request) => {
      // The signature covers the body through its declared SHA-256: check the bytes are those.
      const declared = request.headers['x-amz-content-sha256'];
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (declared !== 'UNSIGNED-PAYLOAD' && declared !== createHash('sha256').update(raw).digest('hex')) throw s3Error('XAmzContentSHA256Mismatch');
      const parsed = body.safeParse(opts.parseJson(request.body));
      if (!parsed.success) throw s3Error('InvalidArgument', `peers: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const ids = new Set(parsed.data.peers.map((p) => p.id));
      if (ids.size !== parsed.data.peers.length) throw s3Error('InvalidArgument', 'peers: the same id twice');
      membership.setPeers(parsed.data.peers);
      return answer(membership);
    }),
  );
}
