/**
 * The dashboard's API, under /_ringcache, for admin keys only (admin-access.ts), signed with SigV4:
 *
 *   GET /stats     every ring member's last minutes (node-stats.ts), software and ring version,
 *                  cache fill against quota; members that cannot be asked are listed with why.
 *                  A request from another node (hop-marked) is answered for this node only.
 *   GET /buckets   every bucket's mount (credentials hidden), TTLs and serve-stale state, as this
 *                  node sees its stores.
 *
 * Errors are JSON {error: code, message} with the S3 status of the code.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MemberFanout } from '../cluster/member-fanout';
import type { Callers } from './admin-access';
import type { BucketOverview } from './bucket-overview';
import type { NodeStats } from './node-stats';
import { softwareVersion } from './software-version';
import { sendJsonError } from './json-error';

interface DashboardRoutesOptions {
  callers: Callers;
  stats: NodeStats;
  buckets: () => Promise<BucketOverview[]>;
  self: () => { id: string; url: string };
  ringVersion: () => string;
  ready: () => boolean;
  /** Absent on a node by itself. */
  members?: MemberFanout;
}

/** How long another member has to answer a statistics request. */
const MEMBER_TIMEOUT_MS = 3000;

export function registerDashboardRoutes(app: FastifyInstance, opts: DashboardRoutesOptions): void {
  const startedAt = new Date();

  const own = async (): Promise<Record<string, unknown>> => {
    const self = opts.self();
    return {
      ...self,
      reachable: true,
      ready: opts.ready(),
      version: softwareVersion(),
      ringVersion: opts.ringVersion(),
      startedAt: startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      ...(await opts.stats.view()),
    };
  };

  app.get('/stats', (request, reply) =>
    answer(request, reply, async () => {
      opts.callers.admin(request, "the operators' views");
      const mine: Record<string, unknown> = { ...(await own()), self: true };
      if (!opts.members || request.headers['x-ringcache-hop'] !== undefined) return { nodes: [mine] };
      const others = (await opts.members.askOthers(request, MEMBER_TIMEOUT_MS)).map((a) => {
        const node = (a.body as { nodes?: Record<string, unknown>[] } | undefined)?.nodes?.[0];
        if (a.status === 200 && node) return { ...node, self: false } as Record<string, unknown>;
        const why = a.error ?? `answered ${a.status}: ${(a.body as { message?: string } | undefined)?.message ?? ''}`.trim();
        return { id: a.id, url: a.url, self: false, reachable: false, error: why } as Record<string, unknown>;
      });
      return { nodes: [mine, ...others].sort((a, b) => (String(a.id) < String(b.id) ? -1 : 1)) };
    }),
  );

  app.get('/buckets', (request, reply) =>
    answer(request, reply, async () => {
      opts.callers.admin(request, "the operators' views");
      return { node: opts.self().id, buckets: await opts.buckets() };
    }),
  );
}

async function answer(request: FastifyRequest, reply: FastifyReply, handle: () => Promise<unknown>): Promise<unknown> {
  try {
    return await handle();
  } catch (err) {
    return sendJsonError(request, reply, err, 'dashboard API request');
  }
}
