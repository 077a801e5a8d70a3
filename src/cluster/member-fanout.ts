/**
 * The same signed admin request, asked of every other ring member (the operators' views of the
 * whole cluster, such as the dashboard's node statistics): the client's signed headers are
 * passed on with a hop marker, so each member verifies the client's own signature and answers
 * for itself only. Every member gets an answer entry: what it said, or why it could not be asked.
 */
import type { FastifyRequest } from 'fastify';
import type { ClusterNode } from './cluster-node';
import type { PeerClient } from './peer-client';

interface MemberAnswer {
  id: string;
  url: string;
  /** Set when the member answered (any status). */
  status?: number;
  body?: unknown;
  /** Set when it could not be asked or did not answer in time. */
  error?: string;
}

/** Headers of the client's request passed on: what its signature covers. */
const PASSED = /^(host|authorization|x-amz-.*|content-type)$/;

export class MemberFanout {
  constructor(
    private readonly node: ClusterNode,
    private readonly peers: PeerClient,
  ) {}

  /** The other members' answers to `request` (a GET), in ring order, each within `timeoutMs`. */
  async askOthers(request: FastifyRequest, timeoutMs: number): Promise<MemberAnswer[]> {
    const rawUrl = request.raw.url ?? '/';
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) if (typeof value === 'string' && PASSED.test(name)) headers[name] = value;
    const others = this.node.view().members.filter((m) => !m.self);
    return Promise.all(
      others.map(async ({ id, url }): Promise<MemberAnswer> => {
        try {
          // The hop marker tells the member the request came from a peer (it answers for itself only).
          const response = await this.peers.request({ id, url }, 'forward', { method: 'GET', path: rawUrl, headers }, AbortSignal.timeout(timeoutMs), timeoutMs);
          const text = await response.body.text();
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: kept as text
          }
          return { id, url, status: response.statusCode, body };
        } catch (err) {
          return { id, url, error: (err as Error).message || String(err) };
        }
      }),
    );
  }
}
