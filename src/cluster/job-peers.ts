/**
 * Job requests another node must answer: a cancel goes to the node that holds the job's lease
 * (it runs the job), and a job a node does not know yet (its record still on the way) is asked
 * of the others. The signed request is passed on with a hop marker (the receiving node answers
 * for itself only) and its signature is verified there again.
 */
import type { FastifyRequest } from 'fastify';
import type { JobPeers } from '../jobs/jobs-plugin';
import type { ClusterNode } from './cluster-node';
import type { MemberInfo } from './membership';
import type { PeerClient } from './peer-client';

interface PeerAnswer {
  status: number;
  body: unknown;
}

const ASK_TIMEOUT_MS = 5000;
/** Headers of the client's request passed on: what its signature covers. */
const PASSED = /^(host|authorization|x-amz-.*|content-type)$/;

export class ClusterJobPeers implements JobPeers {
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
          const response = await this.peers.request(member, 'job-ask', { method: request.method as 'GET', path: rawUrl, headers, requestId: String(request.id) }, AbortSignal.timeout(ASK_TIMEOUT_MS));
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

  /** The answer of the member that has the job (GET or DELETE of /jobs/:id), if any. @public JobsElsewhere (jobs-plugin.ts). */
  async find(request: FastifyRequest): Promise<PeerAnswer | undefined> {
    const answers = await this.ask(request, this.others());
    return answers.find((a) => a.status !== 404);
  }

  /** The answer of one member (the holder of a job's lease); undefined when it cannot be reached. @public JobsElsewhere. */
  async askNode(request: FastifyRequest, nodeId: string): Promise<PeerAnswer | undefined> {
    const member = this.node.member(nodeId);
    if (!member || member.id === this.node.self.id) return undefined;
    const [answer] = await this.ask(request, [member]);
    return answer;
  }
}
