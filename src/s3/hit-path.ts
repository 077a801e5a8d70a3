/**
 * The warm-hit path: a GET or HEAD of an object this node owns, whose metadata is fresh in memory
 * and whose first page is resident, answered straight from Node's request and response objects,
 * before fastify builds its request and reply. A warm hit is then what it should be: parse the
 * target, verify the signature (cached signing key), look up the metadata and the page Buffers,
 * write the headers and the bytes.
 *
 * Everything that is not such a hit is declined (false) and fastify serves it as usual: errors
 * of any kind (they are rendered by the one S3 error path), misses, conditional requests that do
 * not pass, requests forwarded by peers or owned by another node, bodies. What was resolved before
 * declining (endpoint, signature) is kept on the request (RequestResolver), not done twice. The
 * answer is the one the fastify handler would give: both send `planRead`'s status and headers,
 * and count the same metrics.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Metrics } from '../admin/metrics';
import type { CounterCell } from '../admin/metric-cells';
import { planRead, type ReadPlan } from './read-plan';
import type { RequestResolver } from './resolve-request';
import { newRequestId } from './request-id';
import { unsupportedHeader } from './unsupported-headers';
import { objectAclAllows } from './acl/acl-access';
import { corsResponseHeaders } from './cors/cors-response';
import { hasHopMarker } from '../cluster/peer-auth';

interface HitPathOptions {
  resolver: RequestResolver;
  metrics: Metrics;
  /** Whether this node is the agreed owner of the key now (one node by itself owns everything). */
  ownsKey(bucket: string, key: string): boolean;
  /** The ring version every response carries (x-ringcache-ring). */
  ringVersion(): string;
  /** URL prefix of the admin routes, never an object. */
  adminPrefix: string;
  /** Per-request debug line, when the log level asks for it. */
  debug?: (fields: object, message: string) => void;
  warn: (fields: object, message: string) => void;
}

export class HitPath {
  /** The request counter's cells by operation and status, bound once (no label string per request). */
  private readonly requestCells = new Map<string, Map<number, CounterCell>>();

  constructor(private readonly options: HitPathOptions) {}

  private requestCell(op: string, status: number): CounterCell {
    let byStatus = this.requestCells.get(op);
    if (byStatus === undefined) this.requestCells.set(op, (byStatus = new Map()));
    let cell = byStatus.get(status);
    if (cell === undefined) byStatus.set(status, (cell = this.options.metrics.requestCells.cell(op, String(status))));
    return cell;
  }

  /** Answers the request if it is a warm hit; false (nothing sent) hands it to fastify. */
  tryServe(req: IncomingMessage, res: ServerResponse): boolean {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const headers = req.headers;
    if (req.url === undefined || req.url.startsWith(this.options.adminPrefix)) return false;
    if ((headers['content-length'] !== undefined && headers['content-length'] !== '0') || headers['transfer-encoding'] !== undefined) return false;
    if (hasHopMarker(headers)) return false;
    const started = performance.now();
    const { resolver } = this.options;
    let identified;
    try {
      identified = resolver.identify(req);
    } catch {
      return false; // rendered as an S3 error by fastify
    }
    const { endpoint } = identified;
    if (endpoint.op !== 'GetObject' && endpoint.op !== 'HeadObject') return false;
    if (unsupportedHeader(headers) !== undefined || !this.options.ownsKey(endpoint.bucket, endpoint.key)) return false;
    const authorized = resolver.peekAuthorized(identified);
    const cache = authorized?.bucket.cache;
    const info = cache?.fresh(endpoint.key, false);
    // An object only its own ACL lets the requester read: that ACL is in the cached metadata.
    if (!cache || !info || !objectAclAllows(authorized.access, info)) return false;
    // A cross-origin request gets its bucket's Access-Control-* headers: known here, or fastify asks the store.
    let cors: string[] | undefined;
    const origin = headers.origin;
    if (origin !== undefined) {
      const settings = resolver.settings.peek(authorized.bucket);
      if (!settings) return false;
      cors = corsResponseHeaders(settings, origin, method);
    }
    let plan: ReadPlan;
    try {
      plan = planRead({ op: endpoint.op, partNumber: endpoint.partNumber, query: endpoint.query, headers, signed: identified.auth.kind === 'signed' }, info);
    } catch {
      return false; // 304, 412, 416, a bad override: fastify answers
    }
    let body: Buffer | Readable | undefined;
    if (plan.range) {
      body = cache.readResident(endpoint.key, info, plan.range);
      if (body === undefined) return false;
    }
    this.options.metrics.metadataLookupCells.cell('fresh').add();
    if (cors) for (let i = 0; i < cors.length; i++) plan.headers.push(cors[i]);
    this.send(req, res, endpoint.op, plan, body, started);
    return true;
  }

  private send(req: IncomingMessage, res: ServerResponse, op: string, plan: ReadPlan, body: Buffer | Readable | undefined, started: number): void {
    const { metrics } = this.options;
    const id = newRequestId();
    const headers = ['x-amz-request-id', id, 'x-amz-id-2', id, 'server', 'Ringcache', 'x-ringcache-ring', this.options.ringVersion()];
    for (let i = 0; i < plan.headers.length; i++) headers.push(plan.headers[i]);
    res.writeHead(plan.status, headers);
    if (body === undefined || Buffer.isBuffer(body)) {
      // Handed to the socket in one write: the response is complete as far as this node goes.
      if (body) metrics.bytesCells.cell('GetObject', 'out').add(body.length);
      res.end(body);
      this.done(id, op, plan.status, started);
      return;
    }
    // pipeline: backpressure both ways; a client that leaves destroys the page stream, a page
    // that fails after the headers destroys the response (the client sees a cut, never a short object).
    pipeline(body, res, (err) => {
      if (err) {
        if (!req.destroyed) this.options.warn({ err, op }, 'response failed after headers were sent');
        return;
      }
      metrics.bytesCells.cell('GetObject', 'out').add(plan.length);
      this.done(id, op, plan.status, started);
    });
  }

  private done(id: string, op: string, status: number, started: number): void {
    const { metrics } = this.options;
    this.requestCell(op, status).add();
    metrics.warmHitCells.cell(op).add();
    const ms = performance.now() - started;
    metrics.observeDuration(op, ms / 1000);
    this.options.debug?.({ reqId: id, op, status, ms: Math.round(ms), hit: true }, 'request');
  }
}
