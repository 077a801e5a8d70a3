/**
 * Preload jobs live on the node that coordinates them. So that a client behind a load
 * balancer can follow a job through any node, a node that does not know a job asks the
 * other members (the same signed request, hop-marked so they answer only for themselves), and
 * a job listing gathers every member's jobs. The peers verify the client's signature again.
 */
import type { FastifyRequest } from 'fastify';
import type { ClusterNode } from './cluster-node';
import type { MemberInfo } from './membership';
import type { PeerClient } from './peer-client';

export interface PeerAnswer {
  status: number;
  body: unknown;
}

const ASK_TIMEOUT_MS = 5000;
/** Headers of the client's request passed on: what its signature covers. */
const PASSED = /^(host|authorization|x-amz-.*|content-type)$/;

export class JobPeers {
  constructor(
    private readonly node: ClusterNode,
    private readonly peers: PeerClient,
  ) {}

  /** The other members' answers to the same request (unreachable members are left out). */
  private async ask(request: FastifyRequest, members: MemberInfo[]): Promise<(PeerAnswer & { member: MemberInfo })[]> {
    const rawUrl = request.raw.url ?? '/';
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) if (typeof value === 'string' && PASSED.test(name)) headers[name] = value;
    const answers = await Promise.all(
      members.map(async (member) => {
        try {
          const response = await this.peers.dispatch(member, {
            method: request.method as 'GET',
            path: rawUrl,
            headers: { ...headers, ...this.peers.markerFor(request.method, rawUrl) },
            signal: AbortSignal.timeout(ASK_TIMEOUT_MS),
          });
          const text = await response.body.text();
          return { member, status: response.statusCode, body: JSON.parse(text) as unknown };
        } catch {
          return undefined;
        }
      }),
    );
    return answers.filter((a): a is PeerAnswer & { member: MemberInfo } => a !== undefined);
  }

  private others(): MemberInfo[] {
    return this.node
      .view()
      .members.filter((m) => !m.self)
      .map((m) => ({ id: m.id, url: m.url }));
  }

  /** The answer of the member that has the job (GET or DELETE of /jobs/:id), if any. */
  async find(request: FastifyRequest): Promise<PeerAnswer | undefined> {
    const answers = await this.ask(request, this.others());
    return answers.find((a) => a.status !== 404);
  }

  /** Every other member's jobs for this (signed) listing request. */
  async listAll(request: FastifyRequest): Promise<unknown[]> {
    const answers = await this.ask(request, this.others());
    return answers.flatMap((a) => (a.status === 200 && Array.isArray((a.body as { jobs?: unknown[] }).jobs) ? (a.body as { jobs: unknown[] }).jobs : []));
  }
}
